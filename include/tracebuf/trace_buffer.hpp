// tracebuf/trace_buffer.hpp - the three components composed: what a host uses.
//
//   trace_buffer<Traits, Sink> = arena<Traits>              (arena.hpp)
//                              + quiescence_counter<Traits> (quiescence.hpp)
//                              + flush_barrier<Traits, Sink> (flush_barrier.hpp)
//
// Host contract (docs/host-contract.md), the same as QSBR in userspace-rcu:
//   - thread start:  register_thread(p)        (lazily on the first callback is fine)
//   - syscall entry: go_offline(p);  syscall exit: go_online(p)
//   - a host that can stop threads between callbacks without a hook (QEMU): busy(p) at
//     each callback's start, idle(p) at its end (Traits::idle_slots > 0)
//   - thread exit:   unregister_thread(p)
//   - an online thread must reserve again or go offline within bounded time: a flush waits
//     for every online thread to do one or the other;
//   - at exit, once no producer runs: drain().
//
// Policies: Traits (traits.hpp: atomics, wait, limits), Sink (sink_*.hpp).
// Freestanding (with a freestanding Traits and Sink).
#ifndef TRACEBUF_TRACE_BUFFER_HPP
#define TRACEBUF_TRACE_BUFFER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/arena.hpp>
#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/flush_barrier.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/quiescence.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/traits.hpp>

namespace tracebuf {

template <class Traits, class Sink>
class trace_buffer {
public:
    using traits_type = Traits;
    using sink_type = Sink;
    using arena_type = tracebuf::arena<Traits>;
    using counter_type = tracebuf::quiescence_counter<Traits>;
    using barrier_type = tracebuf::flush_barrier<Traits, Sink>;

    /// Uses `bytes` of `memory` (8-byte aligned, at least Traits::max_reservation bytes per
    /// buffer; the caller keeps it alive) and writes full buffers to `sink`. With
    /// buffering::double_buffer the memory is split into two buffers of bytes / 2, and a
    /// flush writes one out while the other fills (flush_barrier.hpp). Zero-fills the
    /// memory first unless it is memory_contents::zeroed. Check status().
    trace_buffer(void* memory, std::size_t bytes, Sink sink, buffering mode = buffering::single,
                 memory_contents contents = memory_contents::unknown) noexcept
        : sink_(static_cast<Sink&&>(sink)), arena_(memory, bytes, mode),
          barrier_(arena_, counter_, sink_) {
        if (arena_.status() == errc::ok && contents != memory_contents::zeroed)
            __builtin_memset(arena_.data(), 0, arena_.capacity() * (arena_.double_buffered() ? 2 : 1));
    }
    trace_buffer(void* memory, std::size_t bytes, Sink sink, memory_contents contents) noexcept
        : trace_buffer(memory, bytes, static_cast<Sink&&>(sink), buffering::single, contents) {}
    trace_buffer(const trace_buffer&) = delete;
    trace_buffer& operator=(const trace_buffer&) = delete;

    /// errc::ok, or errc::bad_arena if the memory was unusable (then every reservation fails).
    errc status() const noexcept { return arena_.status(); }

    // ---- Thread life: see quiescence_counter for each call's precondition -----------------

    errc register_thread(producer& p) noexcept { return counter_.register_thread(p); }
    errc unregister_thread(producer& p) noexcept { return counter_.unregister_thread(p); }
    errc go_offline(producer& p) noexcept { return counter_.go_offline(p); }
    errc go_online(producer& p) noexcept { return counter_.go_online(p); }
    /// Between callbacks, with Traits::idle_slots > 0: see quiescence_counter::idle/busy.
    /// `open` and `open_bytes`: a reserved range of this thread's that it has not written
    /// yet (a chunk's tail, for chunk_writer); a flush that takes the idle thread over pads
    /// it, and the next busy() sets p.taken_over(). The range must lie inside the current
    /// buffer, 8-byte aligned, at most Traits::max_reservation bytes: else errc::bad_argument
    /// and nothing changes (the flusher writes there).
    errc idle(producer& p, const unsigned char* open = nullptr, std::size_t open_bytes = 0) noexcept {
        if (open_bytes == 0) return counter_.idle(p);
        const unsigned char* data = arena_.data();
        if (open < data || open > data + arena_.capacity() ||
            open_bytes > static_cast<std::size_t>(data + arena_.capacity() - open))
            return p.refuse(counter_.owns(p)                            ? errc::bad_argument
                            : p.state() == producer_state::unregistered ? errc::not_registered
                                                                        : errc::wrong_buffer);
        return counter_.idle(p, static_cast<std::uint64_t>(open - data), open_bytes);
    }
    errc busy(producer& p) noexcept { return counter_.busy(p); }
    /// From idle: becomes busy without waiting and returns true, unless a flush took the
    /// thread over (then false, and it stays idle). See quiescence_counter::reclaim_idle.
    bool reclaim_idle(producer& p) noexcept { return counter_.reclaim_idle(p); }

    // ---- Reservations ----------------------------------------------------------------------

