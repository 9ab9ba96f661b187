// Fuzz target: tracebuf-dump's check of a trace (tools/trace_check.hpp: the walk, with and
// without --verify, and --verify's report) on any bytes.
//
// Beyond "no crash, no sanitizer report": the walk accounts for every byte it passes - the
// footprints of the records it counted plus the holes it skipped end exactly where it stopped
// (the end of the data, or the bad record it names) - and --verify's attribution does not
// change what the walk counts.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "fuzz_check.hpp"
#include "trace_check.hpp"

namespace {

std::uint64_t walked_bytes(const tracebuf_tools::dump& d) {
    std::uint64_t bytes = d.hole_bytes;
    for (const auto& entry : d.by_tag) bytes += entry.second.bytes;
    return bytes;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // report_verify prints what it finds: not to the fuzzer's terminal.
    if (std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::size_t max_record = size % 2 == 0 ? 4096 : 8 + size % 4089;
    tracebuf_tools::dump plain, verified;
    tracebuf_tools::walk(data, size, max_record, false, plain);
    tracebuf_tools::walk(data, size, max_record, true, verified);
    for (const tracebuf_tools::dump* d : {&plain, &verified}) {
        FUZZ_CHECK(walked_bytes(*d) == (d->bad ? d->bad_offset : size));
        FUZZ_CHECK(d->bad == (d->fault != tracebuf::record_fault::none));
        FUZZ_CHECK(d->records * 8 <= size);
        FUZZ_CHECK(d->holes == 0 || d->first_hole % 8 == 0);
    }
    FUZZ_CHECK(plain.records == verified.records && plain.bad == verified.bad && plain.holes == verified.holes);
    const bool matches = tracebuf_tools::report_verify(verified);
    // A trace that verifies has a summary, and every thread it lists was seen.
    if (matches) FUZZ_CHECK(verified.reader.summary_records() != 0);
    for (const auto& entry : verified.per_thread) {
        if (matches) FUZZ_CHECK(entry.second.in_summary && entry.second.counted == entry.second.summary);
        (void)tracebuf_tools::tag_label(static_cast<std::uint16_t>(entry.first));
    }
    for (const auto& entry : plain.by_tag) (void)tracebuf_tools::tag_label(entry.first);
    return 0;
}
