// tracebuf/detail/chunked_writer.hpp - what chunk mode and ordered mode share: a thread's
// producer plus the chunk it is filling. chunk_writer.hpp and ordered_writer.hpp are the
// public faces (and say what each mode guarantees); this is their one implementation.
//
// A chunk is one ordinary reservation (chunk_bytes, a few KiB) that starts with a chunk
// header record (pid, tid, bytes, per-thread sequence; record.hpp); the writer then places
// records in it with plain stores to its own memory. When a reservation does not fit, the
// unused tail becomes padding and the next chunk is reserved.
//
// Ordered (the second parameter): every chunk's header is tags::ordered_chunk, and the
// records carry stamps from Traits::clock. The first thing in a chunk is a full stamp
// record (tags::stamp); before each later reservation whose stamp differs from the
// previous one, a delta record (tags::stamp_delta, 8 bytes, or a full stamp when the delta
// needs more than 32 bits). A stamp applies to every record up to the next stamp record.
// Stamps never decrease within a thread: each read is clamped to the previous stamp.
//
// Freestanding (with a freestanding Buffer and clock).
#ifndef TRACEBUF_DETAIL_CHUNKED_WRITER_HPP
#define TRACEBUF_DETAIL_CHUNKED_WRITER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/writer.hpp>

namespace tracebuf {

namespace detail {

template <class Buffer, bool Ordered>
class basic_chunk_writer {
    using traits = typename Buffer::traits_type;
    // A serialized host flushes without waiting for anyone, so another thread's open chunk
    // would be cut; and its reservations are uncontended plain adds already.
    static_assert(!traits::wait::serialized_host, "chunk mode needs a host whose threads run in parallel");

    // What a new chunk holds before the first reservation: its header, and in ordered mode
    // the full stamp of that reservation.
    static constexpr std::size_t chunk_overhead = chunk_header_footprint + (Ordered ? full_stamp_footprint : 0);

public:
    using buffer_type = Buffer;

    /// Whether a writer can use chunks of `bytes`: a multiple of 8 that holds the chunk's
    /// header (and, ordered, its first stamp) and at least one 8-byte record, and is at
    /// most Traits::max_reservation (4 KiB to 64 KiB suits most hosts).
    static constexpr bool valid_chunk_size(std::size_t bytes) noexcept {
        return bytes % record_alignment == 0 && bytes >= chunk_overhead + record_alignment &&
               bytes <= traits::max_reservation;
    }

    /// A writer for the calling thread, identified in its chunk headers by (pid, tid).
    /// With a chunk size that is not valid_chunk_size, status() is errc::bad_size and
    /// register_thread fails with it. A reservation larger than a chunk's room gets a
    /// chunk of its own size.
    basic_chunk_writer(Buffer& buffer, std::size_t chunk_bytes, std::uint32_t pid, std::uint32_t tid) noexcept
        : buffer_(buffer), chunk_bytes_(chunk_bytes), pid_(pid), tid_(tid) {
        if constexpr (Ordered) static_assert(check_clock_policy<typename traits::clock>());
    }
    basic_chunk_writer(const basic_chunk_writer&) = delete;
    basic_chunk_writer& operator=(const basic_chunk_writer&) = delete;

    /// errc::ok, the buffer's own error (errc::bad_arena), or errc::bad_size for the chunk
    /// size.
    errc status() const noexcept {
        if (const errc e = buffer_.status(); e != errc::ok) return e;
        return valid_chunk_size(chunk_bytes_) ? errc::ok : errc::bad_size;
    }

    // ---- Thread life: as trace_buffer's, closing the open chunk where needed --------------

    errc register_thread() noexcept {
        if (const errc e = status(); e != errc::ok) return producer_.refuse(e);
        const errc e = buffer_.register_thread(producer_);
        if (e == errc::ok) fresh_ = true;
        return e;
    }
    errc unregister_thread() noexcept {
        close_before_leaving();
        return buffer_.unregister_thread(producer_);
    }
    errc go_offline() noexcept {
        close_before_leaving();
        return buffer_.go_offline(producer_);
    }
    /// Ordered: the first stamp after coming back is an ordered read whatever the
    /// reservation asks, since the syscall may have been where the thread synchronised.
    errc go_online() noexcept {
        const errc e = buffer_.go_online(producer_);
        if (e == errc::ok) fresh_ = true;
        return e;
    }

