// tracebuf/quiescence.hpp - component 2: the quiescence counter with the syscall-aware
// park/unpark protocol.
//
// It counts the threads that may currently be writing into the buffer ("online"). A thread
// is online from register_thread (or go_online) until unregister_thread, go_offline, or
// parking at the flush barrier. A flush may read the buffer only when the count is zero:
// then every registered thread is either offline, and promised not to touch the buffer, or
// parked, and its previous writes are complete (a thread reaches the barrier through its
// next reservation, which comes after it finished writing the previous one).
//
// Everything lives in one 32-bit state word, so that one atomic read-modify-write both
// changes the count and tells the caller whether a flush is running and which epoch it is:
//
//   bits  0..15  online count
//   bit   16     WAITING:  the flusher sleeps until the count reaches zero
//   bit   17     FLUSHING: a flush owns the buffer; nobody may come online
//   bit   18     NUDGE:    set by a producer going idle while the flusher waits; the
//                          flusher clears it before each scan of the idle slots
//   bits 19..31  epoch: +1 at the end of every flush (wraps; only compared for change)
//
// The race the seed worried about - a thread returning from a syscall, or a new thread,
// while a flush starts - is closed by FLUSHING: the flusher sets it with a CAS that succeeds
// only when the count is zero, and a thread coming online sees it in the result of its own
// fetch_add, steps back and waits for the flush to end. There is no window in which a
// thread is online but unseen by the flusher. docs/protocol.md has the invariants and the
// interleavings.
//
// Idle producers (Traits::idle_slots > 0): a host that can be stopped between callbacks
// without a hook (QEMU) marks each thread idle at the end of a callback and busy at the
// start of the next - an exchange and a store (or a second exchange, see
// Traits::idle_fence) on the thread's own slot, no shared write. A flusher that waits counts
// idle producers offline on their behalf; such a producer's next busy() comes online the
// slow way.
//
// Policies: Traits::atomics (atomics_*.hpp), Traits::wait (wait_*.hpp), Traits::idle_fence
// (fence_*.hpp).
// Freestanding.
#ifndef TRACEBUF_QUIESCENCE_HPP
#define TRACEBUF_QUIESCENCE_HPP

#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/traits.hpp>

namespace tracebuf {
namespace detail {
// Numbers every quiescence counter of the process, whatever its Traits (relaxed: only
// uniqueness matters; a plain word and a builtin, so that no atomics policy is needed).
// Constant-initialised.
inline std::uint32_t counter_instances = 0;
} // namespace detail

template <class Traits>
class quiescence_counter {
    using atomics = typename Traits::atomics;
    using wait_policy = typename Traits::wait;
    using idle_fence = typename Traits::idle_fence;
    template <class T>
    using atomic = typename atomics::template atomic<T>;
    static_assert(detail::check_traits<Traits>());

public:
    static constexpr bool serialized_host = wait_policy::serialized_host;

    static constexpr std::uint32_t count_mask = 0xffff;
    static constexpr std::uint32_t waiting_bit = 1u << 16;
    static constexpr std::uint32_t flushing_bit = 1u << 17;
    static constexpr std::uint32_t nudge_bit = 1u << 18;
    static constexpr int epoch_shift = 19;
    static constexpr std::uint32_t epoch_one = 1u << epoch_shift;
    static constexpr std::uint32_t epoch_mask = (1u << (32 - epoch_shift)) - 1; // epoch() values
    static constexpr std::uint32_t idle_slots = Traits::idle_slots;

    /// Each counter gets a number of its own, so that a producer registered with a counter
    /// that was destroyed is not taken for one of a new counter at the same address.
    quiescence_counter() noexcept : instance_(__atomic_add_fetch(&detail::counter_instances, 1u, __ATOMIC_RELAXED)) {}
    quiescence_counter(const quiescence_counter&) = delete;
    quiescence_counter& operator=(const quiescence_counter&) = delete;

    // ---- Thread life (called by the producing thread itself) ------------------------------

