// Misuse and edge paths that once deadlocked or wrote outside the arena (issue 12, items
// 1-7): each is refused with an errc and changes nothing, or completes the protocol so that
// nobody waits forever. Every test bounds its waits: a regression fails, it does not hang.
#define BOOST_TEST_MODULE misuse
#include <boost/test/unit_test.hpp>

#include <atomic>
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

template <class Base>
struct with_idle_slots : Base {
    static constexpr std::uint32_t idle_slots = 4;
};
template <class Base>
struct tiny : Base {
    static constexpr std::size_t max_record_size = 64;
    static constexpr std::size_t max_reservation = 64;
};

// A sink that blocks while `hold` is set, so that a test can keep a flush in progress
// (FLUSHING set, before the move-down).
struct holding_sink {
    std::atomic<bool>* hold;
    std::atomic<int>* entered;
    memory_sink* out;
    int write(const void* data, std::size_t size) noexcept {
        entered->fetch_add(1);
        while (hold->load()) std::this_thread::sleep_for(1ms);
        return out->write(data, size);
    }
};

bool valid_trace(const memory_sink& s, std::size_t max_record) {
    return scan_records(s.bytes().data(), s.bytes().size(), max_record).ok();
}

} // namespace

// Item 1: a producer registered with one buffer, used with another - or a byte copy of a
// registered producer - is refused with wrong_buffer, and neither count moves. (It used to
// underflow the other buffer's count into its flag bits, and the next go_online hung.)
BOOST_AUTO_TEST_CASE(a_producer_of_another_buffer_is_refused_and_changes_nothing) {
    using T = with_idle_slots<tracebuf_test::boost_futex>;
    memory ma(1 << 16), mb(1 << 16);
    trace_buffer<T, memory_sink> a(ma.data(), ma.size(), memory_sink{}), b(mb.data(), mb.size(), memory_sink{});
    producer p, q;
    BOOST_REQUIRE((a.register_thread(p) == errc::ok));
    BOOST_REQUIRE((b.register_thread(q) == errc::ok));
    BOOST_REQUIRE((b.go_offline(q) == errc::ok));
    const std::uint32_t b_state = b.counter().online_count();

    BOOST_TEST((b.go_offline(p) == errc::wrong_buffer));
    BOOST_TEST((b.unregister_thread(p) == errc::wrong_buffer));
    BOOST_TEST((b.idle(p) == errc::wrong_buffer));
    BOOST_TEST((b.busy(p) == errc::wrong_buffer));
    BOOST_TEST(b.reserve(p, 8) == nullptr);
    BOOST_TEST((p.last_error() == errc::wrong_buffer));
    BOOST_TEST((b.flush(p) == errc::wrong_buffer));
    BOOST_TEST((b.register_thread(p) == errc::already_registered));
    BOOST_TEST(b.counter().online_count() == b_state);
    BOOST_TEST(b.counter().registered_count() == 1u);
    BOOST_TEST(!b.counter().flushing());

    // The other buffer still works: q comes online and flushes (this hung before).
    BOOST_TEST((b.go_online(q) == errc::ok));
    BOOST_TEST((b.write_record(q, 1, "x", 1) == errc::ok));
    BOOST_TEST((b.flush(q) == errc::ok));
    BOOST_TEST((b.unregister_thread(q) == errc::ok));
    // And p is intact in its own.
    BOOST_TEST(a.counter().online_count() == 1u);
    BOOST_TEST((a.go_offline(p) == errc::ok));
    BOOST_TEST((a.unregister_thread(p) == errc::ok));
}

// Item 2: idle() with an open range outside the current buffer, misaligned or too long is
// refused: a flusher taking the thread over would pad that range. Nothing changes.
BOOST_AUTO_TEST_CASE(idle_refuses_an_open_range_it_does_not_own) {
    using T = with_idle_slots<tracebuf_test::boost_futex>;
    memory m(1 << 17);
    trace_buffer<T, memory_sink> buf(m.data(), 1 << 16, memory_sink{}); // the rest is host memory
    producer p;
    BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
    unsigned char* data = buf.layout().data;
    const std::size_t cap = buf.layout().capacity;
    unsigned char outside_stack[64] = {};
    const struct {
        const unsigned char* at;
        std::size_t bytes;
    } bad[] = {
        {outside_stack, 64},            // not in the buffer at all
        {data + cap, 8},                // just past its end
        {data + cap - 8, 16},           // runs past its end
        {data - 8, 8},                  // before it
        {data + 4, 8},                  // misaligned
        {data, 12},                     // not whole 8-byte units
        {data, T::max_reservation + 8}, // longer than any reservation
    };
    for (const auto& r : bad) {
        BOOST_TEST((buf.idle(p, r.at, r.bytes) == errc::bad_argument));
        BOOST_TEST((p.state() == producer_state::online));
    }
    BOOST_TEST((buf.idle(p, data + cap - 64, 64) == errc::ok)); // a range it could own
    BOOST_TEST((buf.busy(p) == errc::ok));
    BOOST_TEST((buf.unregister_thread(p) == errc::ok));
    for (std::size_t i = cap; i < m.size(); ++i) BOOST_TEST_REQUIRE(static_cast<const unsigned char*>(m.data())[i] == 0);
}

