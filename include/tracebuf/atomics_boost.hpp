// tracebuf/atomics_boost.hpp - the Boost.Atomic atomics policy (the default).
//
// An atomics policy bundles what the protocol needs from an atomics library (the contract:
// policies.hpp).
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

} // namespace tracebuf

#endif // TRACEBUF_ATOMICS_BOOST_HPP