    /// Registers the calling thread and brings it online. Call on thread start (or lazily,
    /// on its first callback), before its first reservation. If a flush is running, waits
    /// for it to end: a new thread never writes into a buffer that is being read.
    /// Precondition: `p` is unregistered (else errc::already_registered).
    errc register_thread(producer& p) noexcept {
        if (p.state_ != producer_state::unregistered) return p.refuse(errc::already_registered);
        if (registered_.fetch_add(1, atomics::relaxed) >= Traits::max_threads) {
            registered_.fetch_sub(1, atomics::relaxed);
            return p.refuse(errc::too_many_threads);
        }
        if constexpr (idle_slots > 0) {
            if (!claim_slot(p)) {
                registered_.fetch_sub(1, atomics::relaxed);
                return p.refuse(errc::too_many_threads);
            }
        }
        return admit(p);
    }

    /// Unregisters the calling thread (online, idle or offline). Call on thread exit, after
    /// its last write. Never waits.
    errc unregister_thread(producer& p) noexcept {
        if (const errc e = check_owner(p); e != errc::ok) return e;
        if (leave_slot(p, slot_free)) leave_online();
        p.slot_ = producer::no_slot;
        p.owner_ = nullptr;
        p.self_ = nullptr;
        p.state_ = producer_state::unregistered;
        registered_.fetch_sub(1, atomics::relaxed);
        return errc::ok;
    }

    /// Takes the calling thread offline: it promises not to touch the buffer until
    /// go_online. Call on syscall entry, or around any long untraced stretch. Never waits;
    /// an offline thread never delays a flush, however long it stays offline.
    /// Precondition: `p` is online (or idle).
    errc go_offline(producer& p) noexcept {
        if (const errc e = check_owner(p); e != errc::ok) return e;
        if (p.state_ != producer_state::online && p.state_ != producer_state::idle)
            return p.refuse(errc::not_online);
        if (leave_slot(p, slot_offline)) leave_online();
        p.state_ = producer_state::offline;
        return errc::ok;
    }

    /// Brings the calling thread back online. Call on syscall exit. If a flush is running,
    /// waits for it to end before returning. Precondition: `p` is offline.
    errc go_online(producer& p) noexcept {
        if (const errc e = check_owner(p); e != errc::ok) return e;
        if (p.state_ != producer_state::offline) return p.refuse(errc::already_online);
        enter_online();
        if constexpr (idle_slots > 0) slots_[p.slot_].state.store(slot_online, atomics::relaxed);
        p.state_ = producer_state::online;
        return errc::ok;
    }

    /// Whether `p` is registered with this counter (and is the producer that registered).
    bool owns(const producer& p) const noexcept { return p.registered_with(this, instance_); }

    /// For the flush barrier: registers a temporary producer that settles another's claim
    /// (flush_barrier::reserve_as_stranger). Like register_thread, but it needs no idle slot
    /// (it never goes idle) and is not held to Traits::max_threads: a claim that crossed the
    /// end must be settled even when every slot is taken. Fails only when the 16-bit count is
    /// full.
    errc register_guest(producer& p) noexcept {
        if (p.state_ != producer_state::unregistered) return p.refuse(errc::already_registered);
        if (registered_.fetch_add(1, atomics::relaxed) >= count_mask) {
            registered_.fetch_sub(1, atomics::relaxed);
            return p.refuse(errc::too_many_threads);
        }
        return admit(p);
    }

    // ---- Idle producers (Traits::idle_slots > 0) ------------------------------------------

