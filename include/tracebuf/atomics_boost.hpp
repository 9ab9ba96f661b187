// tracebuf/atomics_boost.hpp - the Boost.Atomic atomics policy (the default).
//
// An atomics policy bundles what the protocol needs from an atomics library, because the
// pieces do not mix across libraries (boost::memory_order is not std::memory_order):
//
//   template <class T> using atomic = ...;   // load/store/fetch_add/fetch_sub/exchange/
//                                            // compare_exchange_weak, std::atomic's signatures
//   using memory_order = ...;
//   static constexpr memory_order relaxed, acquire, release, acq_rel, seq_cst;
//   static void fence(memory_order) noexcept;
//
// Every atomic the core instantiates (32- and 64-bit unsigned) must be always lock-free:
// a lock-based fallback would need libatomic, which Valgrind tools cannot link.
//
// Boost 1.81's operations are inline assembly, invisible to ThreadSanitizer: TSan builds use
// atomics_std.hpp instead. Freestanding.
#ifndef TRACEBUF_ATOMICS_BOOST_HPP
#define TRACEBUF_ATOMICS_BOOST_HPP

#include <cstdint>

#include <boost/atomic/atomic.hpp>
#include <boost/atomic/fences.hpp>
#include <boost/memory_order.hpp>

namespace tracebuf {

struct boost_atomics {
    template <class T>
    using atomic = boost::atomic<T>;
    using memory_order = boost::memory_order;

    static constexpr memory_order relaxed = boost::memory_order_relaxed;
    static constexpr memory_order acquire = boost::memory_order_acquire;
    static constexpr memory_order release = boost::memory_order_release;
    static constexpr memory_order acq_rel = boost::memory_order_acq_rel;
    static constexpr memory_order seq_cst = boost::memory_order_seq_cst;

    static void fence(memory_order order) noexcept { boost::atomic_thread_fence(order); }
};

static_assert(boost::atomic<std::uint32_t>::is_always_lock_free, "needs lock-free 32-bit atomics");
static_assert(boost::atomic<std::uint64_t>::is_always_lock_free, "needs lock-free 64-bit atomics");

} // namespace tracebuf

#endif // TRACEBUF_ATOMICS_BOOST_HPP
