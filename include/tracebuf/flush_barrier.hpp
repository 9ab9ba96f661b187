// tracebuf/flush_barrier.hpp - component 3: the flush barrier, reserve-then-flush with
// position handoff.
//
// The slow path of a reservation that did not fit. Exactly one reservation crosses the end
// of the buffer (pos <= capacity < pos + n); its thread becomes the flusher:
//
//   1. it waits, through the quiescence counter, until no thread is online: every other
//      thread is offline or parked here, so every reservation below `pos` has been written;
//   2. it writes [0, pos) to the sink (and zeroes it);
//   3. it moves the virtual space down by `pos`: its own reservation now starts at 0, and
//      every parked reservation [p, p + m) becomes [p - pos, p - pos + m) - in arrival order,
//      right behind it;
//   4. it releases the parked threads, each with its new position already determined.
//
// A parked thread never retries a fetch_add, so nobody can refill the buffer ahead of it, and
// the caller of the slow path never loops. When more bytes were parked than the buffer holds,
// the parked reservation that now crosses the end leads the next flush, and those behind it
// park again: the handoff is the same protocol, one epoch later.
//
// One flusher at a time: only the crossing reservation flushes, and the next crossing cannot
// exist before this flush has moved the space down. No record is split (a reservation is
// never cut), lost, or written twice.
//
// With double buffering (arena.hpp), step 2 becomes: swap the buffers (after waiting until
// the previous flush's write-out has emptied the spare one: back-pressure), and step 4 comes
// before the write: the flusher releases the parked threads, then writes the full buffer out
// (and zeroes it) while they fill the other one, and marks the spare free. Threads stay
// parked for the barrier, not for the I/O. The flusher counts as online during its
// write-out: its own claim is the first in the fresh buffer, and the next flush must not
// read that buffer before the claim is written. So the next flush's quiescence also waits
// for this write-out (back-pressure when the producers outrun the sink), and write-outs
// happen one at a time, in flush order.
//
// Policies: Traits (atomics, wait), Sink (sink_*.hpp); their contracts: policies.hpp.
//
// Freestanding.
#ifndef TRACEBUF_FLUSH_BARRIER_HPP
#define TRACEBUF_FLUSH_BARRIER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/arena.hpp>
#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/quiescence.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/traits.hpp>

namespace tracebuf {

/// Returned by reserve_slow when no position could be given (see producer::last_error).
inline constexpr std::uint64_t invalid_position = ~std::uint64_t{0};

/// Counters kept by the flush barrier. Snapshots; exact once producers have stopped.
struct flush_stats {
    std::uint64_t flushes;       ///< sink writes (flushes of a non-empty buffer)
    std::uint64_t bytes_flushed; ///< bytes handed to the sink
    std::uint64_t parks;         ///< times a thread parked at the barrier
    int sink_error;              ///< the first error the sink reported, or 0
};

template <class Traits, class Sink>
class flush_barrier {
    static_assert(detail::check_sink<Sink>());
    using atomics = typename Traits::atomics;
    template <class T>
    using atomic = typename atomics::template atomic<T>;

public:
    using arena_type = arena<Traits>;
    using counter_type = quiescence_counter<Traits>;
    static constexpr bool serialized_host = counter_type::serialized_host;

    flush_barrier(arena_type& a, counter_type& q, Sink& sink) noexcept
        : arena_(a), counter_(q), sink_(sink) {}
    flush_barrier(const flush_barrier&) = delete;
    flush_barrier& operator=(const flush_barrier&) = delete;