    /// Marks the calling thread idle: between callbacks, not writing, and possibly stopped
    /// by the host for any length of time without a hook. It still counts as online, but a
    /// flusher that is waiting may count it offline on its behalf. Never waits; a store to the
    /// thread's own cache line (an exchange with symmetric_fence) and a load of the state
    /// word, plus a wake-up of the flusher if one is waiting.
    /// `open_offset`, `open_bytes` (multiples of 8, open_bytes <= Traits::max_reservation,
    /// else errc::bad_argument): a range of the current buffer that this thread reserved and
    /// has not written yet (the rest of a chunk: chunk_writer.hpp). A flusher that takes the
    /// thread over covers it with padding; busy() then reports taken_over(). The counter
    /// cannot see the buffer: trace_buffer::idle checks that the range lies inside it.
    /// Precondition: `p` is online, and its reservations are written except for the open
    /// range.
    errc idle(producer& p, std::uint64_t open_offset = 0, std::uint64_t open_bytes = 0) noexcept {
        static_assert(idle_slots > 0, "idle() needs Traits::idle_slots > 0");
        if (const errc e = check_owner(p); e != errc::ok) return e;
        if (p.state_ != producer_state::online) return p.refuse(errc::not_online);
        if (!valid_open_range(open_offset, open_bytes)) return p.refuse(errc::bad_argument);
        // The slot's new word publishes this thread's records (release, acquired by the
        // flusher's CAS in take_idle_producers) and, with the load of the state word after
        // it, forms a Dekker pair with the flusher's WAITING RMW and its scan (I9): either the
        // scan sees this slot idle, or the load sees WAITING and nudges the flusher awake.
        atomic<std::uint64_t>& slot = slots_[p.slot_].state;
        bool waiting;
        if (idle_fence::asymmetric()) {
            // release: as above. The store-load order comes from light() here and heavy()
            // after the flusher's WAITING RMW; the store is plain (only the flusher's CAS from
            // idle competes for the word, and the slot is online now).
            slot.store(idle_word(open_offset, open_bytes), atomics::release);
            idle_fence::light();
            waiting = (state_.load(atomics::relaxed) & waiting_bit) != 0;
        } else {
            // seq_cst, both: the Dekker pair with the flusher's seq_cst RMW and scan loads.
            slot.exchange(idle_word(open_offset, open_bytes), atomics::seq_cst);
            waiting = (state_.load(atomics::seq_cst) & waiting_bit) != 0;
        }
        if (waiting) {
            // The flusher sleeps on a value without NUDGE, read after it cleared the bit and
            // before its scan: setting the bit changes the word, so a flusher about to sleep
            // cannot miss this wake-up, however many producers nudge. (A toggle could: two
            // nudges restore the value.) release: pairs with the flusher's acquire clear, so
            // its next scan sees this slot idle.
            state_.fetch_or(nudge_bit, atomics::release);
            wait_policy::notify_all(state_);
        }
        p.state_ = producer_state::idle;
        return errc::ok;
    }

    /// Marks the calling thread busy again, at the start of a callback, before it reserves.
    /// If a flusher counted it offline meanwhile, comes back online as go_online does
    /// (waiting for that flush to end) and sets p.taken_over(): its open range is gone.
    /// Precondition: `p` is idle (else errc::already_online if it is busy, errc::not_online
    /// if it is offline).
    errc busy(producer& p) noexcept {
        static_assert(idle_slots > 0, "busy() needs Traits::idle_slots > 0");
        if (const errc e = check_owner(p); e != errc::ok) return e;
        if (p.state_ != producer_state::idle)
            return p.refuse(p.state_ == producer_state::online ? errc::already_online : errc::not_online);
        // relaxed: if the slot was still idle, this thread never stopped counting as online
        // and no flush can have happened; if it was taken, enter_online acquires.
        const std::uint64_t was = slots_[p.slot_].state.exchange(slot_online, atomics::relaxed);
        p.taken_over_ = (was & slot_state_mask) == slot_taken;
        if (p.taken_over_) enter_online();
        p.state_ = producer_state::online;
        return errc::ok;
    }

    /// busy() without waiting: if no flusher took the idle thread over, makes it busy and
    /// returns true (its open range is still its own); otherwise returns false and leaves it
    /// idle and taken (it may go offline or unregister from there). For a thread that wants
    /// to close its open range before it goes offline. Precondition: `p` is idle.
    bool reclaim_idle(producer& p) noexcept {
        static_assert(idle_slots > 0, "reclaim_idle() needs Traits::idle_slots > 0");
        if (check_owner(p) != errc::ok) return false;
        if (p.state_ != producer_state::idle) return false;
        std::uint64_t expected = slots_[p.slot_].state.load(atomics::relaxed);
        // relaxed: while the slot is idle the thread counts as online and no flush has run;
        // the CAS only decides the race with a take-over.
        while ((expected & slot_state_mask) == slot_idle) {
            if (slots_[p.slot_].state.compare_exchange_weak(expected, slot_online, atomics::relaxed,
                                                            atomics::relaxed)) {
                p.taken_over_ = false;
                p.state_ = producer_state::online;
                return true;
            }
        }
        return false;
    }

    // ---- The flush barrier's side (flush_barrier.hpp) -------------------------------------

