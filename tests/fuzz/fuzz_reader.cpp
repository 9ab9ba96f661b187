// Fuzz target: the record reader (tracebuf/reader.hpp) and the chunk reader
// (tracebuf/chunk_reader.hpp) on any bytes.
//
// Beyond "no crash, no sanitizer report", what reader.hpp promises: every record visited
// lies whole inside the range, 8-aligned, back to back from offset 0, with a non-zero tag and
// a length in [4, max]; the walk stops exactly at valid_bytes, and the fault it names is the
// one at that offset. And chunk_reader.hpp's: a record is covered by a chunk only inside the
// last chunk opened, check_record agrees with chunk_at, and end_range reports a cut exactly
// when the last chunk runs past the range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <tracebuf/chunk_reader.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

#include "fuzz_check.hpp"

namespace {

// The fault the record at `at` has, derived from the rules, not from the reader.
tracebuf::record_fault fault_at(const unsigned char* data, std::size_t size, std::size_t at, std::size_t max) {
    if (size - at < 4) return tracebuf::record_fault::truncated;
    std::uint16_t tag, length;
    std::memcpy(&tag, data + at, 2);
    std::memcpy(&length, data + at + 2, 2);
    if (tag == 0) return tracebuf::record_fault::hole;
    if (length < 4) return tracebuf::record_fault::short_length;
    if (length > max) return tracebuf::record_fault::long_length;
    if (((std::size_t{length} + 7) & ~std::size_t{7}) > size - at) return tracebuf::record_fault::truncated;
    return tracebuf::record_fault::none;
}

void check_range(const unsigned char* data, std::size_t size, std::size_t max_record,
                 tracebuf::chunk_checker::restart restart) {
    tracebuf::chunk_checker chunks(restart);
    std::size_t expected_offset = 0, visited = 0;
    std::uint64_t opened = 0, last_end = 0;
    const tracebuf::scan_result r = tracebuf::scan_records(
        data, size, max_record, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
            FUZZ_CHECK(offset == expected_offset);
            FUZZ_CHECK(offset % 8 == 0);
            FUZZ_CHECK(tag != 0);
            FUZZ_CHECK(payload == data + offset + 4);
            FUZZ_CHECK(n + 4 <= max_record);
            const std::size_t footprint = tracebuf::record_footprint(n);
            FUZZ_CHECK(footprint <= size - offset);
            std::uint16_t length;
            std::memcpy(&length, data + offset + 2, 2);
            FUZZ_CHECK(length == n + 4);
            expected_offset = offset + footprint;
            ++visited;
            if (tag == tracebuf::tags::chunk) {
                const tracebuf::chunk_fault f = chunks.open(payload, n, offset);
                if (f == tracebuf::chunk_fault::none || f == tracebuf::chunk_fault::out_of_sequence) {
                    ++opened;
                    const tracebuf::chunk_header& h = chunks.last_chunk();
                    FUZZ_CHECK(chunks.chunk_at(offset) == &h);
                    FUZZ_CHECK(h.bytes >= tracebuf::chunk_header_footprint);
                    last_end = offset + std::uint64_t{h.bytes};
                }
                FUZZ_CHECK(chunks.chunks() == opened);
                return;
            }
            const tracebuf::chunk_header* c = chunks.chunk_at(offset);
            std::uint32_t tid = 0;
            if (n >= 4) std::memcpy(&tid, payload, 4);
            const tracebuf::chunk_fault f = chunks.check_record(offset, tid);
            if (c == nullptr) {
                FUZZ_CHECK(f == tracebuf::chunk_fault::outside_chunk);
            } else {
                FUZZ_CHECK(c == &chunks.last_chunk());
                FUZZ_CHECK(f == (c->tid == tid ? tracebuf::chunk_fault::none : tracebuf::chunk_fault::foreign_record));
            }
        });
    FUZZ_CHECK(r.records == visited);
    FUZZ_CHECK(r.valid_bytes <= size);
    FUZZ_CHECK(r.ok() == (r.valid_bytes == size));
    if (!r.ok()) {
        FUZZ_CHECK(r.valid_bytes == expected_offset);
        FUZZ_CHECK(r.fault == fault_at(data, size, r.valid_bytes, max_record));
    } else {
        FUZZ_CHECK(expected_offset == size);
    }
    const tracebuf::scan_result plain = tracebuf::scan_records(data, size, max_record);
    FUZZ_CHECK(plain.records == r.records && plain.valid_bytes == r.valid_bytes && plain.fault == r.fault);

    // The last chunk is cut exactly when it ends past the valid bytes; then a new range
    // starts with no chunk open.
    const tracebuf::chunk_fault end = chunks.end_range(r.valid_bytes);
    FUZZ_CHECK(end == (opened != 0 && last_end > r.valid_bytes ? tracebuf::chunk_fault::cut : tracebuf::chunk_fault::none));
    FUZZ_CHECK(chunks.chunk_at(0) == nullptr);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The largest record: the default, and one the input's size picks (at least one header).
    check_range(data, size, 4096, tracebuf::chunk_checker::restart::allowed);
    const std::size_t max = 8 + (size * 37) % 4089;
    check_range(data, size, max, tracebuf::chunk_checker::restart::forbidden);
    return 0;
}
