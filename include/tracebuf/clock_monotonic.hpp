// tracebuf/clock_monotonic.hpp - CLOCK_MONOTONIC as ordered mode's clock: the portable
// fallback where there is no usable cycle counter.
//
// The contract: policies.hpp. Nanoseconds from clock_gettime, which the kernel serves from
// the vDSO without a system call. The kernel reads the counter in order with earlier loads
// (x86: lfence or rdtscp before rdtsc; arm64: isb before the counter read), so ordered()
// and relaxed() are the same call; it costs about 26 ns here (../shared/platform/clocks.md).
// The kernel makes the clock monotonic across CPUs; ordered mode checks it anyway
// (clock_check.hpp).
//
// Needs clock_gettime (libc): not freestanding.
#ifndef TRACEBUF_CLOCK_MONOTONIC_HPP
#define TRACEBUF_CLOCK_MONOTONIC_HPP

#include <time.h>

#include <cstdint>

namespace tracebuf {

struct monotonic_clock {
    static constexpr const char* name = "CLOCK_MONOTONIC";

    static std::uint64_t ordered() noexcept {
        timespec ts;
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
    }
    static std::uint64_t relaxed() noexcept { return ordered(); }
};

} // namespace tracebuf

#endif // TRACEBUF_CLOCK_MONOTONIC_HPP
