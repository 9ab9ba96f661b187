// Chunk mode (chunk_writer.hpp): the chunk layout, chunks of their own size for large
// records, padding of the tail at offline, flush and unregister, misuse, and the idle
// take-over: a flush pads an idle thread's open chunk and the thread starts a new one.
#define BOOST_TEST_MODULE chunk_writer
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "support/test_memory.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf;
using tracebuf_test::memory;

namespace {

struct idle_traits : tracebuf_test::boost_futex {
    static constexpr std::uint32_t idle_slots = 4;
};

template <class Traits>
struct fixture {
    explicit fixture(std::size_t bytes = Traits::max_reservation)
        : mem(bytes), buf(mem.data(), mem.size(), memory_sink{}) {
        BOOST_REQUIRE((buf.status() == errc::ok));
    }
    memory mem;
    trace_buffer<Traits, memory_sink> buf;
};
using plain_fixture = fixture<tracebuf_test::boost_futex>;
using idle_fixture = fixture<idle_traits>;

// Two registered writers on an idle-capable buffer: a (tid 100) and b (tid 200).
struct two_idle_writers : idle_fixture {
    using writer = chunk_writer<decltype(idle_fixture::buf)>;
    two_idle_writers() {
        BOOST_REQUIRE((a.register_thread() == errc::ok));
        BOOST_REQUIRE((b.register_thread() == errc::ok));
    }
    writer a{buf, 4096, 1, 100};
    writer b{buf, 4096, 1, 200};
};

// One record as the reader sees it.
struct seen {
    std::uint16_t tag;
    std::size_t offset;
    std::size_t size;
    chunk_header chunk;  // when tag == tags::chunk
    std::uint64_t value; // first 8 payload bytes otherwise
};

std::vector<seen> records_of(const std::vector<unsigned char>& bytes) {
    std::vector<seen> out;
    const scan_result r = scan_records(
        bytes.data(), bytes.size(), 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
            seen s{tag, offset, n, {}, 0};
            if (tag == tags::chunk && n == sizeof(chunk_header)) std::memcpy(&s.chunk, payload, sizeof s.chunk);
            else if (n >= 8) std::memcpy(&s.value, payload, 8);
            out.push_back(s);
        });
    BOOST_REQUIRE_MESSAGE(r.ok(), "trace invalid at offset " << r.valid_bytes << ": " << to_string(r.fault));
    return out;
}

template <class Writer>
void write_values(Writer& w, std::uint64_t first, std::uint64_t count) {
    for (std::uint64_t v = first; v < first + count; ++v) BOOST_REQUIRE((w.write_record(7, &v, 8) == errc::ok));
}

} // namespace

BOOST_AUTO_TEST_CASE(chunks_start_with_a_header_and_end_in_padding) {
    plain_fixture f;
    chunk_writer<decltype(f.buf)> w(f.buf, 256, 11, 22);
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    // 24-byte chunk header + 14 x 16-byte records = 248: the 15th record starts chunk 1.
    write_values(w, 0, 20);
    BOOST_TEST(w.chunks() == 2u);
    BOOST_TEST(f.buf.arena().position() == 512u); // two reservations of 256 bytes
    BOOST_REQUIRE((w.unregister_thread() == errc::ok));
    BOOST_REQUIRE((f.buf.drain() == errc::ok));

    const std::vector<seen> rs = records_of(f.buf.sink().bytes());
    BOOST_TEST(f.buf.sink().bytes().size() == 512u); // no hole: both tails padded
    std::uint64_t next_value = 0, next_chunk = 0;
    for (const seen& s : rs) {
        if (s.tag == tags::chunk) {
            BOOST_TEST(s.offset == 256 * next_chunk);
            BOOST_TEST(s.chunk.pid == 11u);
            BOOST_TEST(s.chunk.tid == 22u);
            BOOST_TEST(s.chunk.bytes == 256u);
            BOOST_TEST(s.chunk.sequence == next_chunk++);
        } else if (s.tag == 7) {
            BOOST_TEST(s.value == next_value++);
        } else {
            BOOST_TEST(s.tag == tags::padding);
        }
    }
    BOOST_TEST(next_value == 20u);
    BOOST_TEST(next_chunk == 2u);
    BOOST_TEST(rs.back().tag == tags::padding); // the second chunk's tail
}

