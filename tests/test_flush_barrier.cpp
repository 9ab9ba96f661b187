// The flush barrier through trace_buffer: who flushes, what is written, the position
// handoff in arrival order, overflow at handoff, explicit flush, drain, sink errors, the
// serialized host, and misuse.
#define BOOST_TEST_MODULE flush_barrier
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "support/test_memory.hpp"
#include "support/test_traits.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using tracebuf_test::eventually;
using tracebuf_test::memory;
using namespace std::chrono_literals;

namespace {

template <class Traits, class Sink = memory_sink>
struct fixture {
    explicit fixture(std::size_t bytes, Sink s = Sink{}) : mem(bytes), buf(mem.data(), mem.size(), std::move(s)) {
        BOOST_REQUIRE((buf.status() == errc::ok));
    }
    memory mem;
    trace_buffer<Traits, Sink> buf;
};

// Small limits, so that a few threads overflow a buffer several times over.
template <class Base>
struct tiny : Base {
    static constexpr std::size_t max_record_size = 64;
    static constexpr std::size_t max_reservation = 64;
};

std::uint64_t record_value(const unsigned char* payload) {
    std::uint64_t v;
    std::memcpy(&v, payload, 8);
    return v;
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(crossing_reservation_flushes_exactly_the_valid_data,
                              T, tracebuf_test::parallel_traits) {
    fixture<T> f(T::max_reservation);
    producer p;
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    const std::size_t cap = f.buf.layout().capacity;
    // Fill all but 8 bytes: 16-byte records holding their index, then one padding record.
    const std::uint64_t n = cap / 16 - 1;
    for (std::uint64_t i = 0; i < n; ++i)
        BOOST_REQUIRE((f.buf.write_record(p, 1, &i, 8) == errc::ok));
    unsigned char* pad = f.buf.reserve(p, 8);
    BOOST_REQUIRE(pad != nullptr);
    write_padding(pad, 8, T::max_record_size);
    BOOST_TEST(f.buf.sink().flush_sizes().empty());
    const std::uint64_t last = n;
    BOOST_REQUIRE((f.buf.write_record(p, 1, &last, 8) == errc::ok)); // 16 bytes: crosses
    BOOST_REQUIRE(f.buf.sink().flush_sizes().size() == 1u);
    BOOST_TEST(f.buf.sink().flush_sizes()[0] == cap - 8);
    // The crossing record went to the start of the fresh buffer.
    BOOST_TEST(f.buf.arena().position() == 16u);
    BOOST_TEST(record_value(static_cast<const unsigned char*>(f.buf.layout().data) + 4) == last);
    // What was flushed is exactly records 0..n-1, and the buffer was zeroed after it.
    std::uint64_t expect = 0;
    const scan_result r = scan_records(
        f.buf.sink().bytes().data(), f.buf.sink().bytes().size(), 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t, std::size_t) {
            if (tag == 1) BOOST_REQUIRE(record_value(payload) == expect++);
        });
    BOOST_TEST(r.ok());
    BOOST_TEST(r.records == n + 1);
    BOOST_TEST(expect == n);
    BOOST_TEST(f.buf.layout().data[cap - 16] == 0);
    BOOST_TEST(f.buf.stats().flushes == 1u);
    BOOST_TEST(f.buf.stats().bytes_flushed == cap - 8);
}

// The handoff: the crossing thread waits for an online thread; two more threads overflow
// meanwhile and park. After the flush they hold positions right behind the crossing one,
// in the order they arrived - without retrying.
BOOST_AUTO_TEST_CASE_TEMPLATE(parked_threads_get_positions_in_arrival_order,
                              T, tracebuf_test::parallel_traits) {
    fixture<T> f(T::max_reservation);
    const std::size_t cap = f.buf.layout().capacity;
    producer main_thread;
    BOOST_REQUIRE((f.buf.register_thread(main_thread) == errc::ok));
    BOOST_REQUIRE(f.buf.reserve(main_thread, cap - 8) != nullptr); // 8 bytes left
    write_padding(f.buf.layout().data, cap - 8, T::max_record_size);

    std::atomic<std::uint64_t> pos_a{1}, pos_b{1}, pos_c{1};
    auto reserve_in = [&](std::uint64_t n, std::atomic<std::uint64_t>& out) {
        return std::thread([&f, n, &out] {
            producer p;
            TB_CHECK((f.buf.register_thread(p) == errc::ok));
            unsigned char* at = f.buf.reserve(p, n);
            if (!TB_CHECK(at != nullptr)) return;
            write_padding(at, n, T::max_record_size);
            out = static_cast<std::uint64_t>(at - f.buf.layout().data);
            TB_CHECK((f.buf.unregister_thread(p) == errc::ok));
        });
    };
    std::thread a = reserve_in(16, pos_a); // crosses: the flusher
    BOOST_REQUIRE(eventually([&] { return f.buf.arena().position() == cap + 8; }));
    std::thread b = reserve_in(24, pos_b);
    BOOST_REQUIRE(eventually([&] { return f.buf.stats().parks == 1u; }));
    std::thread c = reserve_in(40, pos_c);
    BOOST_REQUIRE(eventually([&] { return f.buf.stats().parks == 2u; }));
    std::this_thread::sleep_for(20ms);
    BOOST_TEST(f.buf.sink().flush_sizes().empty()); // main_thread is online: nobody flushed

    BOOST_REQUIRE((f.buf.go_offline(main_thread) == errc::ok));
    a.join();
    b.join();
    c.join();
    BOOST_TEST(pos_a.load() == 0u);
    BOOST_TEST(pos_b.load() == 16u);
    BOOST_TEST(pos_c.load() == 40u);
    BOOST_TEST(f.buf.arena().position() == 80u);
    BOOST_REQUIRE(f.buf.sink().flush_sizes().size() == 1u);
    BOOST_TEST(f.buf.sink().flush_sizes()[0] == cap - 8);
    TB_NO_THREAD_FAILURES();
}

// More bytes park than the buffer holds: the parked reservation that now crosses the end
// leads the next flush, and everything still arrives once, whole, and in per-thread order.
BOOST_AUTO_TEST_CASE_TEMPLATE(overflow_at_handoff_chains_flushes, T, tracebuf_test::parallel_traits) {
    using small = tiny<T>;
    fixture<small> f(small::max_reservation * 2); // 128 bytes: two 64-byte reservations
    constexpr int threads = 6;
    constexpr std::uint64_t per_thread = 300;
    std::vector<std::thread> pool;
    std::atomic<int> start{0};
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&f, &start, t] {
            producer p;
            TB_CHECK((f.buf.register_thread(p) == errc::ok));
            start.fetch_add(1);
            while (start.load() < threads) std::this_thread::yield();
            for (std::uint64_t i = 0; i < per_thread; ++i) {
                const std::uint64_t v = (static_cast<std::uint64_t>(t) << 32) | i;
                std::uint64_t payload[7] = {v, v, v, v, v, v, v};
                TB_CHECK((f.buf.write_record(p, 2, payload, 56) == errc::ok)); // 64 bytes
            }
            TB_CHECK((f.buf.unregister_thread(p) == errc::ok));
        });
    }
    for (auto& th : pool) th.join();
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    std::vector<std::uint64_t> next(threads, 0);
    std::size_t offset = 0;
    for (std::size_t size : f.buf.sink().flush_sizes()) {
        BOOST_REQUIRE(size <= 128u);
        const scan_result r = scan_records(
            f.buf.sink().bytes().data() + offset, size, 64, [&](std::uint16_t, const unsigned char* payload, std::size_t, std::size_t) {
                const std::uint64_t v = record_value(payload);
                const auto t = static_cast<std::size_t>(v >> 32);
                BOOST_REQUIRE(t < next.size());
                BOOST_REQUIRE((v & 0xffffffffu) == next[t]++);
                for (int k = 1; k < 7; ++k) BOOST_REQUIRE(record_value(payload + 8 * k) == v);
            });
        BOOST_REQUIRE(r.ok());
        offset += size;
    }
    for (auto n : next) BOOST_TEST(n == per_thread);
    TB_NO_THREAD_FAILURES();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(explicit_flush_writes_what_was_reserved_before_it,
                              T, tracebuf_test::parallel_traits) {
    fixture<T> f(1 << 20);
    producer p;
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    BOOST_TEST((f.buf.flush(p) == errc::ok)); // empty: nothing to write
    BOOST_TEST(f.buf.sink().flush_sizes().empty());
    for (std::uint64_t i = 0; i < 10; ++i) BOOST_REQUIRE((f.buf.write_record(p, 3, &i, 8) == errc::ok));
    BOOST_TEST((f.buf.flush(p) == errc::ok));
    BOOST_REQUIRE(f.buf.sink().flush_sizes().size() == 1u);
    BOOST_TEST(f.buf.sink().flush_sizes()[0] == 160u);
    BOOST_TEST(f.buf.arena().position() == 0u); // the request took no room
    std::uint64_t v = 99;
    BOOST_REQUIRE((f.buf.write_record(p, 3, &v, 8) == errc::ok));
    BOOST_TEST(f.buf.arena().position() == 16u);
    BOOST_TEST((f.buf.flush(p) == errc::ok));
    BOOST_TEST(f.buf.sink().flush_sizes().size() == 2u);
    BOOST_TEST(f.buf.stats().flushes == 2u);

    producer offline;
    BOOST_TEST((f.buf.flush(offline) == errc::not_registered));
    BOOST_REQUIRE((f.buf.register_thread(offline) == errc::ok));
    BOOST_REQUIRE((f.buf.go_offline(offline) == errc::ok));
    BOOST_TEST((f.buf.flush(offline) == errc::not_online));
}

