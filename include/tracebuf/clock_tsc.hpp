// tracebuf/clock_tsc.hpp - the x86 time-stamp counter as ordered mode's clock (the default
// on x86).
//
// The contract: policies.hpp. ordered() is `lfence; rdtsc`: lfence does not complete until
// every earlier instruction has completed locally, loads included, and rdtsc does not start
// before it - so the stamp is read after the traced load has its value (a bare rdtsc may
// read the counter before an earlier load completes). relaxed() is a bare rdtsc, for events
// that cannot be the acquire side of a synchronisation (stores); ordered_writer clamps every
// stamp to the thread's previous one, which makes an early read harmless there. Both are
// compiler barriers, so no memory access moves across them in the generated code.
//
// Measured here (../shared/platform/clocks.md): lfence+rdtsc 18 ns, rdtsc 11 ns, rdtscp
// 22 ns. Whether the counters of different cores agree is a property of the machine, not
// of this policy: ordered mode checks it before it starts (clock_check.hpp).
// Freestanding.
#ifndef TRACEBUF_CLOCK_TSC_HPP
#define TRACEBUF_CLOCK_TSC_HPP

#include <cstdint>

#include <tracebuf/detail/config.hpp>

namespace tracebuf {

#if defined(__x86_64__) || defined(__i386__)
struct tsc_clock {
    static constexpr const char* name = "the TSC (lfence; rdtsc)";

    static TRACEBUF_FORCEINLINE std::uint64_t ordered() noexcept {
        std::uint32_t lo, hi;
        __asm__ __volatile__("lfence\n\trdtsc"
                             : "=a"(lo), "=d"(hi)
                             :
                             : "memory");
        return (std::uint64_t{hi} << 32) | lo;
    }
    static TRACEBUF_FORCEINLINE std::uint64_t relaxed() noexcept {
        std::uint32_t lo, hi;
        __asm__ __volatile__("rdtsc"
                             : "=a"(lo), "=d"(hi)
                             :
                             : "memory");
        return (std::uint64_t{hi} << 32) | lo;
    }
};
#endif

} // namespace tracebuf

#endif // TRACEBUF_CLOCK_TSC_HPP