    /// An online thread whose reservation overflowed, and that is not the flusher, stops
    /// counting as online. Returns the epoch it parked in; wait with await_release.
    std::uint32_t park() noexcept {
        // relaxed: ordered before the release decrement below, which the flusher acquires.
        parked_.fetch_add(1, atomics::relaxed);
        return leave_online() >> epoch_shift;
    }

    /// Waits until the flush of `epoch` has released the parked threads. On return the
    /// flusher's writes (reset position, handoff base, zeroed buffer) are visible, and the
    /// caller is online again: the flusher counted it back in.
    void await_release(std::uint32_t epoch) noexcept { await_epoch_change(epoch); }

    /// The flusher stops counting as online and waits until no thread is online; then it
    /// owns the buffer (FLUSHING is set) until release(). Not for serialized hosts.
    /// `close_open_range(offset, bytes)` is called for each idle thread it takes over that
    /// left a range open (see idle); it must cover the range with padding.
    void await_quiescence() noexcept {
        await_quiescence([](std::uint64_t, std::uint64_t) noexcept {});
    }
    template <class CloseOpenRange>
    void await_quiescence(CloseOpenRange&& close_open_range) noexcept {
        static_assert(!serialized_host, "a serialized host never waits for quiescence");
        // relaxed: the flusher publishes nothing to itself.
        std::uint32_t s = state_.fetch_sub(1, atomics::relaxed) - 1;
        for (;;) {
            if ((s & count_mask) == 0 && (s & flushing_bit) == 0) {
                const std::uint32_t owned = (s & ~waiting_bit) | flushing_bit;
                // acquire: pairs with the release decrement in leave_online() of every thread
                // that parked or went offline (all state changes are RMWs, so their release
                // sequences reach this CAS): the records they wrote are visible to the flush.
                if (state_.compare_exchange_weak(s, owned, atomics::acquire, atomics::relaxed))
                    return;
                continue;
            }
            if ((s & waiting_bit) == 0) {
                // Announces that the next decrement to zero must notify. seq_cst: with idle
                // producers, the Dekker pair with idle() (see there); relaxed would do otherwise.
                if (!state_.compare_exchange_weak(s, s | waiting_bit, atomics::seq_cst,
                                                  atomics::relaxed))
                    continue;
                s |= waiting_bit;
                // The asymmetric form of that pair: once, since WAITING stays set until this
                // flusher owns the buffer. Every idle() whose load comes after this barrier
                // sees WAITING; every one before it has its slot store visible to the scans.
                if constexpr (idle_slots > 0) {
                    if (idle_fence::asymmetric()) idle_fence::heavy();
                }
            }
            if constexpr (idle_slots > 0) {
                if (s & nudge_bit) {
                    // acquire: pairs with the release fetch_or in idle(): the next scan sees
                    // the nudging producer's slot. A nudge after this clear sets the bit again,
                    // so a wait on a value without it returns. Re-check the count first: it
                    // may have reached zero meanwhile.
                    s = state_.fetch_and(~nudge_bit, atomics::acquire) & ~nudge_bit;
                    continue;
                }
                if (const std::uint32_t taken = take_idle_producers(close_open_range)) {
                    // relaxed: each taken producer's records were acquired by its slot CAS.
                    s = state_.fetch_sub(taken, atomics::relaxed) - taken;
                    continue;
                }
            }
            wait_policy::wait(state_, s);
            s = state_.load(atomics::relaxed); // the CAS above acquires
        }
    }

    /// Called by the flusher between await_quiescence and release: how many threads parked at
    /// this barrier. Resets the count for the next barrier.
    std::uint32_t take_parked() noexcept {
        // relaxed: every park() increment happens before the decrement that the flusher's
        // CAS acquired, and nobody parks while FLUSHING is set.
        return parked_.exchange(0, atomics::relaxed);
    }

    /// Ends a flush: counts `readmitted` threads (the parked ones and the flusher) online
    /// again, clears FLUSHING, advances the epoch, and wakes every waiter.
    void release(std::uint32_t readmitted) noexcept {
        static_assert(!serialized_host, "a serialized host never parks threads");
        // release: pairs with the acquire load in await_epoch_change (parked threads) and
        // with the acquire fetch_add in enter_online (threads coming online, also after
        // waiting in await_flush_end): the
        // flusher's reset of the position, the handoff base and the zeroed buffer happen
        // before their next reservation. Adding epoch_one - flushing_bit clears FLUSHING
        // (it is set, so nothing borrows) and lets the epoch carry out of the top bit.
        state_.fetch_add(readmitted + epoch_one - flushing_bit, atomics::release);
        wait_policy::notify_all(state_);
    }

