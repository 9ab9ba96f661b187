// Adversarial tests, parts 6 and 7: producer ownership (registered_with: the owner's address
// and number, and the producer's own address)
// and the idle() range check / close_chunk.
#define BOOST_TEST_MODULE adversarial_ownership
#include <boost/test/unit_test.hpp>

#include <new>

#define TRACEBUF_C_API_IMPLEMENTATION
#include <tracebuf/tracebuf.h>

#include "support/schedule_control.hpp"

using namespace tracebuf;
using namespace schedule_control;

namespace {

struct slot_traits : traits_base {
    using atomics = std_atomics;
    using wait = futex_wait;
    static constexpr std::uint32_t idle_slots = 4;
};
using buffer = trace_buffer<slot_traits, memory_sink>;

struct snapshot {
    std::uint32_t online, registered, epoch;
    bool flushing;
    std::uint64_t position;
    bool operator==(const snapshot& o) const {
        return online == o.online && registered == o.registered && epoch == o.epoch && flushing == o.flushing &&
               position == o.position;
    }
};
snapshot snap(const buffer& b) {
    return {b.counter().online_count(), b.counter().registered_count(), b.counter().epoch(), b.counter().flushing(),
            b.arena().position()};
}

// A byte copy of a producer, as a C host copying its handle would make.
struct byte_copy {
    alignas(producer) unsigned char bytes[sizeof(producer)];
    explicit byte_copy(const producer& p) { std::memcpy(bytes, &p, sizeof p); }
    producer& get() { return *std::launder(reinterpret_cast<producer*>(bytes)); }
};

} // namespace

// 6a. Every entry point, with (i) a producer of another buffer, (ii) a byte copy of an online,
// (iii) of an offline, (iv) of an idle producer of this buffer: wrong_buffer (or
// already_registered), nothing changes in either buffer, the original still works.
BOOST_AUTO_TEST_CASE(foreign_and_copied_producers_change_nothing) {
    std::vector<std::uint64_t> ma(8192), mb(8192);
    buffer a(ma.data(), ma.size() * 8, memory_sink{}), b(mb.data(), mb.size() * 8, memory_sink{});
    producer pa, on, off, idl;
    BOOST_REQUIRE((a.register_thread(pa) == errc::ok));
    BOOST_REQUIRE((b.register_thread(on) == errc::ok));
    BOOST_REQUIRE((b.register_thread(off) == errc::ok));
    BOOST_REQUIRE((b.go_offline(off) == errc::ok));
    BOOST_REQUIRE((b.register_thread(idl) == errc::ok));
    BOOST_REQUIRE((b.idle(idl) == errc::ok));
    byte_copy c_on(on), c_off(off), c_idl(idl);
    producer* victims[] = {&pa, &c_on.get(), &c_off.get(), &c_idl.get()};
    const char* names[] = {"other buffer's", "copy of online", "copy of offline", "copy of idle"};
    const snapshot before_a = snap(a), before_b = snap(b);
    unsigned char* data = b.layout().data;
    for (int i = 0; i < 4; ++i) {
        producer& v = *victims[i];
        BOOST_TEST_CONTEXT(names[i]) {
            BOOST_TEST((b.go_offline(v) == errc::wrong_buffer));
            BOOST_TEST((b.go_online(v) == errc::wrong_buffer));
            BOOST_TEST((b.idle(v) == errc::wrong_buffer));
            BOOST_TEST((b.idle(v, data, 64) == errc::wrong_buffer));
            BOOST_TEST((b.idle(v, data + 4, 64) == errc::wrong_buffer)); // bad range: which error?
            BOOST_TEST((b.busy(v) == errc::wrong_buffer));
            BOOST_TEST(!b.reclaim_idle(v));
            BOOST_TEST(b.reserve(v, 8) == nullptr);
            BOOST_TEST((v.last_error() == errc::wrong_buffer));
            BOOST_TEST(b.reserve_record(v, 1, 4) == nullptr);
            BOOST_TEST((b.write_record(v, 1, "abcd", 4) == errc::wrong_buffer));
            BOOST_TEST((b.flush(v) == errc::wrong_buffer));
            BOOST_TEST((b.register_thread(v) == errc::already_registered));
            BOOST_TEST((b.unregister_thread(v) == errc::wrong_buffer));
            BOOST_TEST((snap(b) == before_b));
            BOOST_TEST((snap(a) == before_a));
        }
    }
    // The originals are intact and work.
    BOOST_TEST((b.busy(idl) == errc::ok));
    BOOST_TEST((b.go_online(off) == errc::ok));
    for (producer* p : {&on, &off, &idl}) {
        BOOST_TEST((b.write_record(*p, 1, "ok", 2) == errc::ok));
        BOOST_TEST((b.unregister_thread(*p) == errc::ok));
    }
    BOOST_TEST((b.drain() == errc::ok));
    BOOST_TEST((a.unregister_thread(pa) == errc::ok));
}

