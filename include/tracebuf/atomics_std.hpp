// tracebuf/atomics_std.hpp - the std::atomic atomics policy.
//
// The contract: policies.hpp. Use it under ThreadSanitizer, which
// understands std::atomic but not Boost 1.81's inline assembly, or where Boost is not wanted.
// Freestanding (<atomic> is a freestanding header).
#ifndef TRACEBUF_ATOMICS_STD_HPP
#define TRACEBUF_ATOMICS_STD_HPP

#include <atomic>
#include <cstdint>

namespace tracebuf {

struct std_atomics {
    template <class T>
    using atomic = std::atomic<T>;
    using memory_order = std::memory_order;

    static constexpr memory_order relaxed = std::memory_order_relaxed;
    static constexpr memory_order acquire = std::memory_order_acquire;
    static constexpr memory_order release = std::memory_order_release;
    static constexpr memory_order acq_rel = std::memory_order_acq_rel;
    static constexpr memory_order seq_cst = std::memory_order_seq_cst;

    static void fence(memory_order order) noexcept { std::atomic_thread_fence(order); }
};

} // namespace tracebuf

#endif // TRACEBUF_ATOMICS_STD_HPP