    /// The slow path of a reservation: [pos, pos + n) came from arena::reserve_fast(n) and
    /// did not fit. Returns the reservation's position in the buffer, valid until the
    /// caller's next reservation, park or go_offline - or invalid_position with
    /// p.last_error() set (errc::closed after a drain, errc::would_block on a serialized host
    /// that was not). May block until a flush is done; never loops back to the caller.
    /// Precondition: `p` is online here and n is a multiple of 8 in [8, max_reservation].
    /// A claim that breaks it (a JIT host's bug: the fast path ran anyway) still completes
    /// the protocol, so that nobody waits for it forever, and is refused: errc::too_large or
    /// errc::bad_size for a bad n (see settle_bad_size), not_online / not_registered /
    /// wrong_buffer for a producer not online here (see reserve_as_stranger).
    std::uint64_t reserve_slow(producer& p, std::uint64_t pos, std::uint64_t n) noexcept {
        if (TRACEBUF_UNLIKELY(!counter_.owns(p) || p.state_ != producer_state::online))
            return reserve_as_stranger(p, pos, n);
        if (TRACEBUF_UNLIKELY(n == 0 || n % record_alignment != 0 || n > Traits::max_reservation)) {
            settle_bad_size(p, pos, n);
            p.refuse(n == 0 || n % record_alignment != 0 ? errc::bad_size : errc::too_large);
            return invalid_position;
        }
        return settle(p, pos, n, /*skip_own_bytes=*/false);
    }

    /// Flushes everything reserved before this call, then returns. Other threads' later
    /// reservations go to the fresh buffer. Precondition: `p` is online.
    errc flush(producer& p) noexcept {
        if (!counter_.owns(p)) return p.refuse(p.state_ == producer_state::unregistered ? errc::not_registered
                                                                                        : errc::wrong_buffer);
        if (p.state_ != producer_state::online) return p.refuse(errc::not_online);
        // A flush request is a reservation that can never fit. Its bytes are not placed in
        // the fresh buffer: the move-down skips them (see lead).
        const std::uint64_t n = arena_.capacity() + 1;
        if (settle(p, arena_.reserve_fast(n), n, /*skip_own_bytes=*/true) == invalid_position)
            return p.last_error_;
        return sink_error_.load(atomics::relaxed) != 0 ? p.refuse(errc::sink_failed) : errc::ok;
    }

    /// The final drain, for process exit: writes what the buffer holds and closes it; later
    /// reservations and flushes fail with errc::closed. Precondition, the host's guarantee:
    /// no producer is running (QEMU's atexit, Valgrind's fini, after joining threads), and
    /// every claim is written. drain() cannot check that in general; it only refuses with
    /// errc::busy, writing nothing, when it sees a flush still pending (a claim crossed the
    /// end and was not settled, or a double-buffered write-out is not finished).
    errc drain() noexcept {
        // acquire: pairs with the release store in finish_write_out: the last write-out, and
        // its sink error, happened before.
        if (write_out_pending_.load(atomics::acquire) != 0) return errc::busy;
        const std::uint64_t end = arena_.try_close();
        if (end >= arena_type::closed_position) return errc::closed;
        if (end > arena_.capacity()) return errc::busy;
        write_out(arena_.data(), end);
        return sink_error_.load(atomics::relaxed) != 0 ? errc::sink_failed : errc::ok;
    }

    flush_stats stats() const noexcept {
        return flush_stats{flushes_.load(atomics::relaxed), bytes_flushed_.load(atomics::relaxed),
                           parks_.load(atomics::relaxed),
                           static_cast<int>(sink_error_.load(atomics::relaxed))};
    }

private:
    // What settle returns for a claim whose bytes were skipped by the move-down.
    static constexpr std::uint64_t skipped = invalid_position - 1;
    // Handoff bases of the last flushes, by epoch: a parked claim of epoch e moves down by
    // bases_[e % history]; a stranger's claim may have moved through several (below).
    static constexpr std::uint32_t history = 8;

