// tracebuf/fence_membarrier.hpp - the asymmetric idle-fence policy, on membarrier(2).
//
// With it, idle() is a plain store and a load: no locked instruction, so a host that marks
// its threads idle after every callback (QEMU) no longer drains the store buffer - full of
// the record it just wrote - twice per callback. The flusher pays instead: one
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) per flush that has to wait for a thread,
// which makes every running thread of the process execute a full barrier (an interrupt per
// core running one, a few microseconds) and lets the others be (a context switch is a
// barrier). The contract: policies.hpp.
//
// The process registers for the command on the first call to asymmetric(). Without it
// (Linux before 4.14, or a seccomp filter that refuses the call) asymmetric() returns false
// and the protocol uses the symmetric form: slower, equally correct.
//
// Needs Linux and libc's syscall(): not freestanding.
#ifndef TRACEBUF_FENCE_MEMBARRIER_HPP
#define TRACEBUF_FENCE_MEMBARRIER_HPP

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace tracebuf {

struct membarrier_fence {
    static bool asymmetric() noexcept {
        static const bool registered = register_process(); // thread-safe, once
        return registered;
    }

    static void light() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

    static void heavy() noexcept {
        // Cannot fail once registered. If it did anyway, going on would risk a flusher asleep
        // forever (I9), so stop here, visibly.
        if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
            __builtin_trap();
    }

private:
    static bool register_process() noexcept {
        const long commands = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (commands < 0 || (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
        return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    }
};

} // namespace tracebuf

#endif // TRACEBUF_FENCE_MEMBARRIER_HPP
