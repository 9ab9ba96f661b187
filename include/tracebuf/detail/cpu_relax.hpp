// tracebuf/detail/cpu_relax.hpp - the spin-loop hint. Freestanding.
#ifndef TRACEBUF_DETAIL_CPU_RELAX_HPP
#define TRACEBUF_DETAIL_CPU_RELAX_HPP

#include <tracebuf/detail/config.hpp>

namespace tracebuf {
namespace detail {

TRACEBUF_FORCEINLINE void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield"
                         :
                         :
                         : "memory");
#else
    __atomic_signal_fence(__ATOMIC_SEQ_CST); // a compiler barrier
#endif
}

} // namespace detail
} // namespace tracebuf

#endif // TRACEBUF_DETAIL_CPU_RELAX_HPP