    // Resolves the reservation [pos, pos + n) of the current virtual space: returns a
    // position that fits. A claim whose bytes are skipped (skip_own_bytes: a flush request,
    // or a claim no buffer can place) never fits; once it crossed the end and its flush
    // moved the space past it, settle returns `skipped`.
    std::uint64_t settle(producer& p, std::uint64_t pos, std::uint64_t n, bool skip_own_bytes) noexcept {
        const std::uint64_t capacity = arena_.capacity();
        if (pos >= arena_type::marked_position && pos < arena_type::closed_position)
            pos -= arena_type::marked_position; // made in a flush's marked window (arena.hpp)
        for (;;) {
            if (pos >= arena_type::closed_position) {
                p.refuse(errc::closed);
                return invalid_position;
            }
            if (pos + n <= capacity) return pos;
            if (pos <= capacity) {
                // This reservation crosses the end: valid data ends at pos, and we flush.
                const std::uint64_t base = skip_own_bytes ? pos + n : pos;
                lead(pos, base, skip_own_bytes ? 0 : n);
                if (skip_own_bytes) return skipped;
                pos -= base; // == 0, and n <= capacity: it fits
                continue;
            }
            // Another reservation crossed the end: park until its flush hands us a position.
            if constexpr (serialized_host) {
                // Only a host that is not serialized gets here (a thread switched between its
                // claim and its slow path). This claim is dropped: the crossing thread's flush
                // discards every claim behind its own (lead), so it cannot poison the buffer.
                p.refuse(errc::would_block);
                return invalid_position;
            } else {
                parks_.fetch_add(1, atomics::relaxed);
                const std::uint32_t epoch = counter_.park();
                counter_.await_release(epoch);
                // relaxed: written before the release of the flush of `epoch`, which
                // await_release acquired; not overwritten before this thread leaves (I5).
                pos -= bases_[epoch % history].value.load(atomics::relaxed);
            }
        }
    }

    // A claim of a size the fast path could not check, by a producer online here. It has
    // bytes in the space whatever its size, so it is settled like any claim - lead if it
    // crosses, park if it is parked - and then:
    //   - larger than the buffer, or not a multiple of 8: it cannot be placed, so it is
    //     settled like a flush request, its bytes skipped by the move-down (which also
    //     realigns the claims behind it). A misaligned claim that fits where it lies cannot
    //     be repaired: the claims behind it are misaligned until the next flush, and the
    //     trace reads invalid there (docs/protocol.md);
    //   - larger than a reservation but not than the buffer: placed, and covered with padding.
    // n == 0 occupies nothing and needs nothing.
    void settle_bad_size(producer& p, std::uint64_t pos, std::uint64_t n) noexcept {
        if (n == 0) return;
        const bool skip = n > arena_.capacity() || n % record_alignment != 0;
        const std::uint64_t at = settle(p, pos, n, skip);
        if (at != invalid_position && at != skipped && !skip)
            write_padding(arena_.data() + at, static_cast<std::size_t>(n), Traits::max_record_size);
    }

