// The memtrace export (tools/memtrace_export.hpp) on hand-made traces: renumbering,
// grouping, keeping back-to-back executions apart, run splitting, old tags, one thread, bad
// input; and on a two-thread spinlock counter traced with the library itself. Every export
// must keep memtrace's reader rules (tools/memtrace_rules.hpp).
#define BOOST_TEST_MODULE memtrace_export
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/tracebuf.hpp>

#include "memtrace_export.hpp"
#include "support/trace_builder.hpp"
#include "tools/memtrace_rules.hpp"

namespace mt = tracebuf::memtrace;
using tracebuf_test::trace_builder;
using tracebuf_tools::export_options;
using tracebuf_tools::memtrace_export;

namespace {

// One output record, decoded.
struct out_record {
    std::uint16_t tag;
    std::uint32_t seq;   // insn_seq (0 for HEADER, MMAP)
    std::uint64_t addr;  // LOAD/STORE address, INSN pc
    std::uint64_t value; // LOAD/STORE 8-byte value
    bool operator==(const out_record& o) const {
        return tag == o.tag && seq == o.seq && addr == o.addr && value == o.value;
    }
};
std::ostream& operator<<(std::ostream& os, const out_record& r) {
    return os << "{0x" << std::hex << r.tag << std::dec << " seq " << r.seq << " addr 0x" << std::hex << r.addr
              << " value " << std::dec << r.value << "}";
}

struct exported {
    bool ok = false;
    std::string error;
    std::uint64_t error_offset = 0;
    std::vector<std::string> warnings;
    tracebuf_tools::export_stats stats;
    std::vector<unsigned char> bytes; // the file, its final header in place
    std::vector<out_record> records;  // after the HEADER
};

// Exports `input`, fed in pieces of `piece` bytes (0: all at once).
exported run_export(const std::vector<unsigned char>& input, export_options o = {}, std::size_t piece = 0) {
    memtrace_export e(o);
    exported x;
    bool good = true;
    for (std::size_t at = 0; good && at < input.size();) {
        const std::size_t n = piece == 0 ? input.size() : std::min(piece, input.size() - at);
        good = e.feed(input.data() + at, n);
        at += n;
        x.bytes.insert(x.bytes.end(), e.output().begin(), e.output().end());
        e.output().clear();
    }
    good = good && e.finish();
    x.bytes.insert(x.bytes.end(), e.output().begin(), e.output().end());
    x.ok = good;
    x.error = e.error();
    x.error_offset = e.error_offset();
    x.warnings = e.warnings();
    x.stats = e.stats();
    if (!good) return x;
    const tracebuf_tools::header_record h = e.final_header();
    BOOST_REQUIRE(x.bytes.size() >= h.size());
    std::memcpy(x.bytes.data(), h.data(), h.size());
    for (std::size_t at = 24; at < x.bytes.size();) {
        std::uint16_t tag, length;
        std::memcpy(&tag, &x.bytes[at], 2);
        std::memcpy(&length, &x.bytes[at + 2], 2);
        out_record r{tag, 0, 0, 0};
        if (tag != mt::mmap && tag != mt::regmeta) std::memcpy(&r.seq, &x.bytes[at + 4], 4);
        if (tag != mt::insn_exec && tag != mt::mmap && tag != mt::regmeta) std::memcpy(&r.addr, &x.bytes[at + 8], 8);
        if ((tag == mt::load || tag == mt::store) && length >= 24) std::memcpy(&r.value, &x.bytes[at + 16], 8);
        x.records.push_back(r);
        at += tracebuf::align_up(length);
    }
    return x;
}

void require_memtrace_rules(const exported& x) {
    BOOST_REQUIRE_MESSAGE(x.ok, x.error);
    const memtrace_rules::verdict v = memtrace_rules::check(x.bytes.data(), x.bytes.size());
    BOOST_REQUIRE_MESSAGE(v.ok, "offset " << v.offset << ": " << v.broken);
}

out_record insn(std::uint32_t seq, std::uint64_t pc) { return {mt::insn, seq, pc, 0}; }
out_record exec(std::uint32_t seq) { return {mt::insn_exec, seq, 0, 0}; }
out_record load(std::uint32_t seq, std::uint64_t addr, std::uint64_t value = 0) { return {mt::load, seq, addr, value}; }
out_record store(std::uint32_t seq, std::uint64_t addr, std::uint64_t value = 0) { return {mt::store, seq, addr, value}; }

} // namespace

