// Fuzz target: the memtrace export (tools/memtrace_export.hpp) and the reader it stands on
// (tracebuf/memtrace_reader.hpp) on any bytes.
//
// Beyond "no crash, no sanitizer report":
//   - read_trace attributes records as memtrace_reader.hpp says: payloads inside the data,
//     a thread only for a record of a mapped slot that is neither trace-wide nor tracebuf's;
//   - the export streams: fed in pieces (sizes from the input) it produces exactly what it
//     produces fed at once, and fails at the same offset;
//   - whatever it accepts, it turns into a file that keeps memtrace's reader rules
//     (tests/tools/memtrace_rules.hpp, written from the rules alone) - for all threads and
//     for one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>

#include "fuzz_check.hpp"
#include "memtrace_export.hpp"
#include "memtrace_rules.hpp"

namespace {

namespace mt = tracebuf::memtrace;

struct exported {
    bool ok;
    std::uint64_t error_offset;
    std::vector<unsigned char> bytes;
};

// The export of [data, data + size), fed `piece` bytes at a time (0: at once).
exported run_export(const std::uint8_t* data, std::size_t size, const tracebuf_tools::export_options& o,
                    std::size_t piece) {
    tracebuf_tools::memtrace_export e(o);
    exported r{true, 0, {}};
    std::size_t at = 0;
    while (r.ok && at < size) {
        const std::size_t n = piece == 0 || piece > size - at ? size - at : piece;
        r.ok = e.feed(data + at, n);
        at += n;
        std::vector<unsigned char>& out = e.output();
        r.bytes.insert(r.bytes.end(), out.begin(), out.end());
        out.clear();
    }
    if (r.ok) {
        r.ok = e.finish();
        std::vector<unsigned char>& out = e.output();
        r.bytes.insert(r.bytes.end(), out.begin(), out.end());
        out.clear();
    }
    FUZZ_CHECK(r.ok == !e.failed());
    if (!r.ok) {
        r.error_offset = e.error_offset();
        FUZZ_CHECK(!e.error().empty());
        return r;
    }
    const tracebuf_tools::header_record h = e.final_header();
    FUZZ_CHECK(r.bytes.size() >= h.size());
    std::copy(h.begin(), h.end(), r.bytes.begin());
    const tracebuf_tools::export_stats& s = e.stats();
    FUZZ_CHECK(s.input_bytes == size);
    return r;
}

void check_reader(const std::uint8_t* data, std::size_t size) {
    const mt::read_result r = mt::read_trace(data, size, [&](const mt::attributed_record& a) {
        FUZZ_CHECK(a.offset % 8 == 0 && a.offset + 4 + a.size <= size);
        FUZZ_CHECK(a.payload == data + a.offset + 4);
        if (a.thread != nullptr) {
            FUZZ_CHECK(!tracebuf::is_library_tag(a.tag) && !mt::is_trace_wide(a.type));
            FUZZ_CHECK(a.slot < mt::slots);
        }
        if (tracebuf::is_library_tag(a.tag)) FUZZ_CHECK(a.slot == 0 && a.thread == nullptr);
        if (a.chunk != nullptr) FUZZ_CHECK(a.chunk->bytes >= tracebuf::chunk_header_footprint);
    });
    FUZZ_CHECK(r.scan.valid_bytes <= size);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_reader(data, size);
    tracebuf_tools::export_options all;
    tracebuf_tools::export_options one;
    one.one_thread = true;
    one.thread_serial = static_cast<std::uint32_t>(size % 3);
    // Each export builds a table per thread slot: the selection of one thread, and the
    // comparison with a streamed export, take turns by the input's size.
    const std::size_t piece = 1 + size % 61;
    const bool one_thread = size % 2 == 1;
    const tracebuf_tools::export_options& o = one_thread ? one : all;
    const exported whole = run_export(data, size, o, 0);
    if (size % 4 < 2) {
        const exported pieces = run_export(data, size, o, piece);
        FUZZ_CHECK(whole.ok == pieces.ok);
        if (!whole.ok) FUZZ_CHECK(whole.error_offset == pieces.error_offset);
        else FUZZ_CHECK(whole.bytes == pieces.bytes);
    }
    if (whole.ok) {
        const memtrace_rules::verdict v = memtrace_rules::check(whole.bytes.data(), whole.bytes.size());
        if (!v.ok) std::fprintf(stderr, "export breaks memtrace's rules at offset %llu: %s\n",
                                static_cast<unsigned long long>(v.offset), v.broken.c_str());
        FUZZ_CHECK(v.ok);
    }
    return 0;
}
