// tracebuf/ordered_merge.hpp - ordered mode's merge: the records of one flushed buffer, in
// stamp order, in record mode's form.
//
// Input: a flushed buffer of ordered mode (ordered_writer.hpp): ordered chunks - each a
// header (pid, tid, bytes, sequence), a full stamp, then records, with a stamp record
// before every reservation whose stamp moved - and, outside chunks, records written through
// a record writer (a tracer's header and summary). Output, through `emit`:
//   1. the records outside chunks, in buffer order (they have no stamp; in ordered mode they
//      are the tracer's own: its header before anything, its summary at exit);
//   2. the records of all chunks, by (stamp, thread), each thread's in its own order.
// Chunk headers, stamps and padding are dropped. A thread's chunks in one buffer are in
// sequence order (their claims are), so each thread is one stream; the merge is a k-way
// merge over the threads, k <= MaxThreads. Equal stamps of two threads go in the order in
// which the threads' first chunks lie in the buffer: deterministic for a given buffer. Why
// one buffer at a time is enough: the barrier orders flushes (docs/protocol.md, "Ordered
// mode").
//
// Nothing is allocated; the merge reads the buffer and never writes it (the buffer may be a
// window of the trace file, crash_file.hpp). A malformed record (never written by tracebuf's
// writers; a host writing outside its reservation) ends its chunk: the rest of that chunk is
// skipped and counted in merge_result::skipped_bytes, everything else is merged.
//
// merging_sink: a sink (policies.hpp) that merges each flush into a scratch buffer and hands
// the result to an inner sink, in pieces of at most the scratch size. With double buffering
// the merge runs after the parked threads were released, on the flusher: off the other
// producers' critical path, with the write-out's back-pressure (a merge that cannot keep up
// delays the next flush; nothing is dropped).
//
// Freestanding.
#ifndef TRACEBUF_ORDERED_MERGE_HPP
#define TRACEBUF_ORDERED_MERGE_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf {

enum class merge_fault : unsigned char {
    none,
    bad_record,       ///< a record outside chunks is malformed: the rest of the buffer is unreadable
    bad_chunk,        ///< a record inside a chunk is malformed: the rest of that chunk was skipped
    too_many_threads, ///< more threads than the merge's table: their chunks were skipped
};

struct merge_result {
    std::size_t records = 0;       ///< records emitted
    std::size_t chunks = 0;        ///< ordered chunks read
    std::size_t threads = 0;       ///< threads merged
    std::size_t skipped_bytes = 0; ///< bytes not merged because of a fault
    merge_fault fault = merge_fault::none;
    std::size_t fault_offset = 0; ///< where the first fault is
};

namespace detail {

struct record_view {
    std::uint16_t tag;
    std::uint16_t length;
};

// Reads the header at `at`; false unless a whole valid record lies in [at, limit).
TRACEBUF_FORCEINLINE bool read_record(const unsigned char* data, std::size_t at, std::size_t limit,
                                      std::size_t max_record, record_view& r) noexcept {
    if (limit - at < record_header_size) return false;
    __builtin_memcpy(&r.tag, data + at, 2);
    __builtin_memcpy(&r.length, data + at + 2, 2);
    return r.tag != 0 && r.length >= record_header_size && r.length <= max_record &&
           align_up(r.length) <= limit - at;
}

template <std::size_t MaxThreads>
class ordered_merger {
public:
    template <class Emit>
    merge_result run(const unsigned char* data, std::size_t size, std::size_t max_record, Emit& emit) noexcept {
        data_ = data;
        size_ = size;
        max_record_ = max_record;
        result_ = merge_result{};
        threads_ = 0;
        first_pass(emit);
        merge(emit);
        result_.threads = threads_;
        return result_;
    }

private:
    struct cursor {
        std::uint32_t pid, tid;
        std::size_t chunk_end; // end of the chunk `at` is in
        std::size_t at;        // next record to look at
        std::uint64_t stamp;   // stamp of the record at `at`
    };