BOOST_AUTO_TEST_CASE(numbers_run_densely_in_order_of_first_use_with_each_insn_before_its_use) {
    trace_builder t;
    t.header().thread(0, 100, 0);
    t.insn(0, 7, 0x700).insn(0, 3, 0x300).insn(0, 9, 0x900).insn(0, 5, 0x500); // 5 never runs
    t.exec(0, 9).exec(0, 3).load(0, 3, 0x10, 1).exec(0, 9).exec(0, 7);
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    const std::vector<out_record> want{insn(1, 0x900), exec(1), insn(2, 0x300), exec(2), load(2, 0x10, 1),
                                       exec(1), insn(3, 0x700), exec(3)};
    BOOST_TEST(x.records == want, boost::test_tools::per_element());
    BOOST_TEST(x.stats.instructions == 3u);
}

BOOST_AUTO_TEST_CASE(interleaved_threads_come_out_as_whole_executions) {
    trace_builder t;
    t.header().thread(0, 100, 0).thread(1, 101, 1).insn(0, 1, 0xa).insn(1, 2, 0xb).insn(0, 3, 0xc);
    // Thread 0 runs a (load), thread 1 b (store) at the same time; then each its next one.
    t.exec(0, 1).exec(1, 2).load(0, 1, 0x100).store(1, 2, 0x200).load(0, 1, 0x108).exec(0, 3).exec(1, 3);
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    // a closes when thread 0 starts c, b when thread 1 does; the open ones at the end, in the
    // order they started.
    const std::vector<out_record> want{insn(1, 0xa), exec(1), load(1, 0x100), load(1, 0x108),
                                       insn(2, 0xb), exec(2), store(2, 0x200),
                                       insn(3, 0xc), exec(3), insn(4, 0xc), exec(4)};
    BOOST_TEST(x.records == want, boost::test_tools::per_element());
    BOOST_TEST(x.stats.second_numbers == 1u); // c by both threads, back to back
}

