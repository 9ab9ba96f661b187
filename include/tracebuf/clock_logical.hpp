// tracebuf/clock_logical.hpp - a logical clock for ordered mode: one shared counter.
//
// The contract: policies.hpp. Every stamp is a seq_cst fetch_add on one process-wide
// counter, so stamps are unique and consistent with happens-before by construction (two
// RMWs on one atomic that happen-before each other are in that order in its modification
// order) - no property of the hardware is assumed, and no two stamps tie. It costs what
// record mode costs: one contended cache line per stamp. For tests, and for checking the
// merge against a clock that cannot be wrong.
// Freestanding (with a freestanding atomics policy).
#ifndef TRACEBUF_CLOCK_LOGICAL_HPP
#define TRACEBUF_CLOCK_LOGICAL_HPP

#include <cstdint>

namespace tracebuf {

template <class Atomics>
struct logical_clock {
    static constexpr const char* name = "a logical clock (one shared counter)";

    static std::uint64_t ordered() noexcept {
        // seq_cst: the stamps of all threads form one order that contains happens-before.
        return counter.fetch_add(1, Atomics::seq_cst) + 1;
    }
    static std::uint64_t relaxed() noexcept { return ordered(); }

    // Constant-initialised: no constructor runs (freestanding hosts run none).
    static inline typename Atomics::template atomic<std::uint64_t> counter{0};
};

} // namespace tracebuf

#endif // TRACEBUF_CLOCK_LOGICAL_HPP
