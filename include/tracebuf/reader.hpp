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
    hole,          ///< tag 0: reserved bytes that nobody wrote (or zero-filled space)
    short_length,  ///< length < 4: shorter than its own header
    long_length,   ///< length > max_record_size
    truncated,     ///< the record or its padding runs past the end of the range
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
    std::size_t records = 0;      ///< valid records before the first fault
    std::size_t valid_bytes = 0;  ///< where the first fault starts (== size if none)
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

} // namespace tracebuf

#endif // TRACEBUF_READER_HPP