    void fault(merge_fault f, std::size_t offset, std::size_t skipped) noexcept {
        if (result_.fault == merge_fault::none) {
            result_.fault = f;
            result_.fault_offset = offset;
        }
        result_.skipped_bytes += skipped;
    }

    // Whether [at, size_) starts an ordered chunk; its header in `h`.
    bool chunk_at(std::size_t at, const record_view& r, chunk_header& h) const noexcept {
        if (r.tag != tags::ordered_chunk || r.length != record_header_size + sizeof h) return false;
        __builtin_memcpy(&h, data_ + at + record_header_size, sizeof h);
        return h.bytes >= chunk_header_footprint && h.bytes % record_alignment == 0 && h.bytes <= size_ - at;
    }

    // Records outside chunks go out now, in buffer order; chunks are assigned to threads.
    template <class Emit>
    void first_pass(Emit& emit) noexcept {
        std::size_t at = 0;
        while (at < size_) {
            record_view r;
            if (!read_record(data_, at, size_, max_record_, r)) return fault(merge_fault::bad_record, at, size_ - at);
            chunk_header h;
            const bool chunk = chunk_at(at, r, h);
            if (!chunk && r.tag == tags::ordered_chunk) return fault(merge_fault::bad_record, at, size_ - at);
            if (chunk) {
                ++result_.chunks;
                if (find_thread(h.pid, h.tid) == MaxThreads) {
                    if (threads_ == MaxThreads) {
                        fault(merge_fault::too_many_threads, at, h.bytes);
                    } else {
                        cursors_[threads_] = cursor{h.pid, h.tid, at + h.bytes, at + chunk_header_footprint, 0};
                        ++threads_;
                    }
                }
                at += h.bytes;
                continue;
            }
            if (r.tag != tags::padding) {
                emit(data_ + at, align_up(r.length));
                ++result_.records;
            }
            at += align_up(r.length);
        }
    }

    std::size_t find_thread(std::uint32_t pid, std::uint32_t tid) const noexcept {
        for (std::size_t i = 0; i < threads_; ++i)
            if (cursors_[i].pid == pid && cursors_[i].tid == tid) return i;
        return MaxThreads;
    }

    // Moves c past stamps and padding to its next record to emit, into the thread's next
    // chunk when this one ends. False when the thread has no more records in this buffer.
    bool settle(cursor& c) noexcept {
        for (;;) {
            while (c.at < c.chunk_end) {
                record_view r;
                if (!read_record(data_, c.at, c.chunk_end, max_record_, r)) {
                    fault(merge_fault::bad_chunk, c.at, c.chunk_end - c.at);
                    c.at = c.chunk_end;
                    break;
                }
                // A stamp record of another length is malformed, like a bad record: it ends the
                // chunk (emitted as a record, it would stop every unit at itself, and the
                // merge would emit nothing, forever).
                const bool stamp_record = r.tag == tags::stamp || r.tag == tags::stamp_delta;
                if (stamp_record && r.length != (r.tag == tags::stamp ? full_stamp_footprint : delta_stamp_footprint)) {
                    fault(merge_fault::bad_chunk, c.at, c.chunk_end - c.at);
                    c.at = c.chunk_end;
                    break;
                }
                if (r.tag == tags::stamp_delta) {
                    std::uint32_t delta;
                    __builtin_memcpy(&delta, data_ + c.at + 4, 4);
                    c.stamp += delta;
                } else if (r.tag == tags::stamp) {
                    __builtin_memcpy(&c.stamp, data_ + c.at + 8, 8);
                } else if (r.tag != tags::padding) {
                    return true;
                }
                c.at += align_up(r.length);
            }
            if (!next_chunk(c)) return false;
        }
    }