// Item 3: the JIT path of a producer that is not online, claiming while a flush owns the
// buffer (before its move-down). Its claim belongs to the old space; moved down, it crosses
// the end of the fresh buffer. It used to be settled with the old position, park in the new
// epoch, and leave nobody to lead that flush: every thread that overflowed hung.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_stranger_claim_during_a_flush_is_settled_in_its_own_space, T,
                              tracebuf_test::parallel_traits) {
    using small = tiny<T>;
    std::atomic<bool> hold{true};
    std::atomic<int> entered{0};
    memory_sink out;
    memory m(64);
    trace_buffer<small, holding_sink> buf(m.data(), m.size(), holding_sink{&hold, &entered, &out});
    BOOST_REQUIRE((buf.status() == errc::ok));
    const std::size_t cap = buf.layout().capacity; // 64

    std::thread leader([&] {
        producer l;
        TB_CHECK((buf.register_thread(l) == errc::ok));
        unsigned char* full = buf.reserve(l, cap);
        if (!TB_CHECK(full != nullptr)) return;
        write_padding(full, cap, small::max_record_size);
        unsigned char* at = buf.reserve(l, 8); // crosses: leads, the sink holds the flush
        if (!TB_CHECK(at == buf.layout().data)) return;
        write_padding(at, 8, small::max_record_size);
        TB_CHECK((buf.unregister_thread(l) == errc::ok));
    });
    BOOST_REQUIRE(eventually([&] { return entered.load() == 1; }));
    BOOST_REQUIRE(buf.counter().flushing());
    // The stranger's fetch_add: behind the leader's claim, in the old space.
    const std::uint64_t pos = buf.reserve_fast(64);
    BOOST_TEST(pos == cap + 8);
    std::atomic<bool> stranger_done{false};
    std::thread stranger([&] {
        producer s; // never registered
        TB_CHECK(buf.reserve_slow(s, pos, 64) == invalid_position);
        TB_CHECK((s.last_error() == errc::not_registered));
        stranger_done = true;
    });
    std::this_thread::sleep_for(20ms);
    hold = false; // the flush ends; the stranger's claim now starts at 8 and crosses 64
    const bool settled = eventually([&] { return stranger_done.load(); }, 10s);
    BOOST_TEST(settled, "the stranger's claim was never settled: its space had no leader");
    if (!settled) { // unblock it for the join: an explicit flush leads that space
        producer rescue;
        buf.register_thread(rescue);
        buf.flush(rescue);
        buf.unregister_thread(rescue);
    }
    leader.join();
    stranger.join();
    TB_NO_THREAD_FAILURES();
    // Every thread can still write and flush; the trace is whole: the stranger's bytes are
    // padding, nothing else lost.
    producer after;
    BOOST_REQUIRE((buf.register_thread(after) == errc::ok));
    BOOST_TEST((buf.write_record(after, 7, "ok", 2) == errc::ok));
    BOOST_TEST((buf.unregister_thread(after) == errc::ok));
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(valid_trace(out, small::max_record_size));
    BOOST_TEST(out.bytes().size() == cap + 8 + 64 + 8); // old buffer, leader's 8, stranger's 64, last record
    BOOST_TEST(buf.counter().registered_count() == 0u);
}

