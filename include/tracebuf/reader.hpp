// tracebuf/reader.hpp - walks a flushed byte range and validates every record.
//
// A valid range is a sequence of records, each starting on an 8-byte boundary with a
// non-zero tag and a length in [4, max_record_size] that stays inside the range. The walk
// stops at the first bad record and reports its offset and the reason. Freestanding.
//
// Which thread wrote a record: chunk_reader.hpp tells it by chunk (chunk mode), and
// memtrace_reader.hpp by the memtrace tracers' slots and THREAD records; both are hosted.
#ifndef TRACEBUF_READER_HPP
#define TRACEBUF_READER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/record.hpp>

namespace tracebuf {

enum class record_fault {
    none,
    hole,         ///< tag 0: reserved bytes that nobody wrote (or zero-filled space)
    short_length, ///< length < 4: shorter than its own header
    long_length,  ///< length > max_record_size
    truncated,    ///< the record or its padding runs past the end of the range
};

constexpr const char* to_string(record_fault f) noexcept {
    switch (f) {
    case record_fault::none: return "none";
    case record_fault::hole: return "hole (tag 0: reserved but never written)";
    case record_fault::short_length: return "length shorter than the 4-byte header";
    case record_fault::long_length: return "length above the maximum record size";
    case record_fault::truncated: return "record runs past the end of the data";
    }
    return "unknown record fault";
}

struct scan_result {
    std::size_t records = 0;     ///< valid records before the first fault
    std::size_t valid_bytes = 0; ///< where the first fault starts (== size if none)
    record_fault fault = record_fault::none;

    constexpr bool ok() const noexcept { return fault == record_fault::none; }
};

/// Calls visit(tag, payload, payload_size, offset) for each valid record of
/// [data, data + size), in order, and stops at the first fault.
template <class Visitor>
scan_result scan_records(const void* data, std::size_t size, std::size_t max_record_size,
                         Visitor&& visit) {
    const unsigned char* bytes = static_cast<const unsigned char*>(data);
    scan_result r;
    std::size_t at = 0;
    while (at < size) {
        r.valid_bytes = at;
        if (size - at < record_header_size) {
            r.fault = record_fault::truncated;
            return r;
        }
        record_header h;
        __builtin_memcpy(&h, bytes + at, sizeof h);
        if (h.tag == 0) r.fault = record_fault::hole;
        else if (h.length < record_header_size) r.fault = record_fault::short_length;
        else if (h.length > max_record_size) r.fault = record_fault::long_length;
        else if (align_up(h.length) > size - at) r.fault = record_fault::truncated;
        if (r.fault != record_fault::none) return r;
        visit(h.tag, bytes + at + record_header_size,
              static_cast<std::size_t>(h.length - record_header_size), at);
        ++r.records;
        at += align_up(h.length);
    }
    r.valid_bytes = size;
    return r;
}

/// Validation only.
inline scan_result scan_records(const void* data, std::size_t size, std::size_t max_record_size) {
    return scan_records(data, size, max_record_size,
                        [](std::uint16_t, const unsigned char*, std::size_t, std::size_t) {});
}

/// What scan_trace found in a trace whose writer may have died (docs/reading-traces.md,
/// "Crashed traces").
struct trace_scan_result {
    std::size_t records = 0;                 ///< whole records read (padding and chunk headers included)
    std::size_t stop = 0;                    ///< where reading stopped (== size if it read everything)
    record_fault fault = record_fault::none; ///< why it stopped there
    bool zero_tail = false;                  ///< everything from `stop` to the end is zero
    std::size_t chunk_holes = 0;             ///< chunks whose unwritten rest was skipped
    std::size_t first_chunk_hole = 0;        ///< offset of the first such hole
    std::size_t marked_holes = 0;            ///< reservations marked but never written, skipped
    std::size_t first_marked_hole = 0;
    std::size_t zero_claims = 0; ///< chunk mode: claims never touched at all, skipped
    std::size_t first_zero_claim = 0;
    std::size_t skips = 0; ///< tags::skip records followed (a window being rewritten)
    std::size_t first_skip = 0;