    /// Between callbacks (Traits::idle_slots > 0): leaves the chunk open, at no cost beyond
    /// trace_buffer::idle. Reservations fail with errc::not_online until busy().
    errc idle() noexcept {
        const errc e = buffer_.idle(producer_, cursor_, static_cast<std::size_t>(end_ - cursor_));
        if (e != errc::ok) return e;
        idle_end_ = end_;
        end_ = cursor_; // the fast path now fails, and the slow path reports not_online
        return errc::ok;
    }
    errc busy() noexcept {
        const errc e = buffer_.busy(producer_);
        if (e != errc::ok) return e;
        if (producer_.taken_over()) cursor_ = idle_end_ = nullptr; // a flush padded the tail
        end_ = idle_end_;
        return errc::ok;
    }

    // ---- Records ---------------------------------------------------------------------------

    /// Reserves `n` bytes (a multiple of 8) in the current chunk, or in a new one, stamped
    /// as `how` says (ordered mode; ignored otherwise). Fill them completely before the next
    /// call on this writer. nullptr on error (last_error()).
    TRACEBUF_FORCEINLINE unsigned char* reserve(std::size_t n, stamp how = stamp::ordered) noexcept {
        if constexpr (Ordered) {
            std::uint64_t t = last_stamp_;
            std::size_t stamp_bytes = 0;
            if (how != stamp::inherit || TRACEBUF_UNLIKELY(fresh_)) {
                t = read_clock(how);
                if (t != last_stamp_)
                    stamp_bytes = t - last_stamp_ <= 0xffffffffu ? delta_stamp_footprint : full_stamp_footprint;
            }
            if (TRACEBUF_LIKELY(n + stamp_bytes <= static_cast<std::size_t>(end_ - cursor_) && n != 0 &&
                                n % record_alignment == 0)) {
                if (stamp_bytes != 0) put_stamp(cursor_, t, stamp_bytes);
                unsigned char* at = cursor_ + stamp_bytes;
                cursor_ = at + n;
                last_stamp_ = t;
                return at;
            }
            return reserve_in_new_chunk(n, t);
        } else {
            (void)how;
            if (TRACEBUF_LIKELY(n <= static_cast<std::size_t>(end_ - cursor_) && n != 0 &&
                                n % record_alignment == 0)) {
                unsigned char* at = cursor_;
                cursor_ += n;
                return at;
            }
            return reserve_in_new_chunk(n, 0);
        }
    }

    /// Reserves one record and writes its header; returns its payload, or nullptr.
    TRACEBUF_FORCEINLINE void* reserve_record(std::uint16_t tag, std::size_t payload_size,
                                              stamp how = stamp::ordered) noexcept {
        if (const errc e = Buffer::record_error(tag, payload_size); TRACEBUF_UNLIKELY(e != errc::ok)) {
            producer_.refuse(e);
            return nullptr;
        }
        unsigned char* at = reserve(record_footprint(payload_size), how);
        return at == nullptr ? nullptr : write_record_header(at, tag, payload_size);
    }

    errc write_record(std::uint16_t tag, const void* payload, std::size_t payload_size,
                      stamp how = stamp::ordered) noexcept {
        if (const errc e = Buffer::record_error(tag, payload_size); TRACEBUF_UNLIKELY(e != errc::ok))
            return producer_.refuse(e);
        unsigned char* at = reserve(record_footprint(payload_size), how);
        if (at == nullptr) return producer_.last_error();
        put_record(at, tag, payload, payload_size); // payload first, header last
        return errc::ok;
    }

    /// Pads the open chunk, so that the next record starts a new one (for example at a
    /// synchronising instruction). Precondition: online (busy), else errc::not_online and
    /// nothing changes.
    errc close_chunk() noexcept {
        if (producer_.state() != producer_state::online) return producer_.refuse(errc::not_online);
        pad_open_chunk();
        return errc::ok;
    }

    /// Closes the open chunk and flushes (trace_buffer::flush).
    errc flush() noexcept {
        if (producer_.state() == producer_state::online) pad_open_chunk();
        return buffer_.flush(producer_);
    }

    // ---- Observers -------------------------------------------------------------------------