// 6b. An unregistered producer with a bad idle range: the error should be not_registered
// (as every other call says for an unregistered producer), not wrong_buffer.
BOOST_AUTO_TEST_CASE(unregistered_producer_with_a_bad_idle_range_reports_not_registered) {
    std::vector<std::uint64_t> m(8192);
    buffer b(m.data(), m.size() * 8, memory_sink{});
    producer u;
    BOOST_TEST((b.idle(u) == errc::not_registered));
    BOOST_TEST((b.idle(u, b.layout().data, 64) == errc::not_registered));
    const errc bad_range = b.idle(u, b.layout().data + b.layout().capacity + 8, 64); // outside the buffer
    BOOST_TEST((bad_range == errc::not_registered), "got " << to_string(bad_range));
}

// 6c. A producer still registered with a buffer that was destroyed must not be taken for one
// of a NEW buffer constructed at the same address: the counter's number tells them apart.
// (Accepted, its go_offline took one from a count that never included it: the count
// underflowed into the flag bits and the next registration waited for ever.)
BOOST_AUTO_TEST_CASE(a_stale_producer_is_refused_by_a_new_buffer_at_the_same_address) {
    std::vector<std::uint64_t> m(8192);
    alignas(buffer) static unsigned char storage[sizeof(buffer)]; // static: a deadlocked thread may still use it
    auto* first = new (storage) buffer(m.data(), m.size() * 8, memory_sink{});
    producer stale;
    BOOST_REQUIRE((first->register_thread(stale) == errc::ok));
    first->~buffer(); // host bug: the thread never unregistered (e.g. a tool re-initialising its buffer)
    auto* second = new (storage) buffer(m.data(), m.size() * 8, memory_sink{});
    const errc e = second->go_offline(stale);
    BOOST_TEST((e == errc::wrong_buffer), "a new buffer accepted a producer it never registered: " << to_string(e));
    BOOST_TEST_MESSAGE("after that go_offline: online count " << second->counter().online_count() << ", flushing "
                                                              << second->counter().flushing());
    const bool registered = finishes_within(2000ms, [&] {
        producer fresh;
        second->register_thread(fresh);
        second->unregister_thread(fresh);
    });
    BOOST_TEST(registered, "registration on the new buffer hangs: its count underflowed into FLUSHING");
    // (leaves `second` alive on purpose if the registration hung)
}

// 6d. The same through the C API: destroy a buffer, create another (malloc may return the same
// control block), use a producer that was never unregistered from the first.
BOOST_AUTO_TEST_CASE(c_api_stale_producer_after_destroy_and_create) {
    std::vector<std::uint64_t> m(8192);
    int status = 0;
    tracebuf_buffer* b1 = tracebuf_create(m.data(), m.size() * 8, nullptr, nullptr, &status);
    BOOST_REQUIRE(b1 != nullptr);
    tracebuf_producer p;
    tracebuf_producer_init(&p);
    BOOST_REQUIRE(tracebuf_register_thread(b1, &p) == TRACEBUF_OK);
    tracebuf_destroy(b1);
    tracebuf_buffer* b2 = tracebuf_create(m.data(), m.size() * 8, nullptr, nullptr, &status);
    BOOST_REQUIRE(b2 != nullptr);
    BOOST_TEST_MESSAGE("same control block address: " << (b1 == b2));
    if (b1 == b2) {
        const int e = tracebuf_go_offline(b2, &p);
        BOOST_TEST(e == TRACEBUF_WRONG_BUFFER, "the new buffer accepted the stale producer (status " << e << ")");
        const bool ok = finishes_within(2000ms, [&] {
            tracebuf_producer q = {{0, 0, 0, 0}};
            tracebuf_producer_init(&q);
            tracebuf_register_thread(b2, &q);
            tracebuf_unregister_thread(b2, &q);
        });
        BOOST_TEST(ok, "registration on the new buffer hangs");
        if (!ok) return; // leak b2
    }
    tracebuf_destroy(b2);
}