    // ---- Observers (racy snapshots, for tests and statistics) -----------------------------

    std::uint32_t online_count() const noexcept {
        return state_.load(atomics::relaxed) & count_mask;
    }
    std::uint32_t registered_count() const noexcept {
        return registered_.load(atomics::relaxed);
    }
    std::uint32_t epoch() const noexcept { return state_.load(atomics::relaxed) >> epoch_shift; }
    /// The whole state word (count, flags, epoch) at one instant.
    std::uint32_t snapshot() const noexcept { return state_.load(atomics::relaxed); }
    bool flushing() const noexcept { return (state_.load(atomics::relaxed) & flushing_bit) != 0; }

private:
    // The end of register_thread and register_guest, once the counts admit p: online, and
    // owned by this counter.
    errc admit(producer& p) noexcept {
        enter_online();
        p.owner_ = this;
        p.owner_instance_ = instance_;
        p.self_ = &p;
        p.state_ = producer_state::online;
        return errc::ok;
    }

    // A producer's slot: what a flusher may know about it. free -> online on registration;
    // online <-> idle by the thread; idle -> taken by a flusher (counted offline on its
    // behalf); taken -> online by busy(), which then counts itself in. An idle word also
    // carries the thread's open range: bits 3..47 its offset (a multiple of 8), bits 48..63
    // its length in 8-byte units. One word, so the flusher's CAS takes over exactly the
    // range it read.
    static constexpr std::uint64_t slot_free = 0;
    static constexpr std::uint64_t slot_online = 1;
    static constexpr std::uint64_t slot_idle = 2;
    static constexpr std::uint64_t slot_taken = 3;
    static constexpr std::uint64_t slot_offline = 4;
    static constexpr std::uint64_t slot_state_mask = 7;
    static constexpr int open_units_shift = 48;
    static constexpr std::uint64_t open_offset_mask = ((std::uint64_t{1} << open_units_shift) - 1) & ~slot_state_mask;
    static_assert(idle_slots == 0 || Traits::max_reservation / 8 < (std::uint64_t{1} << 16),
                  "an open range (at most max_reservation) must fit the idle word");

    static constexpr std::uint64_t idle_word(std::uint64_t offset, std::uint64_t bytes) noexcept {
        return slot_idle | (offset & open_offset_mask) | ((bytes / 8) << open_units_shift);
    }

    struct alignas(detail::cache_line_size) idle_slot {
        atomic<std::uint64_t> state{slot_free};
    };

    // Every call but register_thread needs a producer registered here: one registered with
    // another counter, or a copy, would move this counter's count for a thread it never
    // counted (and underflow it into the flag bits).
    errc check_owner(producer& p) const noexcept {
        if (p.state_ == producer_state::unregistered) return p.refuse(errc::not_registered);
        return p.registered_with(this, instance_) ? errc::ok : p.refuse(errc::wrong_buffer);
    }

    static constexpr bool valid_open_range(std::uint64_t offset, std::uint64_t bytes) noexcept {
        return bytes == 0 || (offset % 8 == 0 && bytes % 8 == 0 && bytes <= Traits::max_reservation &&
                              (offset & ~open_offset_mask) == 0);
    }

    bool claim_slot(producer& p) noexcept {
        for (std::uint32_t i = 0; i < idle_slots; ++i) {
            std::uint64_t expected = slot_free;
            // relaxed: the slot only tells a flusher whether it may take the producer over,
            // and an online slot is never taken.
            if (slots_[i].state.compare_exchange_strong(expected, slot_online, atomics::relaxed,
                                                        atomics::relaxed)) {
                p.slot_ = static_cast<std::uint16_t>(i);
                return true;
            }
        }
        return false;
    }

