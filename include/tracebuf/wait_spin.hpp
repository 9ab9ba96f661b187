// tracebuf/wait_spin.hpp - a wait policy that never sleeps in the kernel: spin, then yield.
//
// For hosts where a futex is unwanted or unavailable, or where the waiters are expected to be
// woken within microseconds. The contract: policies.hpp. After `spin_limit` pause
// instructions it calls sched_yield() between checks, so an oversubscribed machine still
// makes progress; it burns a core while it waits, which a long flush (slow sink) makes
// visible. notify_all is a no-op: waiters poll.
//
// Needs sched_yield (libc): not freestanding.
#ifndef TRACEBUF_WAIT_SPIN_HPP
#define TRACEBUF_WAIT_SPIN_HPP

#include <sched.h>

#include <cstdint>

#include <tracebuf/detail/cpu_relax.hpp>

namespace tracebuf {

template <unsigned SpinLimit = 256>
struct basic_spin_yield_wait {
    static constexpr bool serialized_host = false;
    static constexpr unsigned spin_limit = SpinLimit;

    template <class Word>
    static void wait(Word& word, std::uint32_t old) noexcept {
        for (unsigned i = 0; i < spin_limit; ++i) {
            if (word.load() != old) return; // order not relied upon, see wait_futex.hpp
            detail::cpu_relax();
        }
        while (word.load() == old) ::sched_yield();
    }

    template <class Word>
    static void notify_all(Word&) noexcept {}
};

using spin_yield_wait = basic_spin_yield_wait<>;

} // namespace tracebuf

#endif // TRACEBUF_WAIT_SPIN_HPP