    const tracebuf::producer& producer() const noexcept { return producer_; }
    errc last_error() const noexcept { return producer_.last_error(); }
    /// Chunks this writer has started.
    std::uint64_t chunks() const noexcept { return sequence_; }
    /// Bytes left in the open chunk (0 if none is open or the writer is idle).
    std::size_t room() const noexcept { return static_cast<std::size_t>(end_ - cursor_); }
    /// Ordered mode: the thread's last stamp (0 before its first).
    std::uint64_t last_stamp() const noexcept { return last_stamp_; }

private:
    // A stamp for the next reservation, never below the previous one.
    std::uint64_t read_clock(stamp how) noexcept {
        using clock = typename traits::clock;
        const std::uint64_t t = how == stamp::relaxed && !fresh_ ? clock::relaxed() : clock::ordered();
        fresh_ = false;
        return t < last_stamp_ ? last_stamp_ : t;
    }

    void put_stamp(unsigned char* at, std::uint64_t t, std::size_t bytes) noexcept {
        if (bytes == delta_stamp_footprint) {
            const std::uint32_t delta = static_cast<std::uint32_t>(t - last_stamp_);
            put_record(at, tags::stamp_delta, &delta, sizeof delta);
        } else {
            const std::uint32_t zero = 0;
            __builtin_memcpy(at + record_header_size, &zero, sizeof zero);
            __builtin_memcpy(at + 8, &t, sizeof t);
            commit_record_header(at, tags::stamp, full_stamp_footprint - record_header_size);
        }
    }

    void pad_open_chunk() noexcept {
        if (cursor_ != end_) write_padding(cursor_, static_cast<std::size_t>(end_ - cursor_), traits::max_record_size);
        cursor_ = end_ = nullptr;
    }

    // `t`: the reservation's stamp (ordered mode), which starts the new chunk.
    unsigned char* reserve_in_new_chunk(std::size_t n, std::uint64_t t) noexcept {
        errc why = errc::ok;
        if (n == 0 || n % record_alignment != 0) why = errc::bad_size;
        else if (n > traits::max_reservation - chunk_overhead) why = errc::too_large;
        else if (producer_.state() != producer_state::online) why = errc::not_online;
        if (why != errc::ok) {
            producer_.refuse(why);
            return nullptr;
        }
        // Pad the old chunk first: the reservation below may park, and the flush it waits
        // for reads the old chunk.
        pad_open_chunk();
        const std::size_t bytes = n + chunk_overhead > chunk_bytes_ ? n + chunk_overhead : chunk_bytes_;
        unsigned char* chunk = buffer_.reserve(producer_, bytes);
        if (chunk == nullptr) return nullptr;
        mark_reserved(chunk, bytes); // a crash before the header reads as a hole of known size
        const chunk_header h{pid_, tid_, static_cast<std::uint32_t>(bytes), sequence_++};
        put_record(chunk, Ordered ? tags::ordered_chunk : tags::chunk, &h, sizeof h);
        unsigned char* at = chunk + chunk_header_footprint;
        if constexpr (Ordered) {
            put_stamp(at, t, full_stamp_footprint);
            at += full_stamp_footprint;
            last_stamp_ = t;
        }
        cursor_ = at + n;
        end_ = chunk + bytes;
        return at;
    }

    // Before the thread stops counting as online: pad the open chunk while it still may.
    void close_before_leaving() noexcept {
        if constexpr (traits::idle_slots > 0) {
            if (producer_.state() == producer_state::idle) {
                if (!buffer_.reclaim_idle(producer_)) { // a flush took it over, padded the tail
                    cursor_ = end_ = idle_end_ = nullptr;
                    return;
                }
                end_ = idle_end_;
            }
        }
        if (producer_.state() == producer_state::online) pad_open_chunk();
    }

    Buffer& buffer_;
    tracebuf::producer producer_;
    unsigned char* cursor_ = nullptr; // next free byte of the open chunk
    unsigned char* end_ = nullptr;    // its end; == cursor_ while idle or with no open chunk
    unsigned char* idle_end_ = nullptr;
    std::uint64_t sequence_ = 0;
    std::uint64_t last_stamp_ = 0; // ordered mode
    std::size_t chunk_bytes_;
    std::uint32_t pid_;
    std::uint32_t tid_;
    bool fresh_ = false; // ordered mode: the next stamp is an ordered read
};

} // namespace detail
} // namespace tracebuf

#endif // TRACEBUF_DETAIL_CHUNKED_WRITER_HPP