    // The flusher's part. Valid data is [0, end); the virtual space moves down by base.
    // `kept`: the bytes of the flusher's own claim that stay in the space (at 0).
    void lead(std::uint64_t end, std::uint64_t base, std::uint64_t kept) noexcept {
        if constexpr (serialized_host) {
            // Only this thread runs, and no other thread is between a reservation and the
            // end of its write: the buffer is complete now, and nobody is parked. Double
            // buffering gains nothing here (nobody could fill the other buffer meanwhile).
            // Any claim behind ours was refused with would_block (settle): the fresh space
            // holds our claim alone.
            (void)base;
            write_out(arena_.data(), end);
            arena_.reset(kept);
        } else {
            // parked claims stay behind ours: the move-down keeps them all
            counter_.await_quiescence([this](std::uint64_t offset, std::uint64_t bytes) noexcept {
                // An idle thread's unwritten chunk tail, taken over with the thread.
                write_padding(arena_.data() + offset, bytes, Traits::max_record_size);
            });
            // Double buffering writes the full buffer out after the release, inline before it.
            // An empty flush (end == 0: a flush request, or a claim crossing at 0) does not
            // swap: there is nothing to write out, and a swap the sink never hears of would
            // break a sink that tracks which buffer is where (file_window: the empty buffer's
            // window would never advance, and the other one's next window would be computed
            // from a stale place, over records already flushed). It takes the single-buffer
            // path, where write_out of an empty range does nothing.
            const bool after_release = arena_.double_buffered() && end != 0;
            unsigned char* full = arena_.data();
            if (after_release) {
                await_spare_buffer();
                full = arena_.swap_buffers();
                // A sink that leaves the buffer zeroed replaces its memory (the file window:
                // the buffer is the trace file). Until the write-out pads it, the full
                // buffer's tail [end, capacity) - less than one claim after a crossing - is
                // zeros in the file, behind which the released threads write the next window:
                // marked, a reader of a trace killed before the write-out skips it instead of
                // stopping (I13). Few stores (one per reservation_mark_limit bytes), while the
                // others are parked; no other sink pays them (its memset clears [0, end) only).
                if (end < arena_.capacity() && detail::sink_leaves_zeroed(sink_))
                    mark_tail(full + end, static_cast<std::size_t>(arena_.capacity() - end));
                // relaxed: written while FLUSHING is set; the next flusher came online through
                // the release below (or later), so it reads 1 or finish_write_out's 0.
                write_out_pending_.store(1, atomics::relaxed);
            } else {
                write_out(full, end);
            }
            // The flusher's own claim is the first in the fresh buffer and is written last of
            // all (after the release): mark it, so that a crash in between leaves a hole of
            // known size there rather than one that stops a reader (record.hpp).
            if (kept != 0) mark_reserved(arena_.data(), static_cast<std::size_t>(kept));
            // relaxed: published by counter_.release (release), acquired by the parked threads
            // and by any thread that comes online later.
            bases_[counter_.epoch() % history].value.store(base, atomics::relaxed);
            arena_.rebase(base);
            counter_.release(counter_.take_parked() + 1);
            arena_.unmark(); // before this thread can be waited for: the next flush needs it
            if (after_release) {
                write_out(full, end);
                finish_write_out();
            }
        }
    }

    // Double buffering, at the barrier: the spare buffer must be empty. The previous
    // flusher counted as online until its write-out was done, so quiescence implies that it
    // is; the flag states it explicitly, and drain() checks it.
    void await_spare_buffer() noexcept {
        for (;;) {
            // acquire: pairs with the release store in finish_write_out: the spare buffer's
            // zeroing, and the sink's state, happen before this flush uses them.
            const std::uint32_t pending = write_out_pending_.load(atomics::acquire);
            if (pending == 0) return;
            Traits::wait::wait(write_out_pending_, pending);
        }
    }

    void finish_write_out() noexcept {
        // release: pairs with the acquire loads in await_spare_buffer and drain.
        write_out_pending_.store(0, atomics::release);
        Traits::wait::notify_all(write_out_pending_);
    }

    // Marks [at, at + bytes) (a multiple of 8) unwritten, in marks of at most
    // reservation_mark_limit bytes. Relaxed stores (mark_reserved), before the release that
    // readmits the parked threads: that release orders them before the next window's records
    // for the compiler and the CPU.
    static void mark_tail(unsigned char* at, std::size_t bytes) noexcept {
        while (bytes != 0) {
            const std::size_t n = bytes < reservation_mark_limit ? bytes : reservation_mark_limit;
            mark_reserved(at, n);
            at += n;
            bytes -= n;
        }
    }