    // Finds the thread's next chunk after its current one. A thread's chunks are in
    // sequence order in the buffer; the walk skips other chunks by their size.
    bool next_chunk(cursor& c) noexcept {
        std::size_t at = c.chunk_end;
        while (at < size_) {
            record_view r;
            if (!read_record(data_, at, size_, max_record_, r)) return false; // counted by first_pass
            chunk_header h;
            if (chunk_at(at, r, h)) {
                if (h.pid == c.pid && h.tid == c.tid) {
                    c.at = at + chunk_header_footprint;
                    c.chunk_end = at + h.bytes;
                    return true;
                }
                at += h.bytes;
            } else {
                at += align_up(r.length);
            }
        }
        return false;
    }

    // A cursor's place in the merge: its stamp, and its rank (first chunk's place) on a tie.
    bool before(std::size_t a, std::size_t b) const noexcept {
        return cursors_[a].stamp < cursors_[b].stamp || (cursors_[a].stamp == cursors_[b].stamp && a < b);
    }

    void sift_down(std::size_t i) noexcept {
        for (;;) {
            std::size_t least = i;
            const std::size_t l = 2 * i + 1, r = l + 1;
            if (l < heap_size_ && before(heap_[l], heap_[least])) least = l;
            if (r < heap_size_ && before(heap_[r], heap_[least])) least = r;
            if (least == i) return;
            const std::size_t t = heap_[i];
            heap_[i] = heap_[least];
            heap_[least] = t;
            i = least;
        }
    }

    template <class Emit>
    void merge(Emit& emit) noexcept {
        heap_size_ = 0;
        for (std::size_t i = 0; i < threads_; ++i)
            if (settle(cursors_[i])) heap_[heap_size_++] = i;
        for (std::size_t i = heap_size_; i-- > 0;) sift_down(i);
        while (heap_size_ != 0) {
            const std::size_t top = heap_[0];
            cursor& c = cursors_[top];
            // The runner-up, to emit a run of the top thread without touching the heap.
            std::size_t next = MaxThreads;
            if (heap_size_ > 1) next = heap_size_ > 2 && before(heap_[2], heap_[1]) ? heap_[2] : heap_[1];
            for (;;) {
                // The unit at c.at: its records up to the next stamp, padding or the chunk's
                // end lie back to back, so they go out in one piece.
                std::size_t end = c.at;
                // The buffer was written by other cores: fetch ahead of the walk (up to the
                // chunk's end, which the buffer contains).
                if (c.at + 512 < c.chunk_end) __builtin_prefetch(data_ + c.at + 512);
                while (end < c.chunk_end) {
                    record_view r;
                    if (!read_record(data_, end, c.chunk_end, max_record_, r)) break; // settle() reports it
                    if (r.tag == tags::stamp || r.tag == tags::stamp_delta || r.tag == tags::padding) break;
                    end += align_up(r.length);
                    ++result_.records;
                }
                emit(data_ + c.at, end - c.at);
                c.at = end;
                if (!settle(c)) {
                    heap_[0] = heap_[--heap_size_];
                    break;
                }
                if (next != MaxThreads && before(next, top)) break;
            }
            sift_down(0);
        }
    }

    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t max_record_ = 0;
    merge_result result_;
    std::size_t threads_ = 0;
    std::size_t heap_size_ = 0;
    cursor cursors_[MaxThreads];
    std::size_t heap_[MaxThreads];
};

} // namespace detail

/// Merges one flushed buffer of ordered mode (see the top of this header) and calls
/// emit(records, bytes) for each piece of the result, in order: `bytes` (a multiple of 8) of
/// whole records back to back in `data`, each padded to 8 as it lies there (the padding bytes
/// are whatever the writer left: zero unless the buffer is reused without
/// Traits::zero_after_flush). `merger` holds the
/// per-thread state (MaxThreads threads; keep it off the stack for large tables).
template <std::size_t MaxThreads, class Emit>
merge_result merge_ordered(detail::ordered_merger<MaxThreads>& merger, const void* data, std::size_t size,
                           std::size_t max_record_size, Emit&& emit) noexcept {
    return merger.run(static_cast<const unsigned char*>(data), size, max_record_size, emit);
}

