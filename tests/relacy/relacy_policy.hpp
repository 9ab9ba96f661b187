// tests/relacy/relacy_policy.hpp - tracebuf's atomics and wait policies on Relacy.
//
// Relacy (relacy-dev) runs a test's threads as fibers of one OS thread and chooses, at every
// atomic operation, which thread runs next and which value in the modification order a load
// may still read, under the C++ memory model. The core is used unchanged: it reaches Relacy
// only through its Traits (docs/protocol.md, "Relacy").
//
//   relacy_atomics   Traits::atomics: atomic<T> wraps rl::atomic<T>; every operation passes
//                    Relacy the core's own call site (GCC's __builtin_FILE/LINE as default
//                    arguments), so a reported history names quiescence.hpp:404, not this file.
//   relacy_futex     Traits::wait: a futex modelled with Relacy's park/unpark (the layer
//                    under its own futex). wait() sleeps only if the word's latest value
//                    still equals `old`; notify_all() wakes the sleepers. Neither orders
//                    memory (the protocol re-reads the word with acquire after every wait), so
//                    a missing edge elsewhere is not hidden by the wait; and a wake-up that
//                    never comes leaves the sleeper parked, which Relacy reports as a deadlock
//                    once no thread can run. (Relacy's rl_futex takes atomic<int> only, and
//                    gives every wake-up a seq_cst fence and a waker-to-sleeper edge: exactly
//                    what could hide a missing edge in tracebuf.)
//   symmetric_fence  Traits::idle_fence: the seq_cst form of the idle Dekker pair. Relacy
//                    cannot model membarrier_fence: heavy() must run a barrier on *other*
//                    threads, which no Relacy primitive does.
//
// Include this header before anything else of Relacy's, and after the core headers: Relacy's
// relacy.hpp defines macros (new, delete, assert, memory_order_relaxed, ...) that must not
// reach code parsed after it; the allocation ones are undefined below (the tests allocate
// nothing; assert stays Relacy's).
#ifndef TRACEBUF_TESTS_RELACY_POLICY_HPP
#define TRACEBUF_TESTS_RELACY_POLICY_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

#include <tracebuf/chunk_writer.hpp>
#include <tracebuf/fence_symmetric.hpp>
#include <tracebuf/trace_buffer.hpp>
#include <tracebuf/traits.hpp>

#include <relacy/relacy.hpp>

#undef new
#undef delete
#undef malloc
#undef calloc
#undef realloc
#undef free

namespace tracebuf_relacy {

constexpr const char* base_name(const char* path) noexcept {
    const char* base = path;
    for (const char* p = path; *p != '\0'; ++p)
        if (*p == '/') base = p + 1;
    return base;
}

} // namespace tracebuf_relacy

// The caller's location, as a default argument: GCC evaluates __builtin_FILE/LINE/FUNCTION
// there at the call site.
#define TRACEBUF_RL_CALLER                                                                 \
    ::rl::debug_info(__builtin_FUNCTION(), ::tracebuf_relacy::base_name(__builtin_FILE()), \
                     static_cast<unsigned>(__builtin_LINE()))

namespace tracebuf_relacy {

// std::atomic's member signatures (the ones the core uses) over an rl::atomic<T>.
template <class T>
class atomic_word {
public:
    static constexpr bool is_always_lock_free = true; // a simulation: no locks anywhere

    atomic_word(T initial) : a_(initial) {} // a relaxed store, seen by every thread (see harness)
    atomic_word(const atomic_word&) = delete;
    atomic_word& operator=(const atomic_word&) = delete;

    T load(rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) const noexcept {
        return a_.load(mo, at);
    }
    void store(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        a_.store(v, mo, at);
    }
    T exchange(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.exchange(v, mo, at);
    }
    T fetch_add(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.fetch_add(v, mo, at);
    }
    T fetch_sub(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.fetch_sub(v, mo, at);
    }
    T fetch_and(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.fetch_and(v, mo, at);
    }
    T fetch_or(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.fetch_or(v, mo, at);
    }
    T fetch_xor(T v, rl::memory_order mo = rl::mo_seq_cst, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.fetch_xor(v, mo, at);
    }
    bool compare_exchange_weak(T& expected, T desired, rl::memory_order success,
                               rl::memory_order failure,
                               rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.compare_exchange_weak(expected, desired, success, at, failure, at);
    }
    bool compare_exchange_strong(T& expected, T desired, rl::memory_order success,
                                 rl::memory_order failure,
                                 rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        return a_.compare_exchange_strong(expected, desired, success, at, failure, at);
    }