BOOST_AUTO_TEST_CASE(a_record_larger_than_a_chunk_gets_a_chunk_of_its_size) {
    plain_fixture f;
    chunk_writer<decltype(f.buf)> w(f.buf, 256, 1, 2);
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    write_values(w, 0, 1);
    std::vector<unsigned char> big(1000, 0xab);
    BOOST_REQUIRE((w.write_record(8, big.data(), big.size()) == errc::ok));
    BOOST_TEST(w.chunks() == 2u);
    BOOST_TEST(w.room() == 0u); // exactly its size: 24 + align(1004)
    BOOST_TEST(f.buf.arena().position() == 256u + 24u + 1008u);
    write_values(w, 1, 1); // and a normal chunk after it
    BOOST_TEST(w.chunks() == 3u);
    BOOST_REQUIRE((w.unregister_thread() == errc::ok));
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    const std::vector<seen> rs = records_of(f.buf.sink().bytes());
    std::vector<std::uint32_t> sizes;
    for (const seen& s : rs)
        if (s.tag == tags::chunk) sizes.push_back(s.chunk.bytes);
    BOOST_TEST(sizes == (std::vector<std::uint32_t>{256, 1032, 256}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(misuse_is_reported) {
    plain_fixture f;
    using writer = chunk_writer<decltype(f.buf)>;
    writer odd(f.buf, 260, 1, 1), small(f.buf, 24, 1, 1), huge(f.buf, 128 * 1024, 1, 1);
    BOOST_TEST((odd.status() == errc::bad_size));
    BOOST_TEST((small.status() == errc::bad_size));
    BOOST_TEST((huge.status() == errc::bad_size));
    BOOST_TEST((odd.register_thread() == errc::bad_size));
    BOOST_TEST((odd.producer().state() == producer_state::unregistered));

    writer w(f.buf, 4096, 1, 1);
    BOOST_TEST(w.reserve(8) == nullptr);
    BOOST_TEST((w.last_error() == errc::not_registered));
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    BOOST_TEST(w.reserve(12) == nullptr);
    BOOST_TEST((w.last_error() == errc::bad_size));
    BOOST_TEST(w.reserve(0) == nullptr);
    BOOST_TEST((w.last_error() == errc::bad_size));
    BOOST_TEST(w.reserve(64 * 1024) == nullptr); // no room for the chunk header
    BOOST_TEST((w.last_error() == errc::too_large));
    BOOST_TEST(w.reserve_record(0, 8) == nullptr);
    BOOST_TEST((w.last_error() == errc::bad_tag));
    write_values(w, 0, 3);
    BOOST_REQUIRE((w.go_offline() == errc::ok));
    BOOST_TEST(w.reserve(8) == nullptr); // the chunk was closed: no writing while offline
    BOOST_TEST((w.last_error() == errc::not_online));
    BOOST_REQUIRE((w.go_online() == errc::ok));
    write_values(w, 3, 1);
    BOOST_TEST(w.chunks() == 2u); // a new chunk after offline
    BOOST_REQUIRE((w.unregister_thread() == errc::ok));
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    BOOST_TEST(f.buf.sink().bytes().size() == 2 * 4096u);
    records_of(f.buf.sink().bytes()); // valid: the offline chunk's tail was padded
}

BOOST_AUTO_TEST_CASE(flush_closes_the_chunk_and_writes_it) {
    plain_fixture f;
    chunk_writer<decltype(f.buf)> w(f.buf, 4096, 1, 1);
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    write_values(w, 0, 5);
    BOOST_REQUIRE((w.flush() == errc::ok));
    BOOST_REQUIRE(f.buf.sink().flush_sizes().size() == 1u);
    BOOST_TEST(f.buf.sink().flush_sizes()[0] == 4096u);
    std::uint64_t values = 0;
    for (const seen& s : records_of(f.buf.sink().bytes())) values += s.tag == 7;
    BOOST_TEST(values == 5u);
    BOOST_REQUIRE((w.unregister_thread() == errc::ok));
}

BOOST_AUTO_TEST_CASE(idle_writer_is_not_writable_until_busy) {
    idle_fixture f;
    chunk_writer<decltype(f.buf)> w(f.buf, 4096, 1, 1);
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    write_values(w, 0, 2);
    BOOST_REQUIRE((w.idle() == errc::ok));
    BOOST_TEST(w.reserve(8) == nullptr);
    BOOST_TEST((w.last_error() == errc::not_online));
    BOOST_REQUIRE((w.busy() == errc::ok));
    BOOST_TEST(!w.producer().taken_over()); // no flush: the chunk is still open
    write_values(w, 2, 2);
    BOOST_TEST(w.chunks() == 1u);
    BOOST_REQUIRE((w.unregister_thread() == errc::ok));
}

// A flush by another thread takes the idle writer over and pads its open chunk; the writer
// notices on busy() and continues in a new chunk.
BOOST_FIXTURE_TEST_CASE(a_flush_pads_an_idle_writers_open_chunk, two_idle_writers) {
    write_values(a, 0, 3);
    BOOST_REQUIRE((a.idle() == errc::ok)); // open chunk: 24 + 48 bytes used of 4096
    write_values(b, 1000, 1);
    BOOST_REQUIRE((b.flush() == errc::ok)); // must not wait for a: it is idle
    BOOST_REQUIRE(buf.sink().flush_sizes().size() == 1u);
    BOOST_TEST(buf.sink().flush_sizes()[0] == 2 * 4096u);
    const std::vector<seen> rs = records_of(buf.sink().bytes()); // a's tail is padding
    std::uint64_t a_values = 0;
    std::uint32_t owner = 0;
    for (const seen& s : rs) {
        if (s.tag == tags::chunk) owner = s.chunk.tid;
        if (s.tag == 7 && s.value < 1000) {
            BOOST_TEST(owner == 100u);
            ++a_values;
        }
    }
    BOOST_TEST(a_values == 3u);

    BOOST_REQUIRE((a.busy() == errc::ok));
    BOOST_TEST(a.producer().taken_over());
    BOOST_TEST(a.room() == 0u);
    write_values(a, 3, 1); // a new chunk, sequence 1
    BOOST_TEST(a.chunks() == 2u);
    BOOST_REQUIRE((a.unregister_thread() == errc::ok));
    BOOST_REQUIRE((b.unregister_thread() == errc::ok));
    BOOST_REQUIRE((buf.drain() == errc::ok));
    const std::vector<seen> all = records_of(buf.sink().bytes());
    BOOST_TEST(all[all.size() - 3].tag == tags::chunk); // a's chunk 1: header, value 3, padding
    BOOST_TEST(all[all.size() - 3].chunk.sequence == 1u);
    BOOST_TEST(all[all.size() - 2].value == 3u);
}

// Going offline straight from idle: the writer pads its chunk itself if no flush took it
// over, and does not touch it if one did.
BOOST_FIXTURE_TEST_CASE(going_offline_from_idle_closes_the_chunk_once, two_idle_writers) {
    write_values(a, 0, 1);
    BOOST_REQUIRE((a.idle() == errc::ok));
    BOOST_REQUIRE((a.go_offline() == errc::ok)); // not taken over: pads itself
    BOOST_REQUIRE((a.go_online() == errc::ok));
    write_values(a, 1, 1);
    BOOST_REQUIRE((a.idle() == errc::ok));
    BOOST_REQUIRE((b.flush() == errc::ok));      // takes a over, pads a's second chunk
    BOOST_REQUIRE((a.go_offline() == errc::ok)); // from idle, taken: nothing left to pad
    BOOST_REQUIRE((b.flush() == errc::ok));
    BOOST_REQUIRE((a.go_online() == errc::ok));
    BOOST_REQUIRE((a.unregister_thread() == errc::ok));
    BOOST_REQUIRE((b.unregister_thread() == errc::ok));
    BOOST_REQUIRE((buf.drain() == errc::ok));
    std::uint64_t a_chunks = 0;
    for (const seen& s : records_of(buf.sink().bytes())) a_chunks += s.tag == tags::chunk && s.chunk.tid == 100;
    BOOST_TEST(a_chunks == 2u);
    BOOST_TEST(buf.counter().online_count() == 0u);
}

// Two threads in parallel: every record lies in a chunk of its own thread, in order.
BOOST_AUTO_TEST_CASE(parallel_writers_records_stay_in_their_chunks) {
    fixture<tracebuf_test::boost_futex> f(64 * 1024);
    using writer = chunk_writer<decltype(f.buf)>;
    constexpr std::uint64_t per_thread = 200000;
    auto run = [&](std::uint32_t tid) {
        writer w(f.buf, 1024, 1, tid);
        if (w.register_thread() != errc::ok) return;
        for (std::uint64_t v = 0; v < per_thread; ++v) {
            const std::uint64_t value = (std::uint64_t{tid} << 32) | v;
            if (w.write_record(7, &value, 8) != errc::ok) return;
        }
        w.unregister_thread();
    };
    std::thread t1(run, 1), t2(run, 2);
    t1.join();
    t2.join();
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    std::uint64_t next[3] = {0, 0, 0}, next_chunk[3] = {0, 0, 0};
    std::uint32_t owner = 0;
    std::size_t chunk_end = 0;
    std::uint64_t misplaced = 0;
    for (const seen& s : records_of(f.buf.sink().bytes())) {
        if (s.tag == tags::chunk) {
            owner = s.chunk.tid;
            chunk_end = s.offset + s.chunk.bytes;
            misplaced += s.chunk.sequence != next_chunk[owner]++;
        } else if (s.tag == 7) {
            const std::uint32_t tid = static_cast<std::uint32_t>(s.value >> 32);
            misplaced += tid != owner || s.offset >= chunk_end || (s.value & 0xffffffffu) != next[tid];
            ++next[tid];
        }
    }
    BOOST_TEST(misplaced == 0u);
    BOOST_TEST(next[1] == per_thread);
    BOOST_TEST(next[2] == per_thread);
    BOOST_TEST(f.buf.stats().flushes > 10u);
}