// Explicit flushes from several threads at once, mixed with writers: each returns after
// a flush that covered its earlier records; nothing is lost or doubled.
BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_explicit_flushes, T, tracebuf_test::parallel_traits) {
    fixture<T> f(1 << 16);
    constexpr int threads = 4;
    constexpr std::uint64_t per_thread = 2000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&f, t] {
            producer p;
            TB_CHECK((f.buf.register_thread(p) == errc::ok));
            for (std::uint64_t i = 0; i < per_thread; ++i) {
                const std::uint64_t v = (static_cast<std::uint64_t>(t) << 32) | i;
                TB_CHECK((f.buf.write_record(p, 4, &v, 8) == errc::ok));
                if (i % 97 == 0) TB_CHECK((f.buf.flush(p) == errc::ok));
            }
            TB_CHECK((f.buf.unregister_thread(p) == errc::ok));
        });
    }
    for (auto& th : pool) th.join();
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    std::vector<std::uint64_t> next(threads, 0);
    const auto& bytes = f.buf.sink().bytes();
    const scan_result r = scan_records(
        bytes.data(), bytes.size(), 4096, [&](std::uint16_t, const unsigned char* payload, std::size_t, std::size_t) {
            const std::uint64_t v = record_value(payload);
            BOOST_REQUIRE((v & 0xffffffffu) == next[v >> 32]++);
        });
    BOOST_TEST(r.ok());
    for (auto n : next) BOOST_TEST(n == per_thread);
    BOOST_TEST(f.buf.stats().flushes >= static_cast<std::uint64_t>(per_thread / 97));
    TB_NO_THREAD_FAILURES();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(drain_writes_the_rest_and_closes, T, tracebuf_test::parallel_traits) {
    fixture<T> f(1 << 16);
    producer p;
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    std::uint64_t v = 5;
    BOOST_REQUIRE((f.buf.write_record(p, 5, &v, 8) == errc::ok));
    BOOST_REQUIRE((f.buf.go_offline(p) == errc::ok));
    BOOST_TEST((f.buf.drain() == errc::ok));
    BOOST_TEST(f.buf.sink().bytes().size() == 16u);
    // Use after the final drain fails clearly, and changes nothing.
    BOOST_TEST((f.buf.drain() == errc::closed));
    BOOST_REQUIRE((f.buf.go_online(p) == errc::ok));
    BOOST_TEST(f.buf.reserve(p, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::closed));
    BOOST_TEST((f.buf.write_record(p, 5, &v, 8) == errc::closed));
    BOOST_TEST((f.buf.flush(p) == errc::closed));
    BOOST_TEST(f.buf.sink().bytes().size() == 16u);
}