    // Moves p's slot (if any) to `to` and says whether p still counted as online, i.e.
    // whether the caller must leave_online(): not if a flusher took it over while idle.
    bool leave_slot(producer& p, std::uint64_t to) noexcept {
        const bool counted =
            p.state_ == producer_state::online || p.state_ == producer_state::idle;
        if constexpr (idle_slots > 0) {
            if (p.slot_ < idle_slots) { // no_slot (0xffff) is never below
                // relaxed: the RMW only decides the race with a flusher's take-over (one of
                // the two wins, whatever the order). Nothing is published through it: if it
                // was taken, the thread's records were published by its idle() and acquired
                // by the flusher's CAS, and it wrote nothing since; if not, leave_online's
                // release publishes them.
                const std::uint64_t was = slots_[p.slot_].state.exchange(to, atomics::relaxed);
                return counted && (was & slot_state_mask) != slot_taken;
            }
        }
        return counted;
    }

    // The flusher, waiting with WAITING set: counts every idle producer offline, and closes
    // the open range each one left.
    template <class CloseOpenRange>
    std::uint32_t take_idle_producers(CloseOpenRange& close_open_range) noexcept {
        std::uint32_t taken = 0;
        for (std::uint32_t i = 0; i < idle_slots; ++i) {
            // seq_cst load: the Dekker pair with idle() (after the WAITING RMW; in the
            // asymmetric form, after heavy()).
            std::uint64_t expected = slots_[i].state.load(atomics::seq_cst);
            // acquire: pairs with the store or exchange in idle(): the producer's records are
            // visible to the flush. The CAS compares the whole word, open range included.
            if ((expected & slot_state_mask) == slot_idle &&
                slots_[i].state.compare_exchange_strong(expected, slot_taken, atomics::acquire,
                                                        atomics::relaxed)) {
                ++taken;
                const std::uint64_t bytes = (expected >> open_units_shift) * 8;
                if (bytes != 0) close_open_range(expected & open_offset_mask, bytes);
            }
        }
        return taken;
    }

    // +1 on the count; if a flush owns the buffer, step back and wait for it to end.
    void enter_online() noexcept {
        for (;;) {
            // acquire: pairs with the release in release(): when the previous flush is over,
            // its reset of the buffer happens before this thread's next reservation.
            const std::uint32_t old = state_.fetch_add(1, atomics::acquire);
            if ((old & flushing_bit) == 0) return;
            leave_online();
            await_flush_end(old >> epoch_shift);
        }
    }

    // A thread that stepped back is not counted, so flushes may run on without it: the
    // 13-bit epoch can wrap back to the value it read. It waits for "FLUSHING clear or epoch
    // changed", and retries the fetch_add, which decides.
    void await_flush_end(std::uint32_t epoch) noexcept {
        if constexpr (serialized_host) {
            (void)epoch; // unreachable: FLUSHING is never set
        } else {
            for (;;) {
                // relaxed: only decides when to retry; the retry's fetch_add acquires.
                const std::uint32_t s = state_.load(atomics::relaxed);
                if ((s & flushing_bit) == 0 || (s >> epoch_shift) != epoch) return;
                wait_policy::wait(state_, s);
            }
        }
    }

    // -1 on the count; wakes the flusher if this made the count zero. Returns the old state.
    std::uint32_t leave_online() noexcept {
        // release: pairs with the acquire CAS in await_quiescence: everything this thread wrote
        // into the buffer before leaving happens before the flush reads it.
        const std::uint32_t old = state_.fetch_sub(1, atomics::release);
        if constexpr (!serialized_host) {
            if ((old & (waiting_bit | count_mask)) == (waiting_bit | 1))
                wait_policy::notify_all(state_);
        }
        return old;
    }

    // A parked thread: counted online again by the release of its flush before it wakes,
    // so no later flush can start, and the epoch cannot move on, before it has seen the
    // change (I5).
    void await_epoch_change(std::uint32_t epoch) noexcept {
        if constexpr (serialized_host) {
            (void)epoch; // unreachable: nobody parks
        } else {
            for (;;) {
                // acquire: pairs with the release in release() (see there).
                const std::uint32_t s = state_.load(atomics::acquire);
                if ((s >> epoch_shift) != epoch) return;
                wait_policy::wait(state_, s);
            }
        }
    }

    alignas(detail::cache_line_size) atomic<std::uint32_t> state_{0};
    atomic<std::uint32_t> parked_{0};
    atomic<std::uint32_t> registered_{0};
    std::uint32_t instance_;
    idle_slot slots_[idle_slots > 0 ? idle_slots : 1];
};

} // namespace tracebuf

#endif // TRACEBUF_QUIESCENCE_HPP
