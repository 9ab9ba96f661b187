// Double buffering (arena.hpp, flush_barrier.hpp): the memory splits in two, a flush swaps
// the buffers and releases the parked threads before it writes the full one out, the next
// flush waits for that write-out (back-pressure, nothing lost), and the order of the trace
// is the order of the reservations.
#define BOOST_TEST_MODULE double_buffer
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "support/test_memory.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf;
using tracebuf_test::eventually;
using tracebuf_test::memory;
using traits = tracebuf_test::boost_futex;

namespace {

// A sink that keeps every flush and, while `hold` is set, blocks inside write() - a slow
// disk - so that a test can see what producers do during a write-out.
class held_sink {
public:
    struct state {
        std::mutex mutex;
        std::vector<std::vector<unsigned char>> flushes;
        std::atomic<bool> hold{false};
        std::atomic<int> writing{0};
    };
    explicit held_sink(state* s) : s_(s) {}
    int write(const void* data, std::size_t size) noexcept {
        s_->writing.fetch_add(1);
        while (s_->hold.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        {
            std::lock_guard<std::mutex> lock(s_->mutex);
            const unsigned char* p = static_cast<const unsigned char*>(data);
            s_->flushes.emplace_back(p, p + size);
        }
        s_->writing.fetch_sub(1);
        return 0;
    }

private:
    state* s_;
};

std::vector<std::uint64_t> values_in(const std::vector<unsigned char>& bytes) {
    std::vector<std::uint64_t> out;
    const scan_result r = scan_records(
        bytes.data(), bytes.size(), 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t, std::size_t) {
            if (tag != 1) return;
            std::uint64_t v;
            std::memcpy(&v, payload, 8);
            out.push_back(v);
        });
    BOOST_REQUIRE(r.ok());
    return out;
}

constexpr std::size_t per_buffer = 64 * 1024;
constexpr std::uint64_t records_per_buffer = per_buffer / 16; // 16-byte records

} // namespace

BOOST_AUTO_TEST_CASE(the_memory_splits_into_two_buffers_that_alternate) {
    memory mem(2 * per_buffer);
    trace_buffer<traits, memory_sink> buf(mem.data(), mem.size(), memory_sink{}, buffering::double_buffer);
    BOOST_REQUIRE((buf.status() == errc::ok));
    const jit_layout l = buf.layout();
    BOOST_TEST(l.capacity == per_buffer);
    BOOST_TEST(!l.data_is_constant);
    BOOST_TEST(*l.current_data == static_cast<unsigned char*>(mem.data()));
    producer p;
    BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
    for (std::uint64_t v = 0; v < 3 * records_per_buffer; ++v) {
        BOOST_REQUIRE((buf.write_record(p, 1, &v, 8) == errc::ok));
        if (v == records_per_buffer) // the record that crossed went to the other half
            BOOST_TEST(*l.current_data == static_cast<unsigned char*>(mem.data()) + per_buffer);
    }
    BOOST_TEST(*l.current_data == static_cast<unsigned char*>(mem.data())); // and back
    BOOST_REQUIRE((buf.unregister_thread(p) == errc::ok));
    BOOST_REQUIRE((buf.drain() == errc::ok));
    const std::vector<std::uint64_t> vs = values_in(buf.sink().bytes());
    BOOST_REQUIRE(vs.size() == 3 * records_per_buffer);
    for (std::uint64_t i = 0; i < vs.size(); ++i) BOOST_REQUIRE(vs[i] == i);
    BOOST_TEST(buf.sink().flush_sizes().size() == 3u);
}

BOOST_AUTO_TEST_CASE(too_little_memory_for_two_buffers_is_refused) {
    memory mem(traits::max_reservation + 8); // one buffer's worth, not two
    trace_buffer<traits, memory_sink> buf(mem.data(), mem.size(), memory_sink{}, buffering::double_buffer);
    BOOST_TEST((buf.status() == errc::bad_arena));
}