// Item 4: a thread that stepped back from FLUSHING is not counted, so flushes run on without
// it; if 8192 of them complete (the 13-bit epoch wraps to the value it read) before it runs
// again, it used to find "no change" and sleep with no flush coming. It now waits for
// "FLUSHING clear or epoch changed".
namespace {
struct stalling_wait {
    static constexpr bool serialized_host = false;
    static inline thread_local bool stall_next_wait = false;
    static inline std::atomic<int> stalled{0};
    static inline std::atomic<bool> resume{false};
    template <class Word>
    static void wait(Word& word, std::uint32_t old) noexcept {
        if (stall_next_wait) { // the host deschedules this thread for as long as the test likes
            stall_next_wait = false;
            stalled.fetch_add(1);
            while (!resume.load()) std::this_thread::sleep_for(1ms);
            return; // a spurious return, as a wait may have
        }
        futex_wait::wait(word, old);
    }
    template <class Word>
    static void notify_all(Word& word) noexcept {
        futex_wait::notify_all(word);
    }
};
struct stalling_traits : traits_base {
    using atomics = tracebuf_test::parallel_atomics;
    using wait = stalling_wait;
};
} // namespace

BOOST_AUTO_TEST_CASE(a_thread_waiting_to_come_online_survives_an_epoch_wrap) {
    std::atomic<bool> hold{true};
    std::atomic<int> entered{0};
    memory_sink out;
    memory m(1 << 16);
    trace_buffer<stalling_traits, holding_sink> buf(m.data(), m.size(), holding_sink{&hold, &entered, &out});
    const std::size_t cap = buf.layout().capacity;
    producer flusher;
    BOOST_REQUIRE((buf.register_thread(flusher) == errc::ok));
    BOOST_REQUIRE(buf.reserve(flusher, cap) != nullptr);
    write_padding(buf.layout().data, cap, 4096);

    std::thread lead([&] { // the crossing claim leads; the sink holds the flush
        TB_CHECK(buf.reserve(flusher, 8) != nullptr);
    });
    BOOST_REQUIRE(eventually([&] { return entered.load() == 1; }));
    const std::uint32_t epoch = buf.counter().epoch();
    std::atomic<bool> online{false};
    std::thread late([&] {
        producer p;
        stalling_wait::stall_next_wait = true; // its step-back wait is where it stalls
        TB_CHECK((buf.register_thread(p) == errc::ok));
        online = true;
        TB_CHECK((buf.unregister_thread(p) == errc::ok));
    });
    BOOST_REQUIRE(eventually([&] { return stalling_wait::stalled.load() == 1; }));
    hold = false;
    lead.join();
    write_padding(buf.layout().data, 8, 4096);
    // 8191 more flushes while the late thread is descheduled: the epoch comes back around.
    while (buf.counter().epoch() != epoch) BOOST_REQUIRE((buf.flush(flusher) == errc::ok));
    BOOST_REQUIRE(!buf.counter().flushing());
    BOOST_REQUIRE((buf.go_offline(flusher) == errc::ok)); // no flush is coming
    stalling_wait::resume = true;
    const bool came_online = eventually([&] { return online.load(); }, 10s);
    BOOST_TEST(came_online, "the thread slept on an epoch that had wrapped, with no flush coming");
    if (!came_online) { // one more epoch wakes it, for the join
        BOOST_REQUIRE((buf.go_online(flusher) == errc::ok));
        buf.flush(flusher);
        buf.go_offline(flusher);
    }
    late.join();
    TB_NO_THREAD_FAILURES();
    BOOST_TEST((buf.unregister_thread(flusher) == errc::ok));
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(valid_trace(out, 4096));
}

// Item 5: close_chunk() on an idle writer is refused (not_online) and changes nothing. It
// used to drop the cursor and keep the old end, so that after busy() reserve(8) returned
// nullptr with last_error() == ok, then the address 0x8.
BOOST_AUTO_TEST_CASE(close_chunk_on_an_idle_writer_is_refused) {
    using T = with_idle_slots<tracebuf_test::boost_futex>;
    memory m(1 << 16);
    using buffer = trace_buffer<T, memory_sink>;
    buffer buf(m.data(), m.size(), memory_sink{});
    chunk_writer<buffer> w(buf, 1024, 1, 2);
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    BOOST_REQUIRE((w.write_record(1, "abc", 3) == errc::ok));
    BOOST_REQUIRE((w.idle() == errc::ok));
    BOOST_TEST((w.close_chunk() == errc::not_online));
    BOOST_TEST((w.last_error() == errc::not_online));
    BOOST_REQUIRE((w.busy() == errc::ok));
    unsigned char* at = w.reserve(8);
    BOOST_TEST(at != nullptr);
    BOOST_TEST(at >= buf.layout().data);
    BOOST_TEST(at < buf.layout().data + buf.layout().capacity);
    if (at != nullptr) write_padding(at, 8, T::max_record_size);
    BOOST_TEST((w.close_chunk() == errc::ok)); // busy: allowed
    BOOST_TEST(w.room() == 0u);
    BOOST_TEST((w.unregister_thread() == errc::ok));
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(valid_trace(buf.sink(), T::max_record_size));
}

