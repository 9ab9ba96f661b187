// Traits combinations the tests run every component under.
#ifndef TRACEBUF_TESTS_TEST_TRAITS_HPP
#define TRACEBUF_TESTS_TEST_TRAITS_HPP

#include <tuple>

#include <tracebuf/tracebuf.hpp>
#include <tracebuf/wait_serialized.hpp>

namespace tracebuf_test {

#if defined(TRACEBUF_TSAN)
// ThreadSanitizer cannot see Boost 1.81's inline-assembly atomics: every TSan run uses
// std::atomic, so that a data race in the protocol cannot hide behind them.
using parallel_atomics = tracebuf::std_atomics;
#else
using parallel_atomics = tracebuf::boost_atomics;
#endif

template <class Atomics, class Wait>
struct traits : tracebuf::traits_base {
    using atomics = Atomics;
    using wait = Wait;
};

using boost_futex = traits<parallel_atomics, tracebuf::futex_wait>;
// The idle protocol's asymmetric form (default_traits' choice): idle() without a locked
// instruction, membarrier on the flusher's side.
struct boost_futex_membarrier : boost_futex {
    using idle_fence = tracebuf::membarrier_fence;
};
using std_futex = traits<tracebuf::std_atomics, tracebuf::futex_wait>;
using boost_spin = traits<parallel_atomics, tracebuf::spin_yield_wait>;
using std_serialized = traits<tracebuf::std_atomics, tracebuf::serialized_host_wait>;

// A sanitized build runs some tests' repetitions fewer times (never their checks): under
// ThreadSanitizer every access costs several times more.
#if defined(__has_feature)
#define TRACEBUF_TEST_HAS_SANITIZER (__has_feature(thread_sanitizer) || __has_feature(address_sanitizer))
#else
#define TRACEBUF_TEST_HAS_SANITIZER 0
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || TRACEBUF_TEST_HAS_SANITIZER
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif

#if defined(TRACEBUF_TSAN)
using parallel_traits = std::tuple<std_futex, boost_spin>; // boost_futex is std_futex here
#else
using parallel_traits = std::tuple<boost_futex, std_futex, boost_spin>;
#endif

} // namespace tracebuf_test

#endif