    /// Nothing unread but zeros: every record the file holds was read.
    constexpr bool read_everything() const noexcept { return fault == record_fault::none || zero_tail; }
};

/// Like scan_records, for a trace that may have ended abnormally (a file_window trace whose
/// writer died): records are whole or absent, since the writers store each header last
/// (commit_record_header). A hole whose length field is set (mark_reserved: a chunk or a
/// flusher's claim that was reserved and not written) is skipped by that length. Any other
/// hole (tag 0) inside a chunk (tags::chunk, tags::ordered_chunk)
/// is where the chunk's thread stopped writing: the rest of the chunk is skipped and reading
/// goes on after it. In a chunk-mode trace (once a chunk was read), a hole outside any chunk
/// is a claim nobody touched (every claim the library writes - a chunk, a write_record - is
/// marked first): it is all zeros, and reading goes on at the next non-zero word if that is
/// a mark or a chunk header. A host's claim stored into without a mark breaks that premise
/// (docs/host-contract.md). Any other
/// hole has no known length - it may be a record
/// whose payload was written and whose header was not - so reading stops there; so it does
/// at any other fault. A tags::skip record (a window the writer was rewriting when it died)
/// is followed to the record it names. `stop`, `fault` and `zero_tail` say where and whether anything but
/// zeros was left unread.
/// What the caller of scan_trace knows about the trace.
struct scan_options {
    /// Every claim in the trace was marked before anything was stored in it: a trace written
    /// only through the library's writers (chunk_writer, ordered_writer, write_record), with
    /// no host storing into claims of its own unmarked (a JIT's inline records). Then an
    /// unmarked hole anywhere is a claim nobody touched, and reading resumes after it from
    /// the start - not only once a chunk was read. An ordered trace needs it: its merged
    /// windows hold no chunk, so without it an untouched claim in the window current at the
    /// death stops the reader even when whole chunks follow.
    bool claims_marked = false;
};

template <class Visitor>
trace_scan_result scan_trace(const void* data, std::size_t size, std::size_t max_record_size, Visitor&& visit,
                             scan_options options = {}) {
    const unsigned char* bytes = static_cast<const unsigned char*>(data);
    trace_scan_result r;
    std::size_t at = 0;
    std::size_t chunk_end = 0;               // end of the chunk that covers `at`, if any
    bool seen_chunk = options.claims_marked; // a chunk-mode trace, or one whose claims are all marked
    while (at < size) {
        if (size - at < record_header_size) {
            r.fault = record_fault::truncated;
            break;
        }
        record_header h;
        __builtin_memcpy(&h, bytes + at, sizeof h);
        if (h.tag == 0) {
            const std::size_t marked = std::size_t{h.length} * record_alignment;
            if (marked != 0 && marked <= size - at) { // a reservation mark (mark_reserved)
                if (r.marked_holes++ == 0) r.first_marked_hole = at;
                at += marked;
                continue;
            }
            if (at < chunk_end && chunk_end <= size) { // where the chunk's thread stopped
                if (r.chunk_holes++ == 0) r.first_chunk_hole = at;
                at = chunk_end;
                continue;
            }
            if (seen_chunk && at >= chunk_end) {
                // Chunk mode: every claim is a chunk, marked before anything else is written
                // in it, so an unmarked claim is all zeros: the next non-zero word starts the
                // next claim - a mark or a chunk header, or reading stops here.
                std::size_t next = at;
                std::uint64_t word = 0;
                while (next + sizeof word <= size) {
                    __builtin_memcpy(&word, bytes + next, sizeof word);
                    if (word != 0) break;
                    next += sizeof word;
                }
                if (word != 0) {
                    record_header n;
                    __builtin_memcpy(&n, bytes + next, sizeof n);
                    // A mark counts only if its claim fits in the data: one that runs past the
                    // end would be resumed at again and again.
                    const bool starts_claim = (n.tag == 0 && n.length != 0 &&
                                               std::size_t{n.length} * record_alignment <= size - next) ||
                                              ((n.tag == tags::chunk || n.tag == tags::ordered_chunk) &&
                                               n.length == record_header_size + sizeof(chunk_header));
                    if (starts_claim) {
                        if (r.zero_claims++ == 0) r.first_zero_claim = at;
                        at = next;
                        continue;
                    }
                }
            }
            r.fault = record_fault::hole;
            break;
        }
        if (h.length < record_header_size) r.fault = record_fault::short_length;
        else if (h.length > max_record_size) r.fault = record_fault::long_length;
        else if (align_up(h.length) > size - at) r.fault = record_fault::truncated;
        if (r.fault != record_fault::none) break;
        const unsigned char* payload = bytes + at + record_header_size;
        const std::size_t n = static_cast<std::size_t>(h.length - record_header_size);
        std::size_t next = at + align_up(h.length);
        if ((h.tag == tags::chunk || h.tag == tags::ordered_chunk) && n == sizeof(chunk_header)) {
            chunk_header c;
            __builtin_memcpy(&c, payload, sizeof c);
            if (c.bytes >= chunk_header_footprint) chunk_end = at + c.bytes;
            seen_chunk = true;
        } else if (h.tag == tags::skip && n == sizeof(std::uint32_t)) {
            std::uint32_t distance;
            __builtin_memcpy(&distance, payload, sizeof distance);
            if (distance >= record_alignment && distance % record_alignment == 0 && distance <= size - at) {
                if (r.skips++ == 0) r.first_skip = at;
                next = at + distance;
            }
        }
        visit(h.tag, payload, n, at);
        ++r.records;
        at = next;
    }
    r.stop = at;
    r.zero_tail = false;
    if (at < size) {
        r.zero_tail = true;
        for (std::size_t i = at; i < size; ++i) {
            if (bytes[i] != 0) {
                r.zero_tail = false;
                break;
            }
        }
    }
    return r;
}
} // namespace tracebuf

#endif // TRACEBUF_READER_HPP