    /// Reserves `n` bytes (a multiple of 8, at most Traits::max_reservation) for one or more
    /// records, which the caller must fill completely (put_record / write_padding) before
    /// its next reservation, go_offline or unregister_thread. Returns nullptr on error (see
    /// p.last_error()). Precondition: `p` is online. May block while a flush runs.
    TRACEBUF_FORCEINLINE unsigned char* reserve(producer& p, std::size_t n) noexcept {
        errc why = errc::ok;
        if (TRACEBUF_UNLIKELY(n == 0 || n % record_alignment != 0)) why = errc::bad_size;
        else if (TRACEBUF_UNLIKELY(n > Traits::max_reservation)) why = errc::too_large;
        else if (TRACEBUF_UNLIKELY(p.state_ != producer_state::online || !counter_.owns(p)))
            why = counter_.owns(p) || p.state_ == producer_state::unregistered ? errc::not_online
                                                                               : errc::wrong_buffer;
        if (TRACEBUF_UNLIKELY(why != errc::ok)) {
            p.refuse(why);
            return nullptr;
        }
        std::uint64_t pos = arena_.reserve_fast(n);
        if (TRACEBUF_UNLIKELY(!arena_.fits(pos, n))) {
            pos = barrier_.reserve_slow(p, pos, n);
            if (pos == invalid_position) return nullptr;
        }
        return arena_.data() + pos;
    }

    /// Why a record with `tag` and `payload_size` payload bytes would be refused
    /// (errc::bad_tag, errc::too_large), or errc::ok: the writers' check before they reserve.
    static constexpr errc record_error(std::uint16_t tag, std::size_t payload_size) noexcept {
        return tag == 0                                                      ? errc::bad_tag
               : payload_size > Traits::max_record_size - record_header_size ? errc::too_large
                                                                             : errc::ok;
    }

    /// Reserves one record and writes its header; returns its payload (payload_size bytes,
    /// for the caller to fill) or nullptr on error (p.last_error()). The header is first
    /// (write_record_header): for a record that a crash must leave whole or absent, use
    /// write_record, or reserve() and put_record.
    TRACEBUF_FORCEINLINE void* reserve_record(producer& p, std::uint16_t tag,
                                              std::size_t payload_size) noexcept {
        if (const errc e = record_error(tag, payload_size); TRACEBUF_UNLIKELY(e != errc::ok)) {
            p.refuse(e);
            return nullptr;
        }
        unsigned char* at = reserve(p, record_footprint(payload_size));
        return at == nullptr ? nullptr : write_record_header(at, tag, payload_size);
    }

    /// Reserves and writes one whole record: a reservation mark, the payload, the header last
    /// (as put_record), so a crash leaves it whole or absent - absent as a marked hole.
    errc write_record(producer& p, std::uint16_t tag, const void* payload,
                      std::size_t payload_size) noexcept {
        if (const errc e = record_error(tag, payload_size); TRACEBUF_UNLIKELY(e != errc::ok)) return p.refuse(e);
        unsigned char* at = reserve(p, record_footprint(payload_size));
        if (at == nullptr) return p.last_error_;
        // The claim is marked first (one store to the line the record fills anyway), so that
        // a crash before the header leaves a hole of known size: a reader skips it instead of
        // stopping, and never resynchronises into the payload (in a chunk-mode trace every
        // claim the library writes is then marked before anything else is stored in it).
        mark_reserved(at, record_footprint(payload_size));
        if (payload_size != 0) __builtin_memcpy(at + record_header_size, payload, payload_size);
        TRACEBUF_CRASH_POINT(10);
        commit_record_header(at, tag, payload_size);
        return errc::ok;
    }

    /// Flushes everything reserved before this call. Precondition: `p` is online.
    /// errc::sink_failed if the sink has failed (in this flush or an earlier one).
    errc flush(producer& p) noexcept { return barrier_.flush(p); }

    /// Final drain for exit; see flush_barrier::drain for the precondition.
    errc drain() noexcept { return barrier_.drain(); }

    // ---- For a JIT host: the fast path inline, the slow path as a helper ------------------

    /// Where the position word, the buffer and its capacity live (constant for the life of
    /// the buffer; only the position's value changes - and, with double buffering, which
    /// buffer is current: see jit_layout). Emit:
    ///     pos = fetch_add(*layout.position, n);
    ///     if (pos + n > layout.capacity) pos = reserve_slow(p, pos, n);
    ///     write the records at layout.data + pos   (double buffering: *layout.current_data + pos)
    /// n must be a multiple of 8 in [8, Traits::max_reservation]; the fast path cannot check
    /// it, the slow path refuses a bad n without breaking the protocol.
    jit_layout layout() noexcept { return arena_.layout(); }
    TRACEBUF_FORCEINLINE std::uint64_t reserve_fast(std::uint64_t n) noexcept {
        return arena_.reserve_fast(n);
    }
    std::uint64_t reserve_slow(producer& p, std::uint64_t pos, std::uint64_t n) noexcept {
        return barrier_.reserve_slow(p, pos, n);
    }

    // ---- Observers -------------------------------------------------------------------------

    flush_stats stats() const noexcept { return barrier_.stats(); }
    int sink_error() const noexcept { return barrier_.stats().sink_error; }
    Sink& sink() noexcept { return sink_; }
    const Sink& sink() const noexcept { return sink_; }
    const arena_type& arena() const noexcept { return arena_; }
    const counter_type& counter() const noexcept { return counter_; }

private:
    Sink sink_;
    arena_type arena_;
    counter_type counter_;
    barrier_type barrier_;
};

} // namespace tracebuf

#endif // TRACEBUF_TRACE_BUFFER_HPP