BOOST_AUTO_TEST_CASE(drain_refuses_while_a_flush_is_pending) {
    fixture<tracebuf_test::boost_futex> f(1 << 16);
    const std::size_t cap = f.buf.layout().capacity;
    producer p;
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    // A JIT-style reservation that crossed the end and was not settled yet: a producer is
    // still running, against drain's precondition.
    const std::uint64_t full = f.buf.reserve_fast(cap);
    write_padding(f.buf.layout().data, cap, 4096);
    const std::uint64_t crossing = f.buf.reserve_fast(8);
    BOOST_TEST((f.buf.drain() == errc::busy));
    BOOST_TEST(f.buf.sink().bytes().empty());
    BOOST_TEST(full == 0u);
    // The protocol goes on as if drain had not been called.
    const std::uint64_t at = f.buf.reserve_slow(p, crossing, 8);
    BOOST_TEST(at == 0u);
    write_padding(f.buf.layout().data + at, 8, 4096);
    BOOST_TEST(f.buf.sink().bytes().size() == cap);
    BOOST_REQUIRE((f.buf.go_offline(p) == errc::ok));
    BOOST_TEST((f.buf.drain() == errc::ok));
    BOOST_TEST(f.buf.sink().bytes().size() == cap + 8);
}

BOOST_AUTO_TEST_CASE(reservation_misuse_is_reported_and_changes_nothing) {
    fixture<tracebuf_test::boost_futex> f(1 << 16);
    producer p;
    BOOST_TEST(f.buf.reserve(p, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::not_registered));
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    BOOST_TEST(f.buf.reserve(p, 0) == nullptr);
    BOOST_TEST((p.last_error() == errc::bad_size));
    BOOST_TEST(f.buf.reserve(p, 12) == nullptr);
    BOOST_TEST((p.last_error() == errc::bad_size));
    BOOST_TEST(f.buf.reserve(p, traits_base::max_reservation + 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::too_large));
    BOOST_TEST(f.buf.reserve_record(p, 0, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::bad_tag));
    BOOST_TEST(f.buf.reserve_record(p, 1, traits_base::max_record_size - 3) == nullptr);
    BOOST_TEST((p.last_error() == errc::too_large));
    BOOST_TEST(f.buf.reserve_record(p, 1, traits_base::max_record_size - 4) != nullptr);
    BOOST_REQUIRE((f.buf.go_offline(p) == errc::ok));
    BOOST_TEST(f.buf.reserve(p, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::not_online));
    BOOST_TEST(f.buf.arena().position() == traits_base::max_record_size);
}