    // ---- For the futex model ---------------------------------------------------------------

    // The last value in the word's modification order, read without any memory-model effect:
    // what the kernel compares under its futex lock.
    T latest() const noexcept { return a_.debug_value(); }
    // Relacy threads asleep on this word (bit i: thread i). Simulator bookkeeping: Relacy
    // runs one fiber at a time and switches only inside its own operations.
    unsigned sleepers = 0;

private:
    rl::atomic<T> a_;
};

struct relacy_atomics {
    template <class T>
    using atomic = atomic_word<T>;
    using memory_order = rl::memory_order;

    static constexpr memory_order relaxed = rl::mo_relaxed;
    static constexpr memory_order acquire = rl::mo_acquire;
    static constexpr memory_order release = rl::mo_release;
    static constexpr memory_order acq_rel = rl::mo_acq_rel;
    static constexpr memory_order seq_cst = rl::mo_seq_cst;

    static void fence(memory_order order, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        rl::atomic_thread_fence(order, at);
    }
};

// Told of every sleep, for the tests' counts of what happened (harness.hpp). Plain memory:
// it observes the simulation and never changes it.
struct futex_observer {
    virtual void slept(unsigned thread, const rl::debug_info& at) noexcept = 0;

protected:
    ~futex_observer() = default;
};
inline futex_observer* observer = nullptr;

// The futex: no memory ordering at all, as the protocol assumes of its waits.
struct relacy_futex {
    static constexpr bool serialized_host = false;

    template <class Word>
    static void wait(Word& word, std::uint32_t old, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        rl::context& c = rl::ctx();
        c.sched(); // the waiter may be preempted before the kernel compares
        // From here to the park there is no scheduling point: compare-and-sleep is atomic.
        if (word.latest() != old) {
            log(c, at, "futex_wait: the value changed, no sleep");
            // The kernel's comparison is a load of the word by this thread, so by read-read
            // coherence the caller's next load cannot return a value older than what it had
            // seen. Relacy's yield says exactly that (and only that: it orders nothing);
            // without it the exhaustive schedulers would explore a loop of stale reloads.
            rl::yield(1, at);
            return;
        }
        const unsigned self = 1u << c.threadx_->index_;
        word.sleepers |= self;
        log(c, at, "futex_wait: asleep");
        if (observer != nullptr) observer->slept(static_cast<unsigned>(c.threadx_->index_), at);
        // Spurious wake-ups allowed: the wait contract permits them, and the random scheduler
        // then also runs the protocol's re-checks after an early return.
        c.park_current_thread(false, true, false, at);
        word.sleepers &= ~self; // a spurious wake-up leaves it set
    }

    template <class Word>
    static void notify_all(Word& word, rl::debug_info at = TRACEBUF_RL_CALLER) noexcept {
        rl::context& c = rl::ctx();
        c.sched(); // the waker may be preempted between its store and the system call
        const unsigned woken = word.sleepers;
        word.sleepers = 0;
        log(c, at, woken != 0 ? "futex_wake: wakes sleepers" : "futex_wake: nobody asleep");
        for (unsigned t = 0; t < 32; ++t)
            if ((woken & (1u << t)) != 0) c.unpark_thread(static_cast<rl::thread_id_t>(t), false, at);
    }

private:
    static void log(rl::context& c, const rl::debug_info& at, const char* what) noexcept {
        if (c.collecting_history()) c.exec_log_msg(at, what);
    }
};

/// The core's Traits on Relacy: tiny buffers keep the state space small.
template <std::uint32_t IdleSlots, std::size_t MaxReservation, std::size_t MaxRecord = 32>
struct traits : tracebuf::traits_base {
    using atomics = relacy_atomics;
    using wait = relacy_futex;
    using idle_fence = tracebuf::symmetric_fence;
    static constexpr std::size_t max_record_size = MaxRecord;
    static constexpr std::size_t max_reservation = MaxReservation;
    static constexpr std::uint32_t idle_slots = IdleSlots;
    static constexpr std::uint32_t max_threads = 8;
};

} // namespace tracebuf_relacy

#endif // TRACEBUF_TESTS_RELACY_POLICY_HPP