// 7a. idle() range checks: a range in the spare buffer of a double-buffered arena, the
// whole buffer, sizes that overflow pointer arithmetic.
BOOST_AUTO_TEST_CASE(idle_range_edges) {
    std::vector<std::uint64_t> m(2 * 65536 / 8);
    buffer b(m.data(), m.size() * 8, memory_sink{}, buffering::double_buffer);
    producer p;
    BOOST_REQUIRE((b.register_thread(p) == errc::ok));
    unsigned char* data = b.layout().data;
    const std::size_t cap = b.layout().capacity;
    unsigned char* spare = reinterpret_cast<unsigned char*>(m.data()) + (data == reinterpret_cast<unsigned char*>(m.data()) ? cap : 0);
    BOOST_TEST((b.idle(p, spare, 64) == errc::bad_argument)); // the other buffer
    BOOST_TEST((b.idle(p, data, static_cast<std::size_t>(-8)) == errc::bad_argument));
    BOOST_TEST((b.idle(p, data + 8, static_cast<std::size_t>(-8)) == errc::bad_argument));
    BOOST_TEST((b.idle(p, data + cap, 0) == errc::ok)); // nothing open
    BOOST_TEST((b.busy(p) == errc::ok));
    BOOST_TEST((b.idle(p, data, cap) == errc::ok)); // cap == max_reservation (64 KiB): allowed
    BOOST_TEST((b.busy(p) == errc::ok));
    BOOST_TEST((b.idle(p, data, cap + 8) == errc::bad_argument));
    BOOST_TEST((p.state() == producer_state::online));
    BOOST_TEST((b.unregister_thread(p) == errc::ok));
}

// 7b. close_chunk() refused unless online (unregistered, offline, idle), allowed when busy;
// the idle chunk survives the refused calls.
BOOST_AUTO_TEST_CASE(close_chunk_refused_unless_online) {
    std::vector<std::uint64_t> m(65536 / 8);
    using B = trace_buffer<slot_traits, memory_sink>;
    B b(m.data(), m.size() * 8, memory_sink{});
    chunk_writer<B> w(b, 1024, 1, 1);
    BOOST_TEST((w.close_chunk() == errc::not_registered));
    BOOST_REQUIRE((w.register_thread() == errc::ok));
    BOOST_REQUIRE((w.write_record(1, "abc", 3) == errc::ok));
    BOOST_REQUIRE((w.go_offline() == errc::ok));
    BOOST_TEST((w.close_chunk() == errc::not_online));
    BOOST_REQUIRE((w.go_online() == errc::ok));
    BOOST_REQUIRE((w.write_record(1, "abc", 3) == errc::ok));
    const std::size_t room = w.room();
    BOOST_REQUIRE((w.idle() == errc::ok));
    BOOST_TEST((w.close_chunk() == errc::not_online));
    BOOST_TEST((w.flush() == errc::not_online));
    BOOST_TEST((w.idle() == errc::not_online)); // twice
    BOOST_REQUIRE((w.busy() == errc::ok));
    BOOST_TEST(w.room() == room); // not taken over: the chunk is still open
    BOOST_TEST((w.close_chunk() == errc::ok));
    BOOST_TEST(w.room() == 0u);
    BOOST_TEST((w.unregister_thread() == errc::ok));
    BOOST_TEST((b.drain() == errc::ok));
    BOOST_TEST(scan_records(b.sink().bytes().data(), b.sink().bytes().size(), 4096).ok());
}