BOOST_AUTO_TEST_CASE(bad_memory_fails_every_reservation) {
    memory m(1024);
    trace_buffer<tracebuf_test::boost_futex, memory_sink> buf(m.data(), m.size(), memory_sink{});
    BOOST_TEST((buf.status() == errc::bad_arena));
    producer p;
    BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
    BOOST_TEST(buf.reserve(p, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::closed));
}

namespace {
struct failing_sink {
    int calls = 0;
    int write(const void*, std::size_t) noexcept {
        ++calls;
        return EIO;
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(sink_errors_are_reported_not_swallowed) {
    fixture<tracebuf_test::boost_futex, failing_sink> f(1 << 16);
    const std::size_t cap = f.buf.layout().capacity;
    producer p;
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    BOOST_REQUIRE(f.buf.reserve(p, cap) != nullptr);
    BOOST_TEST(f.buf.sink_error() == 0);
    BOOST_REQUIRE(f.buf.reserve(p, 8) != nullptr); // the flush fails; the writer goes on
    BOOST_TEST(f.buf.sink().calls == 1);
    BOOST_TEST(f.buf.sink_error() == EIO);
    BOOST_TEST((f.buf.flush(p) == errc::sink_failed));
    BOOST_TEST((p.last_error() == errc::sink_failed));
    BOOST_REQUIRE((f.buf.go_offline(p) == errc::ok));
    BOOST_TEST((f.buf.drain() == errc::sink_failed));
}

// A serialized host (Valgrind): the crossing thread flushes at once although another
// thread is registered and online - it cannot be mid-write, since only one thread runs.
BOOST_AUTO_TEST_CASE(serialized_host_never_waits) {
    using T = tracebuf_test::std_serialized;
    fixture<T> f(1 << 16);
    const std::size_t cap = f.buf.layout().capacity;
    producer other, p;
    BOOST_REQUIRE((f.buf.register_thread(other) == errc::ok)); // online, never offline
    BOOST_REQUIRE((f.buf.register_thread(p) == errc::ok));
    BOOST_REQUIRE(f.buf.reserve(p, cap) != nullptr);
    write_padding(f.buf.layout().data, cap, 4096);
    unsigned char* at = f.buf.reserve(p, 8);
    BOOST_REQUIRE(at != nullptr);
    BOOST_TEST(at == f.buf.layout().data);
    BOOST_TEST(f.buf.sink().bytes().size() == cap);
    write_padding(at, 8, 4096);
    BOOST_TEST((f.buf.flush(p) == errc::ok));
    BOOST_TEST(f.buf.sink().bytes().size() == cap + 8);

    // A pending flush that another thread would have to finish: the host is not serialized.
    // Report it instead of waiting forever.
    BOOST_REQUIRE(f.buf.reserve(p, cap) != nullptr);
    const std::uint64_t crossing = f.buf.reserve_fast(8);
    const std::uint64_t behind = f.buf.reserve_fast(8);
    BOOST_TEST(f.buf.reserve_slow(other, behind, 8) == invalid_position);
    BOOST_TEST((other.last_error() == errc::would_block));
    write_padding(f.buf.layout().data, cap, 4096);
    BOOST_TEST(f.buf.reserve_slow(p, crossing, 8) == 0u);
}

// The JIT path with a producer that is not online (a host bug): the reservation is still
// settled so nobody hangs, its bytes become padding, and the caller gets the error.
BOOST_AUTO_TEST_CASE_TEMPLATE(jit_slow_path_by_an_offline_producer_keeps_the_trace_valid,
                              T, tracebuf_test::parallel_traits) {
    fixture<T> f(1 << 16);
    const std::size_t cap = f.buf.layout().capacity;
    producer good, bad;
    BOOST_REQUIRE((f.buf.register_thread(good) == errc::ok));
    BOOST_REQUIRE(f.buf.reserve(good, cap - 8) != nullptr);
    write_padding(f.buf.layout().data, cap - 8, 4096);
    BOOST_REQUIRE((f.buf.go_offline(good) == errc::ok));
    const std::uint64_t crossing = f.buf.reserve_fast(16);
    BOOST_TEST(f.buf.reserve_slow(bad, crossing, 16) == invalid_position);
    BOOST_TEST((bad.last_error() == errc::not_registered));
    BOOST_TEST(f.buf.sink().bytes().size() == cap - 8); // it flushed
    BOOST_REQUIRE((f.buf.drain() == errc::ok));
    const auto& bytes = f.buf.sink().bytes();
    const scan_result r = scan_records(bytes.data(), bytes.size(), 4096);
    BOOST_TEST(r.ok());
    BOOST_TEST(bytes.size() == cap + 8);
    BOOST_TEST((bad.state() == producer_state::unregistered));
    BOOST_TEST(f.buf.counter().registered_count() == 1u);
}
