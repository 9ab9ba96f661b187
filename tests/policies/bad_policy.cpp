// One policy with one member missing, per BAD_POLICY value; check_policy_errors.cmake
// compiles each and expects the compiler to print the contract's message (policies.hpp).
#include <tracebuf/tracebuf.hpp>

namespace {

#if BAD_POLICY == 1 // an atomics policy without fence()
struct atomics : tracebuf::std_atomics {
    static void fence() noexcept {}
};
struct traits : tracebuf::traits_base {
    using atomics = ::atomics;
    using wait = tracebuf::futex_wait;
};
using buffer = tracebuf::trace_buffer<traits, tracebuf::memory_sink>;
#elif BAD_POLICY == 2 // a wait policy without notify_all()
struct wait {
    static constexpr bool serialized_host = false;
    template <class Word> static void wait(Word&, std::uint32_t) noexcept {}
};
struct traits : tracebuf::traits_base {
    using atomics = tracebuf::std_atomics;
    using wait = ::wait;
};
using buffer = tracebuf::trace_buffer<traits, tracebuf::memory_sink>;
#elif BAD_POLICY == 3 // a wait policy that does not say whether the host is serialized
struct wait {};
struct traits : tracebuf::traits_base {
    using atomics = tracebuf::std_atomics;
    using wait = ::wait;
};
using buffer = tracebuf::trace_buffer<traits, tracebuf::memory_sink>;
#elif BAD_POLICY == 4 // a sink whose write has the wrong signature
struct sink {
    void write(const char*) noexcept {}
};
using buffer = tracebuf::trace_buffer<tracebuf::default_traits, sink>;
#elif BAD_POLICY == 5 // an idle-fence policy without heavy()
struct fence {
    static bool asymmetric() noexcept { return true; }
    static void light() noexcept {}
};
struct traits : tracebuf::default_traits {
    static constexpr std::uint32_t idle_slots = 4;
    using idle_fence = fence;
};
using buffer = tracebuf::trace_buffer<traits, tracebuf::memory_sink>;
#elif BAD_POLICY == 6 // an atomics policy whose atomics need a lock
struct big {
    std::uint64_t a, b, c;
};
struct atomics : tracebuf::std_atomics {
    template <class T> struct atomic : std::atomic<T> {
        using std::atomic<T>::atomic;
        static constexpr bool is_always_lock_free = false;
    };
};
struct traits : tracebuf::traits_base {
    using atomics = ::atomics;
    using wait = tracebuf::futex_wait;
};
using buffer = tracebuf::trace_buffer<traits, tracebuf::memory_sink>;
#else
// The control: every policy complete, it compiles.
using buffer = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::memory_sink>;
#endif

} // namespace

std::size_t instantiate() { return sizeof(buffer); }
