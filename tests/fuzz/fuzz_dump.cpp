// Fuzz target: tracebuf-dump's check of a trace (tools/trace_check.hpp: both walks, with and
// without --verify, and --verify's report) on any bytes.
//
// Beyond "no crash, no sanitizer report": each walk accounts for every byte it passes. The
// strict walk: the footprints of the records it counted plus the holes it skipped end exactly
// where it stopped (the end of the data, or the bad record it names). The default walk (a
// trace that may have ended abnormally): the records it read plus the gaps it skipped end
// where it stopped, inside the data. --verify's attribution does not change what a walk
// counts, and a trace that verifies against a SUMMARY saw every thread it lists.
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
    tracebuf_tools::dump strict, strict_verified;
    tracebuf_tools::walk_strict(data, size, max_record, false, strict);
    tracebuf_tools::walk_strict(data, size, max_record, true, strict_verified);
    for (const tracebuf_tools::dump* d : {&strict, &strict_verified}) {
        FUZZ_CHECK(walked_bytes(*d) == (d->bad ? d->bad_offset : size));
        FUZZ_CHECK(d->bad == (d->fault != tracebuf::record_fault::none));
        FUZZ_CHECK(d->records * 8 <= size);
        FUZZ_CHECK(d->holes == 0 || d->first_hole % 8 == 0);
    }
    FUZZ_CHECK(strict.records == strict_verified.records && strict.bad == strict_verified.bad &&
               strict.holes == strict_verified.holes);

    tracebuf_tools::dump plain, verified;
    const bool claims_marked = size % 3 == 0; // both readings of an untouched claim
    tracebuf_tools::walk(data, size, max_record, false, claims_marked, plain);
    tracebuf_tools::walk(data, size, max_record, true, claims_marked, verified);
    for (const tracebuf_tools::dump* d : {&plain, &verified}) {
        FUZZ_CHECK(d->scan.stop <= size && d->expected <= d->scan.stop);
        std::uint64_t bytes = 0, records = 0;
        for (const auto& entry : d->by_tag) {
            bytes += entry.second.bytes;
            records += entry.second.records;
        }
        for (const auto& gap : d->gaps) {
            FUZZ_CHECK(gap.first < gap.second && gap.second <= d->scan.stop);
            bytes += gap.second - gap.first;
        }
        FUZZ_CHECK(bytes == d->scan.stop);
        FUZZ_CHECK(records == d->records);
        FUZZ_CHECK(d->bad == !d->scan.read_everything());
    }
    FUZZ_CHECK(plain.records == verified.records && plain.bad == verified.bad && plain.holes == verified.holes);

    const bool matches = tracebuf_tools::report_verify(verified);
    const bool complete = verified.reader.summary_records() != 0;
    for (const auto& entry : verified.per_thread) {
        if (matches && complete) FUZZ_CHECK(entry.second.in_summary && entry.second.counted == entry.second.summary);
        (void)tracebuf_tools::tag_label(static_cast<std::uint16_t>(entry.first));
    }
    (void)tracebuf_tools::report_verify(strict_verified);
    for (const auto& entry : plain.by_tag) (void)tracebuf_tools::tag_label(entry.first);
    return 0;
}