// Item 6: a serialized host used by two threads (the documented misuse): a claim refused
// with would_block behind an unsettled crossing claim used to keep its bytes; moved down
// across the end, they poisoned the buffer for good (every reserve and flush would_block,
// drain busy, the contents never written). The crossing thread's flush now drops them.
BOOST_AUTO_TEST_CASE(a_refused_claim_does_not_poison_a_serialized_host) {
    using T = tracebuf_test::std_serialized;
    memory m(1 << 16);
    trace_buffer<T, memory_sink> buf(m.data(), m.size(), memory_sink{});
    const std::size_t cap = buf.layout().capacity;
    producer p, other;
    BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
    BOOST_REQUIRE((buf.register_thread(other) == errc::ok));
    BOOST_REQUIRE(buf.reserve(p, cap) != nullptr);
    write_padding(buf.layout().data, cap, 4096);
    // p, switched out here
    const std::uint64_t crossing = buf.reserve_fast(8);
    const std::uint64_t behind = buf.reserve_fast(T::max_reservation); // other's, spans the end once moved
    BOOST_TEST(buf.reserve_slow(other, behind, T::max_reservation) == invalid_position);
    BOOST_TEST((other.last_error() == errc::would_block));
    const std::uint64_t at = buf.reserve_slow(p, crossing, 8); // p runs again: flushes
    BOOST_TEST(at == 0u);
    write_padding(buf.layout().data + at, 8, 4096);
    unsigned char* next = buf.reserve(other, 16);
    BOOST_TEST(next == buf.layout().data + 8);
    if (next != nullptr) write_padding(next, 16, 4096);
    BOOST_TEST((buf.flush(p) == errc::ok));
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(buf.sink().bytes().size() == cap + 24);
    BOOST_TEST(valid_trace(buf.sink(), 4096));
}

// Item 7: reserve_slow with a size no buffer can hold (a JIT host's bug) used to flush empty
// buffers forever. It is refused after at most one flush, its bytes skipped, and so is a
// crossing size that is not a multiple of 8 (the move-down past it realigns what follows).
BOOST_AUTO_TEST_CASE_TEMPLATE(reserve_slow_refuses_sizes_the_fast_path_cannot_check, T,
                              tracebuf_test::parallel_traits) {
    memory m(1 << 16);
    trace_buffer<T, memory_sink> buf(m.data(), m.size(), memory_sink{});
    const std::size_t cap = buf.layout().capacity;
    std::atomic<int> done{0};
    std::thread jit([&] {
        producer p;
        TB_CHECK((buf.register_thread(p) == errc::ok));
        std::uint64_t n = cap + 8;
        std::uint64_t pos = buf.reserve_fast(n);
        TB_CHECK(buf.reserve_slow(p, pos, n) == invalid_position);
        TB_CHECK((p.last_error() == errc::too_large));
        done.fetch_add(1);
        unsigned char* most = buf.reserve(p, cap - 8); // 8 bytes left
        if (TB_CHECK(most != nullptr)) write_padding(most, cap - 8, 4096);
        n = 12; // crosses the end, and is not a multiple of 8
        pos = buf.reserve_fast(n);
        TB_CHECK(buf.reserve_slow(p, pos, n) == invalid_position);
        TB_CHECK((p.last_error() == errc::bad_size));
        unsigned char* at = buf.reserve(p, 8); // aligned again
        if (TB_CHECK(at != nullptr)) {
            TB_CHECK(reinterpret_cast<std::uintptr_t>(at) % 8 == 0);
            write_padding(at, 8, 4096);
        }
        TB_CHECK((buf.unregister_thread(p) == errc::ok));
        done.fetch_add(1);
    });
    const bool finished = eventually([&] { return done.load() == 2; }, 10s);
    if (!finished) jit.detach(); // it loops for ever: nothing to join
    BOOST_REQUIRE_MESSAGE(finished, "reserve_slow looped on a size no buffer holds");
    jit.join();
    TB_NO_THREAD_FAILURES();
    BOOST_TEST(buf.stats().flushes <= 2u);
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(valid_trace(buf.sink(), 4096));
}
