// tracebuf/clock_check.hpp - the check that ordered mode's clock is consistent across
// threads, run before the mode starts: the clock is checked, never assumed.
//
// Two threads, each pinned to its own CPU (CPU 0 with each other CPU in turn, as far as the
// process may run there), hand a token back and forth. On its turn a thread reads
// Clock::ordered() and compares it with the stamp the other thread read on the turn before:
// a token passed from one thread to the other is a happens-before edge, so a smaller stamp
// is a clock that steps back across CPUs - exactly what would put a record before one that
// happened before it.
//
// What passing proves: on this machine, for these CPU pairs, during the check, no backward
// step was seen between two reads ordered by a cache-line handoff (about 60-100 ns apart).
// What it does not: that the counters stay in step later (a VM migrated to another host,
// a CPU that changes frequency without an invariant TSC), or that two reads closer together
// than a handoff are ordered - which the merge never needs, since any two events related by
// happens-before are at least one handoff apart. docs/protocol.md, "Ordered mode".
//
// Hosted: it starts two threads (std::thread), at the host's request.
#ifndef TRACEBUF_CLOCK_CHECK_HPP
#define TRACEBUF_CLOCK_CHECK_HPP

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <tracebuf/errc.hpp>
#include <tracebuf/policies.hpp>

namespace tracebuf {

struct clock_check_result {
    std::uint64_t handoffs = 0;       ///< stamps compared across threads
    std::uint64_t backward_steps = 0; ///< of which the later stamp was smaller
    std::uint64_t largest_step_back = 0;
    unsigned cpu_pairs = 0; ///< CPU pairs checked (0: the threads could not be pinned)
    const char* clock_name = "";

    errc status() const noexcept { return backward_steps == 0 && handoffs != 0 ? errc::ok : errc::bad_clock; }
    /// A sentence for the host to print; names record mode as the way out.
    std::string message() const {
        if (status() == errc::ok)
            return std::string(clock_name) + ": no backward step in " + std::to_string(handoffs) +
                   " handoffs between threads (" + std::to_string(cpu_pairs) + " CPU pairs)";
        return std::string(clock_name) + " stepped back across threads in " + std::to_string(backward_steps) +
               " of " + std::to_string(handoffs) + " handoffs (by up to " + std::to_string(largest_step_back) +
               " ticks): ordered mode needs a clock that agrees across CPUs; use record mode, whose order "
               "needs no clock";
    }
};

namespace detail {

inline std::vector<int> clock_check_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (std::size_t c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(static_cast<int>(c));
    return cpus;
}

inline bool pin_thread_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// One pair: `rounds` turns each, strictly alternating.
template <class Clock>
void check_clock_pair(int cpu_a, int cpu_b, std::uint64_t rounds, clock_check_result& r) {
    std::atomic<std::uint64_t> turn{0};
    std::uint64_t last = 0; // written on a thread's turn, read on the other's: the token orders it
    std::uint64_t back = 0, largest = 0;
    auto side = [&](int cpu, std::uint64_t parity) {
        if (cpu >= 0) pin_thread_to(cpu);
        for (std::uint64_t i = 0; i < rounds; ++i) {
            const std::uint64_t mine = 2 * i + parity;
            unsigned spins = 0;
            // acquire: pairs with the release store below on the other thread - its stamp,
            // and the read of the clock before it, happen before ours.
            while (turn.load(std::memory_order_acquire) != mine)
                if (++spins % 1024 == 0) std::this_thread::yield(); // the other may share our CPU
            const std::uint64_t now = Clock::ordered();
            if (mine != 0 && now < last) {
                ++back;
                if (last - now > largest) largest = last - now;
            }
            last = now;
            turn.store(mine + 1, std::memory_order_release); // pairs with the acquire above
        }
    };
    std::thread a([&] { side(cpu_a, 0); });
    std::thread b([&] { side(cpu_b, 1); });
    a.join();
    b.join();
    r.handoffs += 2 * rounds - 1;
    r.backward_steps += back;
    if (largest > r.largest_step_back) r.largest_step_back = largest;
}

} // namespace detail

/// Runs the check for Clock with `rounds` turns per thread and CPU pair (100,000 take a few
/// tens of milliseconds when the two CPUs are free).
template <class Clock>
clock_check_result check_clock(std::uint64_t rounds = 100000) {
    static_assert(detail::check_clock_policy<Clock>());
    clock_check_result r;
    r.clock_name = Clock::name;
    const std::vector<int> cpus = detail::clock_check_cpus();
    if (cpus.size() < 2) {
        detail::check_clock_pair<Clock>(-1, -1, rounds, r); // one CPU: still two threads
        return r;
    }
    for (std::size_t i = 1; i < cpus.size(); ++i) {
        detail::check_clock_pair<Clock>(cpus[0], cpus[i], rounds, r);
        ++r.cpu_pairs;
    }
    return r;
}

} // namespace tracebuf

#endif // TRACEBUF_CLOCK_CHECK_HPP