BOOST_AUTO_TEST_CASE(back_to_back_executions_alternate_between_two_numbers) {
    trace_builder t;
    t.header().thread(0, 100, 0).insn(0, 1, 0x40);
    for (int i = 0; i < 5; ++i) t.exec(0, 1).store(0, 1, 0x1000 + 8 * static_cast<unsigned>(i));
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    const std::vector<out_record> want{insn(1, 0x40), exec(1), store(1, 0x1000), insn(2, 0x40), exec(2), store(2, 0x1008),
                                       exec(1), store(1, 0x1010), exec(2), store(2, 0x1018), exec(1), store(1, 0x1020)};
    BOOST_TEST(x.records == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_execution_with_more_than_255_uses_or_defs_is_cut_into_runs) {
    trace_builder t;
    t.header().thread(0, 100, 0).insn(0, 1, 0x40);
    t.exec(0, 1);
    for (unsigned i = 0; i < 600; ++i) t.load(0, 1, 0x1000 + i);
    for (unsigned i = 0; i < 300; ++i) t.store(0, 1, 0x9000 + i);
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    // Runs: 255 loads | 255 loads | 90 loads + 255 stores | 45 stores, alternating numbers.
    std::vector<std::size_t> run_starts;
    std::vector<std::uint32_t> run_seqs;
    for (std::size_t i = 0; i < x.records.size(); ++i)
        if (x.records[i].tag == mt::insn_exec) {
            run_starts.push_back(i);
            run_seqs.push_back(x.records[i].seq);
        }
    BOOST_TEST(run_seqs == (std::vector<std::uint32_t>{1, 2, 1, 2}), boost::test_tools::per_element());
    std::uint64_t loads = 0, stores = 0;
    for (const out_record& r : x.records) {
        loads += r.tag == mt::load;
        stores += r.tag == mt::store;
    }
    BOOST_TEST(loads == 600u); // nothing lost
    BOOST_TEST(stores == 300u);
    BOOST_TEST(x.stats.split_executions == 1u);
    BOOST_TEST(x.stats.executions == 4u);
}

BOOST_AUTO_TEST_CASE(a_trace_with_the_old_thread_and_summary_tags_exports_the_same) {
    const auto make = [](std::uint16_t thread_type, std::uint16_t summary_type) {
        trace_builder t;
        t.header().thread(0, 100, 0, thread_type).thread(1, 101, 1, thread_type).insn(0, 1, 0xa).insn(1, 2, 0xb);
        t.exec(0, 1).exec(1, 2).load(0, 1, 0x10).exec(0, 2).store(1, 2, 0x20).exec(1, 1);
        t.summary({{0, 100, 5}, {1, 101, 5}}, summary_type);
        return t;
    };
    const exported now = run_export(make(mt::thread, mt::summary).bytes());
    const exported old = run_export(make(mt::legacy_thread, mt::legacy_summary).bytes());
    require_memtrace_rules(old);
    BOOST_TEST(old.records == now.records, boost::test_tools::per_element());
    BOOST_TEST(old.stats.threads == 2u);
    export_options one;
    one.one_thread = true;
    one.thread_serial = 1;
    const exported old_one = run_export(make(mt::legacy_thread, mt::legacy_summary).bytes(), one);
    require_memtrace_rules(old_one);
    BOOST_TEST(old_one.records == (std::vector<out_record>{insn(1, 0xb), exec(1), store(1, 0x20), insn(2, 0xa), exec(2)}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_thread_keeps_that_threads_executions_in_its_order) {
    trace_builder t;
    t.header().thread(0, 100, 0).thread(1, 101, 1).insn(1, 1, 0xa).insn(0, 2, 0xb);
    t.exec(0, 1).load(0, 1, 0x1).exec(1, 2).exec(0, 2).store(1, 2, 0x2).exec(1, 1).load(1, 1, 0x3);
    // Slot 1 is taken over by a third thread: its executions are not serial 1's.
    t.thread(1, 102, 2).exec(1, 1).load(1, 1, 0x4);
    export_options o;
    o.one_thread = true;
    o.thread_serial = 1;
    const exported x = run_export(t.bytes(), o);
    require_memtrace_rules(x);
    BOOST_TEST(x.records == (std::vector<out_record>{insn(1, 0xb), exec(1), store(1, 0x2), insn(2, 0xa), exec(2), load(2, 0x3)}),
               boost::test_tools::per_element());
    BOOST_TEST(x.stats.other_threads == 3u);
    const exported all = run_export(t.bytes());
    require_memtrace_rules(all);
    BOOST_TEST(all.stats.executions == 5u);
    o.thread_serial = 9;
    const exported missing = run_export(t.bytes(), o);
    BOOST_TEST(!missing.ok);
    BOOST_TEST(missing.error.find("no THREAD record has serial 9") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_output_is_the_same_however_the_input_is_cut) {
    trace_builder t;
    t.header().thread(0, 100, 0).thread(4, 101, 1).insn(0, 1, 0xa, {0x48, 0x89, 0x07}).insn(4, 2, 0xb);
    for (unsigned i = 0; i < 20; ++i) t.exec(i % 2 ? 4 : 0, 1 + i % 3 / 2).load(i % 2 ? 4 : 0, 1 + i % 3 / 2, i);
    const exported whole = run_export(t.bytes());
    require_memtrace_rules(whole);
    for (std::size_t piece : {1u, 3u, 4u, 7u, 8u, 13u, 24u, 100u}) {
        const exported cut = run_export(t.bytes(), {}, piece);
        BOOST_TEST_CONTEXT("pieces of " << piece) { BOOST_TEST(cut.bytes == whole.bytes, boost::test_tools::per_element()); }
    }
}

BOOST_AUTO_TEST_CASE(the_trace_id_is_a_hash_of_the_input_and_the_selection) {
    trace_builder t;
    t.header().thread(0, 100, 0).insn(0, 1, 0xa).exec(0, 1);
    trace_builder u;
    u.header().thread(0, 100, 0).insn(0, 1, 0xa).exec(0, 1).exec(0, 1);
    export_options one;
    one.one_thread = true;
    const exported a = run_export(t.bytes()), a_again = run_export(t.bytes()), b = run_export(u.bytes()),
                   a_one = run_export(t.bytes(), one);
    const auto id = [](const exported& x) { return std::vector<unsigned char>(x.bytes.begin() + 8, x.bytes.begin() + 24); };
    BOOST_TEST(id(a) == id(a_again));
    BOOST_TEST(id(a) != id(b));
    BOOST_TEST(id(a) != id(a_one));
    BOOST_TEST(id(a) != std::vector<unsigned char>(16, 0));
}

BOOST_AUTO_TEST_CASE(tracebuf_records_are_dropped_and_mmap_passes_through) {
    trace_builder t;
    t.header();
    const std::size_t chunk_start = t.size();
    t.chunk(100, 160, 0).thread(0, 100, 0).insn(0, 1, 0xa).exec(0, 1);
    std::vector<unsigned char> m(mt::mmap_payload_size(4));
    mt::put_mmap_payload(m.data(), mt::mmap_payload{0, 0x400000, 0x401000, mt::mmap_read | mt::mmap_exec, 0, 1, 2}, "/bin", 4);
    t.record(mt::mmap, 0, m.data(), m.size()).pad_to(chunk_start + 160);
    t.summary({{0, 100, 4}});
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    BOOST_TEST(x.records == (std::vector<out_record>{{mt::mmap, 0, 0, 0}, insn(1, 0xa), exec(1)}),
               boost::test_tools::per_element());
    BOOST_REQUIRE(x.warnings.size() == 1u);
    BOOST_TEST(x.warnings[0].find("chunk") != std::string::npos);
    BOOST_TEST(x.stats.dropped == 4u); // CHUNK, THREAD, PADDING, SUMMARY
}

BOOST_AUTO_TEST_CASE(in_a_chunk_trace_executions_wait_for_a_late_insn_record) {
    // Thread 101's chunk, reserved first, runs an instruction that thread 100 translated in a
    // chunk that comes later in the file.
    trace_builder t;
    t.header();
    std::size_t at = t.size();
    t.chunk(101, 80, 0).thread(1, 101, 1).exec(1, 1).load(1, 1, 0x10).pad_to(at + 80);
    at = t.size();
    t.chunk(100, 72, 0).thread(0, 100, 0).insn(0, 1, 0xa).pad_to(at + 72);
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    BOOST_TEST(x.records == (std::vector<out_record>{insn(1, 0xa), exec(1), load(1, 0x10)}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(accesses_without_their_insn_exec_get_one) {
    trace_builder t;
    t.header().thread(0, 100, 0).insn(0, 1, 0xa).insn(0, 2, 0xb).exec(0, 1).load(0, 2, 0x10);
    const exported x = run_export(t.bytes());
    require_memtrace_rules(x);
    BOOST_TEST(x.records == (std::vector<out_record>{insn(1, 0xa), exec(1), insn(2, 0xb), exec(2), load(2, 0x10)}),
               boost::test_tools::per_element());
    BOOST_TEST(x.stats.added_execs == 1u);
    BOOST_TEST(x.warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_input_fails_with_the_offset_of_the_bad_record) {
    const auto expect_error = [](const std::vector<unsigned char>& bytes, std::uint64_t offset, const std::string& what) {
        for (std::size_t piece : {std::size_t{0}, std::size_t{5}}) {
            const exported x = run_export(bytes, {}, piece);
            BOOST_TEST_CONTEXT(what << ", pieces of " << piece) {
                BOOST_TEST(!x.ok);
                BOOST_TEST(x.error_offset == offset);
                BOOST_TEST(x.error.find(what) != std::string::npos, x.error);
                BOOST_TEST(x.error.rfind("offset " + std::to_string(offset) + ": ", 0) == 0u, x.error);
            }
        }
    };
    trace_builder good;
    good.header().thread(0, 100, 0).insn(0, 1, 0xa).exec(0, 1).load(0, 1, 0x10);
    const std::size_t load_at = good.size() - 24;

    std::vector<unsigned char> hole = good.bytes();
    std::memset(hole.data() + load_at, 0, 24);
    expect_error(hole, load_at, "hole");
    std::vector<unsigned char> truncated(good.bytes().begin(), good.bytes().end() - 4);
    expect_error(truncated, load_at, "past the end");
    std::vector<unsigned char> too_long = good.bytes();
    const std::uint16_t length = 5000;
    std::memcpy(too_long.data() + load_at + 2, &length, 2);
    expect_error(too_long, load_at, "length above");

    trace_builder unknown = good;
    unknown.record(0x4d99, 3, "abcd", 4);
    expect_error(unknown.bytes(), good.size(), "is not a memtrace record");
    trace_builder no_header;
    no_header.thread(0, 100, 0);
    expect_error(no_header.bytes(), 0, "does not start with a HEADER");
    trace_builder undescribed;
    undescribed.header().thread(0, 100, 0).exec(0, 4).exec(0, 4);
    expect_error(undescribed.bytes(), 40, "insn_seq 4 is used, but no INSN record");
    trace_builder twice = good;
    twice.insn(0, 1, 0xb);
    expect_error(twice.bytes(), good.size(), "a second INSN record for insn_seq 1");
    expect_error({}, 0, "no HEADER");
    trace_builder cut;
    cut.header().chunk(100, 4096, 0).thread(0, 100, 0);
    expect_error(cut.bytes(), cut.size(), "chunk cut");
    // Found by fuzz_memtrace: an MMAP record whose name has no NUL went through, and memtrace
    // refuses the whole file for it.
    trace_builder unterminated = good;
    std::vector<unsigned char> mmap(tracebuf::memtrace::mmap_payload_size(4), 0);
    tracebuf::memtrace::put_mmap_payload(mmap.data(), tracebuf::memtrace::mmap_payload{}, "/bin", 4);
    mmap.back() = 'x';
    unterminated.record(mt::mmap, 0, mmap.data(), mmap.size());
    expect_error(unterminated.bytes(), good.size(), "MMAP record whose name does not end with a NUL");
    // Found by fuzz_memtrace: a GET_REG_NX longer than its layout went through; memtrace
    // takes only the exact size.
    trace_builder long_nx = good;
    const unsigned char nx[24] = {1}; // insn_seq 1, offset, size, and 4 bytes too many
    long_nx.record(mt::get_reg_nx, 0, nx, sizeof nx);
    expect_error(long_nx.bytes(), good.size(), "GET_REG_NX record of 24 bytes, not 20");
}

// Two threads take turns under a spinlock to increment a counter, traced with the library as
// a tracer would: each instruction's INSN_EXEC before it runs, its LOAD or STORE after. The
// export must keep the counter's stores in increment order, each load reading the last store.
BOOST_AUTO_TEST_CASE(a_spinlock_counter_keeps_its_stores_in_increment_order) {
    using buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::memory_sink>;
    constexpr unsigned increments = 20000;
    enum : std::uint32_t { // input insn_seq
        xchg_lock = 1,
        load_counter,
        store_counter,
        release_lock,
    };
    std::vector<std::uint64_t> memory(std::size_t{1} << 13); // 64 KiB: flushes while they run
    buffer_type buf(memory.data(), memory.size() * 8, tracebuf::memory_sink{});
    BOOST_REQUIRE(buf.status() == tracebuf::errc::ok);
    {
        const std::uint8_t id[16] = {1};
        BOOST_REQUIRE(mt::write_header(buf, mt::em_x86_64, id) == tracebuf::errc::ok);
    }
    std::atomic<std::uint64_t> lock{0};
    std::uint64_t counter = 0;
    const std::uint64_t lock_addr = reinterpret_cast<std::uintptr_t>(&lock);
    const std::uint64_t counter_addr = reinterpret_cast<std::uintptr_t>(&counter);
    std::atomic<int> described{0};
    std::atomic<int> errors{0}; // Boost.Test's checks are not for other threads

    const auto thread_body = [&](unsigned slot) {
        tracebuf::producer p;
        if (buf.register_thread(p) != tracebuf::errc::ok) ++errors;
        const auto put = [&](std::uint16_t type, const void* payload, std::size_t n) {
            if (buf.write_record(p, mt::tag_in_slot(type, slot), payload, n) != tracebuf::errc::ok) ++errors;
        };
        const auto exec = [&](std::uint32_t seq) { put(mt::insn_exec, &seq, sizeof seq); };
        const auto access = [&](std::uint16_t type, std::uint32_t seq, std::uint64_t addr, std::uint64_t value) {
            unsigned char a[20];
            std::memcpy(a, &seq, 4);
            std::memcpy(a + 4, &addr, 8);
            std::memcpy(a + 12, &value, 8);
            put(type, a, sizeof a);
        };
        const mt::thread_payload me{4242, 100 + slot, slot};
        put(mt::thread, &me, sizeof me);
        if (slot == 0) { // this thread translates; the other one waits for it
            for (std::uint32_t seq = xchg_lock; seq <= release_lock; ++seq) {
                unsigned char d[14] = {};
                const std::uint64_t pc = 0x401000 + 4 * seq;
                std::memcpy(d, &seq, 4);
                std::memcpy(d + 4, &pc, 8);
                d[13] = 0x90;
                put(mt::insn, d, sizeof d);
            }
            described.store(1);
        }
        while (described.load() == 0) std::this_thread::yield();
        for (unsigned i = 0; i < increments; ++i) {
            std::uint64_t old;
            do { // spin: back-to-back executions of one instruction
                exec(xchg_lock);
                old = lock.exchange(1);
                access(mt::load, xchg_lock, lock_addr, old);
                access(mt::store, xchg_lock, lock_addr, 1);
            } while (old != 0);
            exec(load_counter);
            const std::uint64_t v = counter;
            access(mt::load, load_counter, counter_addr, v);
            exec(store_counter);
            counter = v + 1;
            access(mt::store, store_counter, counter_addr, v + 1);
            exec(release_lock);
            lock.store(0);
            access(mt::store, release_lock, lock_addr, 0);
        }
        if (buf.unregister_thread(p) != tracebuf::errc::ok) ++errors;
    };
    std::thread a(thread_body, 0u), b(thread_body, 1u);
    a.join();
    b.join();
    BOOST_REQUIRE(errors.load() == 0);
    BOOST_REQUIRE(buf.drain() == tracebuf::errc::ok);
    BOOST_REQUIRE(counter == 2 * increments);

    const exported x = run_export(buf.sink().bytes());
    require_memtrace_rules(x);
    std::uint64_t last_stored = 0, stores = 0, loads = 0;
    for (const out_record& r : x.records) {
        if (r.addr != counter_addr) continue;
        if (r.tag == mt::store) {
            BOOST_REQUIRE_MESSAGE(r.value == last_stored + 1, "store of " << r.value << " after " << last_stored);
            last_stored = r.value;
            ++stores;
        } else if (r.tag == mt::load) {
            BOOST_REQUIRE_MESSAGE(r.value == last_stored, "load of " << r.value << " after the store of " << last_stored);
            ++loads;
        }
    }
    BOOST_TEST(stores == 2u * increments);
    BOOST_TEST(loads == 2u * increments);
    BOOST_TEST(x.stats.second_numbers >= 1u); // the spins and the threads' turns needed them
}
