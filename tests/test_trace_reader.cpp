// The reader API: thread attribution by slot and THREAD record, by chunk, old tags, and each
// chunk fault.
#define BOOST_TEST_MODULE trace_reader
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <vector>

#include <tracebuf/chunk_reader.hpp>
#include <tracebuf/memtrace_reader.hpp>

#include "support/trace_builder.hpp"
#include "trace_check.hpp"

namespace tracebuf {
std::ostream& operator<<(std::ostream& os, chunk_fault f) { return os << to_string(f); }
} // namespace tracebuf

namespace mt = tracebuf::memtrace;
using tracebuf::chunk_fault;
using tracebuf_test::trace_builder;

namespace {

// The records, with the pointers that are valid only during the walk cleared.
std::vector<mt::attributed_record> read_all(const trace_builder& t) {
    std::vector<mt::attributed_record> out;
    mt::read_trace(t.bytes().data(), t.size(), [&](const mt::attributed_record& a) {
        mt::attributed_record copy = a;
        copy.thread = nullptr;
        copy.chunk = nullptr;
        out.push_back(copy);
    });
    return out;
}

// The serial each record is attributed to, -1 for none, read during the walk.
std::vector<long> serials(const trace_builder& t) {
    std::vector<long> out;
    mt::read_trace(t.bytes().data(), t.size(), [&](const mt::attributed_record& a) {
        out.push_back(a.thread == nullptr ? -1 : static_cast<long>(a.thread->serial));
    });
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(slots_map_to_the_threads_of_their_thread_records) {
    trace_builder t;
    t.header().thread(0, 100, 0).thread(3, 101, 1).exec(3, 1).load(0, 1, 0x10).thread(3, 102, 2).store(3, 1, 0x20);
    t.load(7, 1, 0x30); // slot 7: no THREAD record
    t.summary({{0, 100, 2}, {1, 101, 2}, {2, 102, 2}});
    BOOST_TEST(serials(t) == (std::vector<long>{-1, 0, 1, 1, 0, 2, 2, -1, -1}), boost::test_tools::per_element());
    const auto records = read_all(t);
    BOOST_TEST(records[3].type == mt::insn_exec);
    BOOST_TEST(records[3].slot == 3u);
    BOOST_TEST(records[3].tag == mt::tag_in_slot(mt::insn_exec, 3));
    BOOST_TEST(records[8].type == mt::summary);
}

BOOST_AUTO_TEST_CASE(old_thread_and_summary_tags_read_as_thread_and_summary) {
    trace_builder t;
    t.header().thread(0, 100, 0, mt::legacy_thread).thread(5, 101, 1, mt::legacy_thread).load(5, 1, 0x10);
    t.summary({{0, 100, 1}, {1, 101, 2}}, mt::legacy_summary);
    mt::trace_reader reader;
    std::vector<long> seen;
    const tracebuf::scan_result r = tracebuf::scan_records(
        t.bytes().data(), t.size(), 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
            const mt::attributed_record a = reader.read(tag, payload, n, offset);
            seen.push_back(a.thread == nullptr ? -1 : static_cast<long>(a.thread->serial));
            if (tag == mt::tag_in_slot(mt::legacy_thread, 5)) BOOST_TEST(a.type == mt::thread);
            if (tag == mt::legacy_summary) BOOST_TEST(a.type == mt::summary);
        });
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(seen == (std::vector<long>{-1, 0, 1, 1, -1}), boost::test_tools::per_element());
    BOOST_TEST(reader.legacy_records() == 3u);
    BOOST_REQUIRE(reader.summary_entries().size() == 2u);
    BOOST_TEST(reader.summary_entries()[1].records == 2u);
    BOOST_TEST(reader.summary_total() == 2u);
}

BOOST_AUTO_TEST_CASE(header_summary_and_mmap_belong_to_no_thread) {
    trace_builder t;
    std::vector<unsigned char> m(mt::mmap_payload_size(4));
    mt::put_mmap_payload(m.data(), mt::mmap_payload{0, 0x1000, 0x2000, mt::mmap_read, 0, 1, 2}, "/lib", 4);
    t.header();
    const std::size_t chunk = t.size();
    t.chunk(101, 112, 0).thread(3, 101, 1).record(mt::mmap, 0, m.data(), m.size());
    BOOST_REQUIRE(t.size() < chunk + 112);
    t.pad_to(chunk + 112).summary({{1, 101, 1}});
    std::vector<long> seen;
    std::vector<chunk_fault> faults;
    mt::read_trace(t.bytes().data(), t.size(), [&](const mt::attributed_record& a) {
        seen.push_back(a.thread == nullptr ? -1 : static_cast<long>(a.thread->serial));
        faults.push_back(a.fault);
    });
    // header, chunk, thread, mmap (slot 0 inside thread 101's chunk: no fault), padding, summary
    BOOST_TEST(seen == (std::vector<long>{-1, -1, 1, -1, -1, -1}), boost::test_tools::per_element());
    for (chunk_fault f : faults) BOOST_TEST(f == chunk_fault::none);
    BOOST_TEST(mt::is_trace_wide(mt::mmap));
    BOOST_TEST(!mt::is_trace_wide(mt::thread));
}

BOOST_AUTO_TEST_CASE(a_short_thread_record_is_malformed_and_maps_nothing) {
    trace_builder t;
    const std::uint32_t pid_only = 1;
    t.header().record(mt::thread, 2, &pid_only, sizeof pid_only).load(2, 1, 0x10);
    const auto records = read_all(t);
    BOOST_TEST(records[1].malformed);
    BOOST_TEST(serials(t)[2] == -1);
}

BOOST_AUTO_TEST_CASE(records_inside_a_chunk_belong_to_its_thread) {
    trace_builder t;
    t.header();
    const std::size_t first = t.size();
    t.chunk(100, 64, 0).thread(0, 100, 0).exec(0, 1).pad_to(first + 64);
    t.chunk(101, 48, 0).thread(1, 101, 1).pad_to(first + 64 + 48);
    t.chunk(100, 72, 1).load(0, 1, 0x10).load(1, 1, 0x10); // slot 1 is thread 101: foreign
    std::vector<chunk_fault> faults;
    std::vector<long> chunk_tids;
    const mt::read_result result = mt::read_trace(t.bytes().data(), t.size(), [&](const mt::attributed_record& r) {
        faults.push_back(r.fault);
        chunk_tids.push_back(r.chunk == nullptr ? -1 : static_cast<long>(r.chunk->tid));
    });
    BOOST_REQUIRE(result.scan.ok());
    BOOST_TEST(chunk_tids == (std::vector<long>{-1, 100, 100, 100, 100, 101, 101, 101, 100, 100, 100}),
               boost::test_tools::per_element());
    BOOST_TEST(faults.back() == chunk_fault::foreign_record);
    for (std::size_t i = 0; i + 1 < faults.size(); ++i) BOOST_TEST(faults[i] == chunk_fault::none);
    BOOST_TEST(result.end == chunk_fault::none); // the last chunk ends where the data does
}

BOOST_AUTO_TEST_CASE(chunk_checker_finds_nested_out_of_sequence_and_cut_chunks) {
    const tracebuf::chunk_header h0{1, 7, 64, 0}, h1{1, 7, 64, 1}, h3{1, 7, 64, 3}, restart{1, 7, 64, 0};
    const auto bytes = [](const tracebuf::chunk_header& h) { return reinterpret_cast<const unsigned char*>(&h); };
    {
        tracebuf::chunk_checker c;
        BOOST_TEST(c.open(bytes(h0), sizeof h0, 0) == chunk_fault::none);
        BOOST_TEST(c.check_record(8, 7) == chunk_fault::none);
        BOOST_TEST(c.check_record(8, 8) == chunk_fault::foreign_record);
        BOOST_TEST(c.check_record(64, 7) == chunk_fault::outside_chunk);
        BOOST_TEST(c.open(bytes(h1), sizeof h1, 56) == chunk_fault::nested);
    }
    {
        tracebuf::chunk_checker c;
        BOOST_TEST(c.open(bytes(h0), sizeof h0, 0) == chunk_fault::none);
        BOOST_TEST(c.open(bytes(h3), sizeof h3, 64) == chunk_fault::out_of_sequence);
        BOOST_TEST(c.open(bytes(restart), sizeof restart, 128) == chunk_fault::none); // a new thread, same tid
        BOOST_TEST(c.end_range(190) == chunk_fault::cut);
        BOOST_TEST(c.chunks() == 3u);
    }
    {
        tracebuf::chunk_checker c(tracebuf::chunk_checker::restart::forbidden);
        BOOST_TEST(c.open(bytes(h0), sizeof h0, 0) == chunk_fault::none);
        BOOST_TEST(c.open(bytes(restart), sizeof restart, 64) == chunk_fault::out_of_sequence);
        BOOST_TEST(c.end_range(128) == chunk_fault::none);
        // A new range: offsets start again, the numbers carry on.
        BOOST_TEST(c.open(bytes(h1), sizeof h1, 0) == chunk_fault::none);
        BOOST_TEST(c.chunk_at(8)->sequence == 1u);
    }
    {
        tracebuf::chunk_checker c;
        const tracebuf::chunk_header tiny{1, 7, 8, 0};
        BOOST_TEST(c.open(bytes(tiny), sizeof tiny, 0) == chunk_fault::bad_header);
        BOOST_TEST(c.open(bytes(h0), 12, 0) == chunk_fault::bad_header);
    }
}

// ---- tracebuf-dump's walk (tools/trace_check.hpp) --------------------------------------------

namespace {

// `n` bytes that end where an inaccessible page begins: a read past them faults at once.
class bytes_before_a_guard_page {
public:
    explicit bytes_before_a_guard_page(std::size_t n) : n_(n) {
        const long page = ::sysconf(_SC_PAGESIZE);
        page_ = static_cast<std::size_t>(page);
        void* m = ::mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        BOOST_REQUIRE(m != MAP_FAILED);
        base_ = static_cast<unsigned char*>(m);
        BOOST_REQUIRE(::mprotect(base_ + page_, page_, PROT_NONE) == 0);
    }
    ~bytes_before_a_guard_page() { ::munmap(base_, 2 * page_); }
    unsigned char* data() { return base_ + page_ - n_; }

private:
    std::size_t n_, page_ = 0;
    unsigned char* base_ = nullptr;
};

} // namespace

// Found by fuzz_dump: skipping a hole, the strict walk read a 2-byte tag where one byte of
// the data was left, one byte past the end (tracebuf-dump maps the file: past a size of
// 4096k + 1, into the next page). The default walk reads nothing past the end either.
BOOST_AUTO_TEST_CASE(dump_walk_reads_no_byte_past_a_hole_at_the_end) {
    {
        bytes_before_a_guard_page b(9); // a hole of 8 zero bytes, and one more
        std::memset(b.data(), 0, 9);
        tracebuf_tools::dump d;
        tracebuf_tools::walk_strict(b.data(), 9, 4096, true, d);
        BOOST_TEST(!d.bad);
        BOOST_TEST(d.holes == 1u);
        BOOST_TEST(d.hole_bytes == 9u);
        tracebuf_tools::dump crashed;
        tracebuf_tools::walk(b.data(), 9, 4096, true, false, crashed);
        BOOST_TEST(crashed.scan.stop <= 9u);
    }
    {
        bytes_before_a_guard_page b(9); // the last byte is not zero: a record cut short
        std::memset(b.data(), 0, 8);
        b.data()[8] = 1;
        tracebuf_tools::dump d;
        tracebuf_tools::walk_strict(b.data(), 9, 4096, false, d);
        BOOST_TEST(d.bad);
        BOOST_TEST(d.bad_offset == 8u);
        BOOST_TEST((d.fault == tracebuf::record_fault::truncated));
        BOOST_TEST(d.hole_bytes == 8u);
    }
}

// Review finding 4: the SUMMARY was written header first (reserve_record), so a tracer killed
// while writing it at exit left a header over torn counts that --verify read as complete.
// write_summary now stores each record's header after its payload: while an entry is being
// written, the record's header word has no tag yet (it holds a reservation mark).
BOOST_AUTO_TEST_CASE(write_summary_stores_each_header_after_its_payload) {
    namespace mt = tracebuf::memtrace;
    std::vector<unsigned char> arena(64 * 1024, 0);
    std::size_t used = 0;
    unsigned char* current = nullptr;
    bool header_seen_early = false;
    const std::uint32_t total = mt::summary_entries_per_record + 3; // two records
    const bool ok = mt::write_summary(
        [&](std::size_t n) -> unsigned char* {
            current = arena.data() + used;
            used += n;
            return current;
        },
        total,
        [&](std::uint32_t i) {
            std::uint16_t tag; // 0 until the header is stored (a reservation mark at most)
            std::memcpy(&tag, current, sizeof tag);
            if (tag != 0) header_seen_early = true;
            return mt::summary_entry{i, 100 + i, 7};
        });
    BOOST_TEST(ok);
    BOOST_TEST(!header_seen_early);
    std::size_t summaries = 0;
    const tracebuf::scan_result r = tracebuf::scan_records(
        arena.data(), used, 0xffff, [&](std::uint16_t tag, const unsigned char*, std::size_t, std::size_t) {
            if (tag == mt::summary) ++summaries;
        });
    BOOST_TEST(r.ok());
    BOOST_TEST(summaries == 2u);
}

// Review finding 9: an ordered trace's merged windows hold no chunk, so scan_trace did not know
// the trace was chunked and stopped at an untouched claim in the window current at the death
// (a parked thread's chunk, released and not yet marked), with whole chunks behind it.
// scan_options::claims_marked tells it that every claim was marked first.
BOOST_AUTO_TEST_CASE(scan_trace_resumes_after_an_untouched_claim_when_claims_are_marked) {
    using namespace tracebuf;
    std::vector<unsigned char> t(3 * 4096, 0);
    unsigned char* p = t.data();
    std::size_t at = 0;
    const unsigned char payload[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    for (int i = 0; i < 3; ++i) // a merged window: records only, padded
        at = static_cast<std::size_t>(static_cast<unsigned char*>(put_record(p + at, 0x4d41, payload, 12)) - p);
    write_padding(p + at, 4096 - at, 4096);
    mark_reserved(p + 4096, 1024); // the flusher's own chunk, marked, not written yet
    // [5120, 6144): a parked thread's chunk, released, not marked yet: zeros
    const chunk_header h{7, 1, 2048, 0}; // [6144, 8192): another thread's whole chunk
    put_record(p + 6144, tags::ordered_chunk, &h, sizeof h);
    std::size_t c = 6144 + chunk_header_footprint;
    for (int i = 0; i < 5; ++i)
        c = static_cast<std::size_t>(static_cast<unsigned char*>(put_record(p + c, 0x4d41, payload, 12)) - p);
    write_padding(p + c, 8192 - c, 4096);
    auto count = [](std::size_t& n) {
        return [&n](std::uint16_t tag, const unsigned char*, std::size_t, std::size_t) { n += tag == 0x4d41; };
    };
    std::size_t plain = 0, marked = 0;
    const trace_scan_result a = scan_trace(p, t.size(), 4096, count(plain));
    BOOST_TEST(plain == 3u); // stops at the untouched claim: no chunk seen yet
    BOOST_TEST(a.stop == 5120u);
    const trace_scan_result b = scan_trace(p, t.size(), 4096, count(marked), scan_options{true});
    BOOST_TEST(marked == 8u);
    BOOST_TEST(b.zero_claims == 1u);
    BOOST_TEST(b.first_zero_claim == 5120u);
    BOOST_TEST(b.zero_tail);
    BOOST_TEST(b.read_everything());
}

// Found by fuzz_dump: in a chunk-mode trace, an untouched claim followed by a reservation
// mark whose size runs past the end of the data made scan_trace resume at that mark, find it
// too long to skip, take it for the next claim again - for ever. Such a mark is a hole of
// unknown length: reading stops there.
BOOST_AUTO_TEST_CASE(scan_trace_stops_at_a_mark_that_runs_past_the_end) {
    std::vector<unsigned char> t(256, 0);
    const tracebuf::chunk_header h{1, 2, 64, 0};
    tracebuf::put_record(t.data(), tracebuf::tags::chunk, &h, sizeof h); // [0, 64): a chunk
    tracebuf::mark_reserved(t.data() + 128, 512);                        // [128, 640): past 256
    const tracebuf::trace_scan_result r =
        tracebuf::scan_trace(t.data(), t.size(), 4096, [](std::uint16_t, const unsigned char*, std::size_t, std::size_t) {});
    BOOST_TEST(r.records == 1u);
    BOOST_TEST(r.stop == 64u);
    BOOST_TEST((r.fault == tracebuf::record_fault::hole));
}
