// tracebuf/chunk_writer.hpp - chunk mode: one shared fetch_add per chunk, not per record.
//
// A chunk_writer is a thread's producer plus the chunk it is filling. It reserves a chunk
// (chunk_bytes, a few KiB) from the trace buffer with one ordinary reservation, starts it
// with a tags::chunk record (pid, tid, chunk sequence; record.hpp), and then places records
// in it with plain stores to its own memory - the cost of a private buffer. When a record
// does not fit, the unused tail becomes padding and the next chunk is reserved.
//
// The flush protocol needs nothing new: a chunk is a reservation, and a thread is online
// while it fills one, so a flush waits until the thread reserves its next chunk (parking
// with the old one complete), goes offline, or goes idle. Before go_offline, unregister and
// flush the writer pads its open chunk; idle() leaves the chunk open and tells the quiescence
// counter where its tail is, so a flush that takes the idle thread over pads the tail itself
// and the thread starts a new chunk when it is busy again. No flush cuts a chunk: every chunk
// lies inside one flush, whole.
//
// Order: a thread's records are in program order, and its chunks in sequence order. Between
// threads the trace is ordered by chunk: record A precedes record B of another thread if A
// happened before B's chunk was reserved. Record mode gives the same statement with "B was
// reserved" (docs/protocol.md, "Order in chunk mode").
//
// A flush waits for every online thread to finish its chunk. A thread that writes slowly
// should use small chunks, or go idle or offline between bursts (host contract). Not for a
// serialized host (Valgrind): its flushes cannot wait for other threads' open chunks, and
// its reservations are uncontended already.
//
// Freestanding (with a freestanding Buffer).
#ifndef TRACEBUF_CHUNK_WRITER_HPP
#define TRACEBUF_CHUNK_WRITER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf {

/// The footprint of the record that starts every chunk.
inline constexpr std::size_t chunk_header_footprint = record_footprint(sizeof(chunk_header));

template <class Buffer>
class chunk_writer {
    using traits = typename Buffer::traits_type;
    // A serialized host flushes without waiting for anyone, so another thread's open chunk
    // would be cut; and its reservations are uncontended plain adds already.
    static_assert(!traits::wait::serialized_host, "chunk mode needs a host whose threads run in parallel");

public:
    using buffer_type = Buffer;

    /// Whether a writer can use chunks of `bytes`: a multiple of 8 in
    /// [chunk_header_footprint + 8, Traits::max_reservation] (4 KiB to 64 KiB suits most
    /// hosts).
    static constexpr bool valid_chunk_size(std::size_t bytes) noexcept {
        return bytes % record_alignment == 0 && bytes >= chunk_header_footprint + record_alignment &&
               bytes <= traits::max_reservation;
    }

    /// A writer for the calling thread, identified in its chunk headers by (pid, tid).
    /// With a chunk size that is not valid_chunk_size, status() is errc::bad_size and
    /// register_thread fails with it. A record larger than a chunk's room gets a chunk of
    /// its own size.
    chunk_writer(Buffer& buffer, std::size_t chunk_bytes, std::uint32_t pid, std::uint32_t tid) noexcept
        : buffer_(buffer), chunk_bytes_(chunk_bytes), pid_(pid), tid_(tid) {}
    chunk_writer(const chunk_writer&) = delete;
    chunk_writer& operator=(const chunk_writer&) = delete;

    /// errc::ok, the buffer's own error (errc::bad_arena), or errc::bad_size for the chunk
    /// size.
    errc status() const noexcept {
        if (const errc e = buffer_.status(); e != errc::ok) return e;
        return valid_chunk_size(chunk_bytes_) ? errc::ok : errc::bad_size;
    }

    // ---- Thread life: as trace_buffer's, closing the open chunk where needed --------------

    errc register_thread() noexcept {
        if (const errc e = status(); e != errc::ok) return producer_.refuse(e);
        return buffer_.register_thread(producer_);
    }
    errc unregister_thread() noexcept {
        close_before_leaving();
        return buffer_.unregister_thread(producer_);
    }
    errc go_offline() noexcept {
        close_before_leaving();
        return buffer_.go_offline(producer_);
    }
    errc go_online() noexcept { return buffer_.go_online(producer_); }

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

    /// Reserves `n` bytes (a multiple of 8) in the current chunk, or in a new one. Fill them
    /// completely before the next call on this writer. nullptr on error (last_error()).
    TRACEBUF_FORCEINLINE unsigned char* reserve(std::size_t n) noexcept {
        if (TRACEBUF_LIKELY(n <= static_cast<std::size_t>(end_ - cursor_) && n != 0 &&
                            n % record_alignment == 0)) {
            unsigned char* at = cursor_;
            cursor_ += n;
            return at;
        }
        return reserve_in_new_chunk(n);
    }

    /// Reserves one record and writes its header; returns its payload, or nullptr.
    TRACEBUF_FORCEINLINE void* reserve_record(std::uint16_t tag, std::size_t payload_size) noexcept {
        if (TRACEBUF_UNLIKELY(tag == 0 || payload_size > traits::max_record_size - record_header_size)) {
            producer_.refuse(tag == 0 ? errc::bad_tag : errc::too_large);
            return nullptr;
        }
        unsigned char* at = reserve(record_footprint(payload_size));
        return at == nullptr ? nullptr : write_record_header(at, tag, payload_size);
    }

    errc write_record(std::uint16_t tag, const void* payload, std::size_t payload_size) noexcept {
        void* body = reserve_record(tag, payload_size);
        if (body == nullptr) return producer_.last_error();
        if (payload_size != 0) __builtin_memcpy(body, payload, payload_size);
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

private:
    void pad_open_chunk() noexcept {
        if (cursor_ != end_) write_padding(cursor_, static_cast<std::size_t>(end_ - cursor_), traits::max_record_size);
        cursor_ = end_ = nullptr;
    }

    unsigned char* reserve_in_new_chunk(std::size_t n) noexcept {
        errc why = errc::ok;
        if (n == 0 || n % record_alignment != 0) why = errc::bad_size;
        else if (n > traits::max_reservation - chunk_header_footprint) why = errc::too_large;
        else if (producer_.state() != producer_state::online) why = errc::not_online;
        if (why != errc::ok) {
            producer_.refuse(why);
            return nullptr;
        }
        // Pad the old chunk first: the reservation below may park, and the flush it waits
        // for reads the old chunk.
        pad_open_chunk();
        const std::size_t bytes =
            n + chunk_header_footprint > chunk_bytes_ ? n + chunk_header_footprint : chunk_bytes_;
        unsigned char* chunk = buffer_.reserve(producer_, bytes);
        if (chunk == nullptr) return nullptr;
        const chunk_header h{pid_, tid_, static_cast<std::uint32_t>(bytes), sequence_++};
        put_record(chunk, tags::chunk, &h, sizeof h);
        cursor_ = chunk + chunk_header_footprint + n;
        end_ = chunk + bytes;
        return chunk + chunk_header_footprint;
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
    std::size_t chunk_bytes_;
    std::uint32_t pid_;
    std::uint32_t tid_;
};

} // namespace tracebuf

#endif // TRACEBUF_CHUNK_WRITER_HPP
