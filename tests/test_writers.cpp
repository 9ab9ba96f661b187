// The writer shape: one host loop, written once as a template over the writer, runs
// unchanged over record_writer and chunk_writer; both answer misuse with the same codes.
#define BOOST_TEST_MODULE writers
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <thread>
#include <tuple>
#include <vector>

#include "support/test_memory.hpp"
#include "support/test_traits.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using tracebuf_test::memory;

namespace {

struct idle_traits : tracebuf_test::boost_futex_membarrier {
    static constexpr std::uint32_t idle_slots = 8;
};
using buffer = trace_buffer<idle_traits, memory_sink>;

// How a test builds each kind of writer: the only mode-specific line a host has.
template <class Writer>
Writer make(buffer& b, std::uint32_t tid);
template <>
record_writer<buffer> make<record_writer<buffer>>(buffer& b, std::uint32_t) {
    return record_writer<buffer>(b);
}
template <>
chunk_writer<buffer> make<chunk_writer<buffer>>(buffer& b, std::uint32_t tid) {
    return chunk_writer<buffer>(b, 512, 7, tid);
}

constexpr std::uint16_t value_tag = 0x4d41;

// The host loop: a callback per record, busy/idle around it, a syscall now and then, a
// batch of two records, an explicit flush.
template <class Writer>
void host_thread(Writer& w, std::uint32_t id, std::uint32_t records) {
    TB_CHECK((w.register_thread() == errc::ok));
    TB_CHECK((w.idle() == errc::ok));
    for (std::uint32_t i = 0; i < records;) {
        TB_CHECK((w.busy() == errc::ok));
        const std::uint32_t payload[2] = {id, i};
        if (i % 7 == 3 && i + 1 < records) { // a batch: one reservation, two records
            unsigned char* at = w.reserve(2 * record_footprint(sizeof payload));
            if (TB_CHECK(at != nullptr)) {
                at = static_cast<unsigned char*>(put_record(at, value_tag, payload, sizeof payload));
                const std::uint32_t second[2] = {id, i + 1};
                put_record(at, value_tag, second, sizeof second);
            }
            i += 2;
        } else if (i % 2 == 0) {
            TB_CHECK((w.write_record(value_tag, payload, sizeof payload) == errc::ok));
            ++i;
        } else {
            void* body = w.reserve_record(value_tag, sizeof payload);
            if (TB_CHECK(body != nullptr)) std::memcpy(body, payload, sizeof payload);
            ++i;
        }
        if (i % 500 == 0) TB_CHECK((w.flush() == errc::ok));
        TB_CHECK((w.idle() == errc::ok));
        if (i % 300 == 0) { // a syscall, straight from idle
            TB_CHECK((w.go_offline() == errc::ok));
            TB_CHECK((w.go_online() == errc::ok));
            TB_CHECK((w.idle() == errc::ok));
        }
    }
    TB_CHECK((w.unregister_thread() == errc::ok));
}

// Every value record once, in per-thread order; chunk headers and padding skipped.
void check_trace(const memory_sink& s, std::uint32_t threads, std::uint32_t records) {
    std::map<std::uint32_t, std::uint32_t> next;
    std::uint64_t bad = 0, seen = 0;
    const scan_result r = scan_records(s.bytes().data(), s.bytes().size(), idle_traits::max_record_size,
                                       [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
                                           if (tag != value_tag) return;
                                           std::uint32_t v[2];
                                           if (n != sizeof v) return void(++bad);
                                           std::memcpy(v, payload, sizeof v);
                                           if (v[1] != next[v[0]]++) ++bad;
                                           ++seen;
                                       });
    BOOST_TEST(r.ok());
    BOOST_TEST(bad == 0u);
    BOOST_TEST(seen == std::uint64_t{threads} * records);
    for (std::uint32_t t = 0; t < threads; ++t) BOOST_TEST(next[t] == records);
}

using writer_kinds = std::tuple<record_writer<buffer>, chunk_writer<buffer>>;

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(one_host_loop_serves_every_writer, Writer, writer_kinds) {
    memory m(16 * 1024 * 8); // small: hundreds of flushes
    buffer b(m.data(), 64 * 1024, memory_sink{});
    BOOST_REQUIRE((b.status() == errc::ok));
    constexpr std::uint32_t threads = 4, records = 20000;
    std::vector<std::thread> pool;
    for (std::uint32_t t = 0; t < threads; ++t)
        pool.emplace_back([&b, t] {
            Writer w = make<Writer>(b, t);
            host_thread(w, t, records);
        });
    for (auto& t : pool) t.join();
    TB_NO_THREAD_FAILURES();
    BOOST_REQUIRE((b.drain() == errc::ok));
    BOOST_TEST(b.stats().flushes > 50u);
    check_trace(b.sink(), threads, records);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_writer_refuses_misuse_with_the_same_codes, Writer, writer_kinds) {
    memory m(64 * 1024);
    buffer b(m.data(), m.size(), memory_sink{});
    Writer w = make<Writer>(b, 1);
    BOOST_TEST((w.status() == errc::ok));
    BOOST_TEST((w.go_offline() == errc::not_registered));
    BOOST_TEST((w.busy() == errc::not_registered));
    BOOST_TEST(w.reserve(8) == nullptr);
    BOOST_TEST((w.last_error() == errc::not_registered));
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    BOOST_TEST((w.register_thread() == errc::already_registered));
    BOOST_TEST((w.busy() == errc::already_online)); // busy while busy
    BOOST_TEST((w.go_online() == errc::already_online));
    BOOST_TEST(w.reserve(12) == nullptr);
    BOOST_TEST((w.last_error() == errc::bad_size));
    BOOST_TEST(w.reserve_record(0, 4) == nullptr);
    BOOST_TEST((w.last_error() == errc::bad_tag));
    BOOST_TEST(w.reserve_record(1, idle_traits::max_record_size) == nullptr);
    BOOST_TEST((w.last_error() == errc::too_large));
    BOOST_REQUIRE((w.idle() == errc::ok));
    BOOST_TEST((w.idle() == errc::not_online)); // idle twice
    BOOST_TEST(w.reserve(8) == nullptr);        // idle: not writable
    BOOST_TEST((w.last_error() == errc::not_online));
    BOOST_REQUIRE((w.go_offline() == errc::ok));
    BOOST_TEST((w.busy() == errc::not_online)); // offline is not idle
    BOOST_TEST((w.go_offline() == errc::not_online));
    BOOST_TEST((w.flush() == errc::not_online));
    BOOST_REQUIRE((w.go_online() == errc::ok));
    BOOST_TEST((w.write_record(1, "abc", 3) == errc::ok));
    BOOST_TEST((w.unregister_thread() == errc::ok));
    BOOST_TEST((b.drain() == errc::ok));
    BOOST_TEST(scan_records(b.sink().bytes().data(), b.sink().bytes().size(), 4096).ok());
}

BOOST_AUTO_TEST_CASE(chunk_sizes_are_checked_without_a_writer) {
    using cw = chunk_writer<buffer>;
    BOOST_TEST(!cw::valid_chunk_size(0));
    BOOST_TEST(!cw::valid_chunk_size(chunk_header_footprint));
    BOOST_TEST(cw::valid_chunk_size(chunk_header_footprint + 8));
    BOOST_TEST(!cw::valid_chunk_size(4100));
    BOOST_TEST(cw::valid_chunk_size(4096));
    BOOST_TEST(cw::valid_chunk_size(idle_traits::max_reservation));
    BOOST_TEST(!cw::valid_chunk_size(idle_traits::max_reservation + 8));
    static_assert(cw::valid_chunk_size(64 * 1024), "usable in constant expressions");
}
