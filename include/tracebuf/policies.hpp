// tracebuf/policies.hpp - what each policy a host plugs into tracebuf must provide, stated
// once and checked where the policy is used.
//
// Requirements (each checked by a static_assert whose message names the missing member):
//
// Atomics policy (Traits::atomics; atomics_boost.hpp, atomics_std.hpp):
//   template <class T> using atomic = ...;  // for T = std::uint32_t and std::uint64_t:
//       load(order), store(v, order), fetch_add/fetch_sub/fetch_or/fetch_and(v, order),
//       exchange(v, order), compare_exchange_weak/strong(expected, desired, success,
//       failure), with std::atomic's meaning; constexpr-constructible from a value;
//       is_always_lock_free (a lock-based fallback would need libatomic, which a Valgrind
//       tool cannot link)
//   using memory_order = ...;             // the library's own order type
//   static constexpr memory_order relaxed, acquire, release, acq_rel, seq_cst;
//   static void fence(memory_order) noexcept;
//   One struct bundles them because they do not mix across libraries:
//   boost::memory_order is not std::memory_order.
//
// Wait policy (Traits::wait; wait_futex.hpp, wait_spin.hpp, wait_serialized.hpp):
//   static constexpr bool serialized_host;   // true: one thread runs at a time (Valgrind)
//   unless serialized_host:
//   template <class Word> static void wait(Word& w, std::uint32_t old) noexcept;
//       // returns once w may differ from old; spurious returns allowed: the protocol
//       // re-reads the word after every return, and the ordering comes from the atomic
//       // operation that finally decides (docs/protocol.md), never from the wait
//   template <class Word> static void notify_all(Word& w) noexcept;
//       // wakes every thread blocked in wait(w, ...)
//   `Word` is the atomics policy's atomic<std::uint32_t>.
//
// Idle-fence policy (Traits::idle_fence; fence_symmetric.hpp, fence_membarrier.hpp),
// used only with Traits::idle_slots > 0:
//   static bool asymmetric() noexcept;   // same value on every call in a process
//   static void light() noexcept;        // producer's side of the Dekker pair (asymmetric)
//   static void heavy() noexcept;        // flusher's side: a full barrier on every running
//                                        // thread of the process (asymmetric)
//
// Sink (the Sink parameter of trace_buffer; sink_*.hpp):
//   int write(const void* data, std::size_t size) noexcept;
//       // 0, or a positive errno-style code; called by one flusher at a time, size > 0,
//       // size a multiple of 8 (whole records). The sink must write everything or report
//       // an error: short writes are its own business. The barrier keeps the first error
//       // and goes on handing the sink every flush; what the sink does with them after an
//       // error is its own choice (the fd sinks write nothing more: sink_fd.hpp).
//   optional: bool leaves_zeroed() const noexcept;
//       // asked after each write(): true if the sink left the written range zero-filled
//       // itself (file_window.hpp maps fresh file space there), so that the barrier skips
//       // Traits::zero_after_flush's memset. Without the member: false.
//
// Clock (Traits::clock, ordered mode; clock_*.hpp):
//   static std::uint64_t ordered() noexcept;  // a stamp read after every earlier load of
//                                             // the calling thread has completed
//   static std::uint64_t relaxed() noexcept;  // a stamp that may be read early
//   static constexpr const char* name;        // for messages
//   Stamps of one clock are comparable across every thread of the process: the ordered
//   mode checks this before it starts (clock_check.hpp) and refuses a clock that fails.
//
// Freestanding.
#ifndef TRACEBUF_POLICIES_HPP
#define TRACEBUF_POLICIES_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace tracebuf {
namespace detail {

// One detector per member, so that each requirement has its own message.
template <class, class = void> struct has_atomic_template : std::false_type {};
template <class A>
struct has_atomic_template<A, std::void_t<typename A::template atomic<std::uint32_t>,
                                          typename A::template atomic<std::uint64_t>>> : std::true_type {};

template <class, class = void> struct has_memory_order : std::false_type {};
template <class A> struct has_memory_order<A, std::void_t<typename A::memory_order>> : std::true_type {};

template <class, class = void> struct has_order_constants : std::false_type {};
template <class A>
struct has_order_constants<A, std::void_t<decltype(A::relaxed), decltype(A::acquire), decltype(A::release),
                                          decltype(A::acq_rel), decltype(A::seq_cst)>> : std::true_type {};

template <class, class = void> struct has_fence : std::false_type {};
template <class A>
struct has_fence<A, std::void_t<decltype(A::fence(A::seq_cst))>> : std::true_type {};

// The operations the protocol performs on one atomic word type.
template <class A, class T, class = void> struct has_atomic_operations : std::false_type {};
template <class A, class T>
struct has_atomic_operations<
    A, T,
    std::void_t<decltype(std::declval<typename A::template atomic<T>&>().load(A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().store(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().fetch_add(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().fetch_sub(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().fetch_or(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().fetch_and(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().exchange(T{}, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().compare_exchange_weak(
                    std::declval<T&>(), T{}, A::relaxed, A::relaxed)),
                decltype(std::declval<typename A::template atomic<T>&>().compare_exchange_strong(
                    std::declval<T&>(), T{}, A::relaxed, A::relaxed))>> : std::true_type {};

template <class A, class T>
constexpr bool always_lock_free() noexcept {
    if constexpr (has_atomic_template<A>::value) return A::template atomic<T>::is_always_lock_free;
    return false;
}

template <class, class = void> struct has_serialized_host : std::false_type {};
template <class W>
struct has_serialized_host<W, std::void_t<decltype(bool{W::serialized_host})>> : std::true_type {};

template <class W, class Word, class = void> struct has_wait : std::false_type {};
template <class W, class Word>
struct has_wait<W, Word, std::void_t<decltype(W::wait(std::declval<Word&>(), std::uint32_t{}))>>
    : std::true_type {};

template <class W, class Word, class = void> struct has_notify_all : std::false_type {};
template <class W, class Word>
struct has_notify_all<W, Word, std::void_t<decltype(W::notify_all(std::declval<Word&>()))>> : std::true_type {};

template <class, class = void> struct has_fence_members : std::false_type {};
template <class F>
struct has_fence_members<F, std::void_t<decltype(bool{F::asymmetric()}), decltype(F::light()),
                                        decltype(F::heavy())>> : std::true_type {};

template <class S, class = void> struct has_sink_write : std::false_type {};
template <class S>
struct has_sink_write<S, std::void_t<decltype(int{std::declval<S&>().write(
                             static_cast<const void*>(nullptr), std::size_t{})})>> : std::true_type {};

template <class S, class = void> struct has_leaves_zeroed : std::false_type {};
template <class S>
struct has_leaves_zeroed<S, std::void_t<decltype(bool{std::declval<const S&>().leaves_zeroed()})>> : std::true_type {};

/// Whether the sink zero-filled what it just wrote (the optional leaves_zeroed member).
template <class S>
constexpr bool sink_leaves_zeroed(const S& sink) noexcept {
    if constexpr (has_leaves_zeroed<S>::value) return sink.leaves_zeroed();
    else return false;
}

template <class, class = void> struct has_clock_members : std::false_type {};
template <class C>
struct has_clock_members<C, std::void_t<decltype(std::uint64_t{C::ordered()}), decltype(std::uint64_t{C::relaxed()}),
                                        decltype(static_cast<const char*>(C::name))>> : std::true_type {};

// ---- The checks, one per policy kind: called where the policy is used --------------------

template <class A>
constexpr bool check_atomics_policy() noexcept {
    static_assert(has_atomic_template<A>::value,
                  "tracebuf: an atomics policy needs `template <class T> using atomic = ...;` (policies.hpp)");
    static_assert(has_memory_order<A>::value,
                  "tracebuf: an atomics policy needs `using memory_order = ...;` (policies.hpp)");
    static_assert(has_order_constants<A>::value,
                  "tracebuf: an atomics policy needs the constants relaxed, acquire, release, acq_rel and "
                  "seq_cst (policies.hpp)");
    static_assert(has_fence<A>::value,
                  "tracebuf: an atomics policy needs `static void fence(memory_order) noexcept;` (policies.hpp)");
    static_assert(has_atomic_operations<A, std::uint32_t>::value && has_atomic_operations<A, std::uint64_t>::value,
                  "tracebuf: an atomics policy's atomic<T> needs load, store, fetch_add, fetch_sub, fetch_or, "
                  "fetch_and, exchange, compare_exchange_weak and compare_exchange_strong with std::atomic's "
                  "signatures (policies.hpp)");
    static_assert(always_lock_free<A, std::uint32_t>() && always_lock_free<A, std::uint64_t>(),
                  "tracebuf: an atomics policy's 32- and 64-bit atomics must be always lock-free (policies.hpp)");
    return true;
}

template <class W, class A>
constexpr bool check_wait_policy() noexcept {
    static_assert(has_serialized_host<W>::value,
                  "tracebuf: a wait policy needs `static constexpr bool serialized_host;` (policies.hpp)");
    if constexpr (has_serialized_host<W>::value && has_atomic_template<A>::value) {
        if constexpr (!W::serialized_host) {
            using word = typename A::template atomic<std::uint32_t>;
            static_assert(has_wait<W, word>::value,
                          "tracebuf: a wait policy needs `template <class Word> static void wait(Word&, "
                          "std::uint32_t old) noexcept;` (policies.hpp)");
            static_assert(has_notify_all<W, word>::value,
                          "tracebuf: a wait policy needs `template <class Word> static void notify_all(Word&) "
                          "noexcept;` (policies.hpp)");
        }
    }
    return true;
}

template <class F>
constexpr bool check_idle_fence_policy() noexcept {
    static_assert(has_fence_members<F>::value,
                  "tracebuf: an idle-fence policy needs static asymmetric(), light() and heavy() (policies.hpp)");
    return true;
}

template <class S>
constexpr bool check_sink() noexcept {
    static_assert(has_sink_write<S>::value,
                  "tracebuf: a sink needs `int write(const void* data, std::size_t size) noexcept;` (policies.hpp)");
    return true;
}

template <class C>
constexpr bool check_clock_policy() noexcept {
    static_assert(has_clock_members<C>::value,
                  "tracebuf: a clock policy needs static std::uint64_t ordered(), static std::uint64_t relaxed() "
                  "and static constexpr const char* name (policies.hpp)");
    return true;
}

} // namespace detail

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
// The same requirements as concepts, for hosts that constrain their own templates on them.
template <class A>
concept atomics_policy = detail::has_atomic_template<A>::value && detail::has_memory_order<A>::value &&
    detail::has_order_constants<A>::value && detail::has_fence<A>::value &&
    detail::has_atomic_operations<A, std::uint32_t>::value &&
    detail::has_atomic_operations<A, std::uint64_t>::value &&
    detail::always_lock_free<A, std::uint32_t>() &&
    detail::always_lock_free<A, std::uint64_t>();
template <class W, class A>
concept wait_policy = detail::has_serialized_host<W>::value &&
    (W::serialized_host ||
     (detail::has_wait<W, typename A::template atomic<std::uint32_t>>::value &&
      detail::has_notify_all<W, typename A::template atomic<std::uint32_t>>::value));
template <class F>
concept idle_fence_policy = detail::has_fence_members<F>::value;
template <class S>
concept sink_policy = detail::has_sink_write<S>::value;
template <class C>
concept clock_policy = detail::has_clock_members<C>::value;
#endif

} // namespace tracebuf

#endif // TRACEBUF_POLICIES_HPP