    void write_out(unsigned char* data, std::uint64_t end) noexcept {
        if (end == 0) return;
        const int err = sink_.write(data, static_cast<std::size_t>(end));
        if (err != 0 && sink_error_.load(atomics::relaxed) == 0)
            sink_error_.store(static_cast<std::uint32_t>(err), atomics::relaxed);
        // relaxed: statistics; one write-out at a time writes them.
        flushes_.store(flushes_.load(atomics::relaxed) + 1, atomics::relaxed);
        bytes_flushed_.store(bytes_flushed_.load(atomics::relaxed) + end, atomics::relaxed);
        if constexpr (Traits::zero_after_flush) {
            if (!detail::sink_leaves_zeroed(sink_)) __builtin_memset(data, 0, end);
        }
    }

    // reserve_slow by a producer that is not online here (a host bug, seen only on the JIT
    // path, after the fetch_add). The claim has bytes in some virtual space: it may be the
    // one that crossed the end, or be moved into the crossing place by a later flush, so it
    // must be settled or every thread would wait for it forever. It is, under a temporary
    // registration (a guest), and covered with padding, once its space is known:
    //   - the space at the call: the epoch then, and the next one for a claim made in the
    //     marked window of the flush in progress then (arena.hpp): that claim is already in
    //     the fresh space; any other claim made during that flush is in the old one;
    //   - once the guest is online, each flush that ran since moved the claim down by its
    //     base (bases_) - if it was parked then; a claim that fitted was read by that flush
    //     (a hole) and is abandoned, nothing written.
    // Exact when no flush began or ended between the claim and the call, other than the one
    // in progress at the call; docs/protocol.md, "A claim by a producer that is not online".
    std::uint64_t reserve_as_stranger(producer& p, std::uint64_t pos, std::uint64_t n) noexcept {
        const errc why = p.state_ == producer_state::unregistered ? errc::not_registered
                         : counter_.owns(p)                       ? errc::not_online
                                                                  : errc::wrong_buffer;
        p.refuse(why);
        if (n == 0 || pos >= arena_type::closed_position) return invalid_position; // nothing to settle
        const std::uint32_t at_call = counter_.snapshot();
        const bool marked = pos >= arena_type::marked_position;
        if (marked) pos -= arena_type::marked_position;
        std::uint32_t space = at_call >> counter_type::epoch_shift;
        if (marked && (at_call & counter_type::flushing_bit) != 0) space = (space + 1) & counter_type::epoch_mask;

        const std::uint64_t capacity = arena_.capacity();
        const bool skip = n > capacity || n % record_alignment != 0;
        producer guest;
        if (counter_.register_guest(guest) != errc::ok) return invalid_position;
        // Online now: no flush can complete until the guest leaves.
        const std::uint32_t moved = (counter_.epoch() - space) & counter_type::epoch_mask;
        bool placeable = moved <= history;
        for (std::uint32_t i = 0; placeable && i < moved; ++i) {
            if (pos <= capacity) placeable = false; // read by that flush, or (crossing) impossible
            // relaxed: written before that flush's release, which the guest's registration
            // acquired; not overwritten while the guest is online.
            else pos -= bases_[(space + i) % history].value.load(atomics::relaxed);
        }
        if (placeable) {
            const std::uint64_t at = settle(guest, pos, n, skip);
            if (at != invalid_position && at != skipped && !skip)
                write_padding(arena_.data() + at, static_cast<std::size_t>(n), Traits::max_record_size);
        }
        counter_.unregister_thread(guest);
        p.refuse(why); // settle may have recorded its own reason on the guest, not on p
        return invalid_position;
    }

    arena_type& arena_;
    counter_type& counter_;
    Sink& sink_;
    struct base_slot {
        atomic<std::uint64_t> value{0};
    };
    base_slot bases_[history];
    atomic<std::uint64_t> flushes_{0};
    atomic<std::uint64_t> bytes_flushed_{0};
    atomic<std::uint64_t> parks_{0};
    atomic<std::uint32_t> sink_error_{0};
    atomic<std::uint32_t> write_out_pending_{0}; // double buffering: the spare buffer is full
};

} // namespace tracebuf

#endif // TRACEBUF_FLUSH_BARRIER_HPP