/// Merge statistics of a merging_sink (snapshots; one flusher at a time writes them).
struct merge_stats {
    std::uint64_t flushes = 0;
    std::uint64_t records = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t skipped_bytes = 0;
    merge_fault first_fault = merge_fault::none;
};

/// A sink that merges each flush (merge_ordered) into `scratch` and writes the result to
/// `Inner` - in one write per flush when the scratch holds the merged flush (give it the
/// buffer's capacity: the output is never larger than the input), else in pieces. Returns the
/// inner sink's error, or EBADMSG (74, Linux's number) after a fault in the input, having
/// written everything that could be merged.
template <class Inner, std::size_t MaxThreads = 256>
class merging_sink {
    static_assert(detail::check_sink<Inner>());

public:
    static constexpr int bad_input = 74; // EBADMSG

    /// `scratch`: 8-byte aligned, at least max_record_size + 8 bytes (else status() is
    /// errc::bad_argument and every write fails with EINVAL); not owned.
    merging_sink(Inner inner, void* scratch, std::size_t scratch_bytes, std::size_t max_record_size = 4096) noexcept
        : inner_(static_cast<Inner&&>(inner)), scratch_(static_cast<unsigned char*>(scratch)),
          scratch_bytes_(scratch_bytes & ~std::size_t{record_alignment - 1}), max_record_(max_record_size) {}

    errc status() const noexcept {
        const bool aligned = reinterpret_cast<std::uintptr_t>(scratch_) % record_alignment == 0;
        return scratch_ != nullptr && aligned && scratch_bytes_ >= align_up(max_record_) + record_alignment
                   ? errc::ok
                   : errc::bad_argument;
    }

    int write(const void* data, std::size_t size) noexcept {
        if (status() != errc::ok) return 22; // EINVAL
        used_ = 0;
        error_ = 0;
        const merge_result r = merge_ordered(merger_, data, size, max_record_,
                                             [this](const unsigned char* records, std::size_t bytes) noexcept {
                                                 append(records, bytes);
                                             });
        if (used_ != 0) hand_over();
        ++stats_.flushes;
        stats_.records += r.records;
        stats_.bytes_in += size;
        stats_.skipped_bytes += r.skipped_bytes;
        if (stats_.first_fault == merge_fault::none) stats_.first_fault = r.fault;
        if (error_ != 0) return error_;
        return r.fault == merge_fault::none ? 0 : bad_input;
    }

    Inner& inner() noexcept { return inner_; }
    const Inner& inner() const noexcept { return inner_; }
    const merge_stats& stats() const noexcept { return stats_; }

private:
    TRACEBUF_FORCEINLINE void append(const unsigned char* records, std::size_t bytes) noexcept {
        if (TRACEBUF_UNLIKELY(scratch_bytes_ - used_ < bytes)) {
            hand_over();
            if (bytes > scratch_bytes_) { // a piece larger than the scratch goes out as it is
                if (error_ == 0) error_ = inner_.write(records, bytes);
                stats_.bytes_out += bytes;
                return;
            }
        }
        __builtin_memcpy(scratch_ + used_, records, bytes);
        used_ += bytes;
    }

    void hand_over() noexcept {
        if (error_ == 0) error_ = inner_.write(scratch_, used_);
        stats_.bytes_out += used_;
        used_ = 0;
    }

    Inner inner_;
    unsigned char* scratch_;
    std::size_t scratch_bytes_;
    std::size_t max_record_;
    std::size_t used_ = 0;
    int error_ = 0;
    merge_stats stats_;
    detail::ordered_merger<MaxThreads> merger_;
};

} // namespace tracebuf

#endif // TRACEBUF_ORDERED_MERGE_HPP