// The heart of it: while the flusher is stuck in a slow write, another thread keeps writing
// into the other buffer without parking; when that buffer fills too, its writer waits for
// the write-out (back-pressure), and nothing is lost or reordered.
BOOST_AUTO_TEST_CASE(producers_run_during_the_write_out_until_the_spare_fills) {
    held_sink::state sink_state;
    memory mem(2 * per_buffer);
    trace_buffer<traits, held_sink> buf(mem.data(), mem.size(), held_sink(&sink_state), buffering::double_buffer);
    BOOST_REQUIRE((buf.status() == errc::ok));

    producer flusher;
    BOOST_REQUIRE((buf.register_thread(flusher) == errc::ok));
    // Thread 2 registers now and goes offline, so that the flush below does not wait for it.
    producer other;
    BOOST_REQUIRE((buf.register_thread(other) == errc::ok));
    BOOST_REQUIRE((buf.go_offline(other) == errc::ok));

    for (std::uint64_t v = 0; v < records_per_buffer; ++v) BOOST_REQUIRE((buf.write_record(flusher, 1, &v, 8) == errc::ok));
    sink_state.hold = true;
    std::thread flushing([&] {
        const std::uint64_t v = records_per_buffer; // crosses: this thread writes buffer 1 out
        buf.write_record(flusher, 1, &v, 8);
        buf.go_offline(flusher);
    });
    BOOST_REQUIRE(eventually([&] { return sink_state.writing.load() == 1; }));

    // The write-out is stuck. Thread 2 still fills most of the second buffer...
    std::atomic<std::uint64_t> written{0};
    std::thread writer([&] {
        buf.go_online(other);
        for (std::uint64_t v = records_per_buffer + 1; v < 3 * records_per_buffer; ++v) {
            if (buf.write_record(other, 1, &v, 8) != errc::ok) return;
            written.fetch_add(1);
        }
        buf.unregister_thread(other);
    });
    BOOST_REQUIRE(eventually([&] { return written.load() == records_per_buffer - 1; }));
    // ...then its crossing record must wait for the spare buffer: it cannot complete.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_TEST(written.load() == records_per_buffer - 1);
    BOOST_TEST(buf.stats().parks == 0u);

    sink_state.hold = false;
    flushing.join();
    writer.join();
    BOOST_REQUIRE((buf.unregister_thread(flusher) == errc::ok));
    BOOST_REQUIRE((buf.drain() == errc::ok));
    std::vector<unsigned char> all;
    for (const auto& f : sink_state.flushes) all.insert(all.end(), f.begin(), f.end());
    const std::vector<std::uint64_t> vs = values_in(all);
    BOOST_REQUIRE(vs.size() == 3 * records_per_buffer);
    for (std::uint64_t i = 0; i < vs.size(); ++i) BOOST_REQUIRE(vs[i] == i);
}

// An explicit flush returns only after its write-out: what was written before it is at the
// sink, in order.
BOOST_AUTO_TEST_CASE(explicit_flush_is_written_out_when_it_returns) {
    memory mem(2 * per_buffer);
    trace_buffer<traits, memory_sink> buf(mem.data(), mem.size(), memory_sink{}, buffering::double_buffer);
    producer p;
    BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
    for (std::uint64_t v = 0; v < 10; ++v) BOOST_REQUIRE((buf.write_record(p, 1, &v, 8) == errc::ok));
    BOOST_REQUIRE((buf.flush(p) == errc::ok));
    BOOST_TEST(values_in(buf.sink().bytes()).size() == 10u);
    for (std::uint64_t v = 10; v < 20; ++v) BOOST_REQUIRE((buf.write_record(p, 1, &v, 8) == errc::ok));
    BOOST_REQUIRE((buf.flush(p) == errc::ok));
    const std::vector<std::uint64_t> vs = values_in(buf.sink().bytes());
    BOOST_REQUIRE(vs.size() == 20u);
    for (std::uint64_t i = 0; i < vs.size(); ++i) BOOST_TEST(vs[i] == i);
    BOOST_REQUIRE((buf.unregister_thread(p) == errc::ok));
}
