// Adversarial tests, part 3: flush_barrier::reserve_as_stranger (a JIT claim by a producer that is not
// online here). Each case is deterministic: the flusher is held at a chosen atomic operation
// (schedule_control::the_gate), a thread at its step-back wait (schedule_control::stall_wait). Every wait is
// bounded; a deadlock is reported as a failed check, and the deadlocked buffer is leaked so
// that the stuck thread never touches freed memory.
#define BOOST_TEST_MODULE adversarial_stranger
#include <boost/test/unit_test.hpp>

#include "support/schedule_control.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using namespace schedule_control;

namespace {

struct small_traits : traits_base {
    using atomics = hooked_atomics;
    using wait = stall_wait;
    static constexpr std::size_t max_record_size = 512;
    static constexpr std::size_t max_reservation = 1024;
};
struct slotted_traits : small_traits {
    static constexpr std::uint32_t idle_slots = 2;
};

template <class Traits>
struct rig {
    using buffer = trace_buffer<Traits, log_sink>;
    shared_log log;
    std::vector<std::uint64_t> mem;
    buffer buf;
    explicit rig(std::size_t cap) : mem(cap / 8), buf(mem.data(), cap, log_sink{&log}) {}
    unsigned char* data() { return buf.layout().data; }
};

void reset_hooks() {
    hook = gate_hook;
    the_gate.armed = false;
    the_gate.opened = false;
    the_gate.blocked = 0;
    stall_wait::stalled = 0;
    stall_wait::resume = false;
    stall_wait::marked_waits = 0;
}

} // namespace

// 3a. A stranger's claim made in the last instructions of a flush - between its move-down
// and its release - that crosses the end of the fresh space. It carries the flush's mark
// (arena.hpp), so the slow path knows it belongs to the fresh space, and leads its flush:
// the next overflow finds its space settled, drain() is not busy. (It used to be abandoned,
// leaving that space without a leader.)
BOOST_AUTO_TEST_CASE(a_crossing_claim_made_before_the_release_leads_its_space) {
    reset_hooks();
    auto* r = new rig<small_traits>(1024); // leaked if the case deadlocks
    auto& buf = r->buf;
    std::atomic<int> phase{0};
    std::atomic<bool> second_reserve_returned{false};
    std::thread a([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        unsigned char* at = buf.reserve(p, 1000);
        write_rec(at, 1000, 1, 0);
        the_gate.arm(op::exchange, 32); // take_parked(): after rebase, before release
        at = buf.reserve(p, 64);        // crosses at 1000: leads, held at the gate
        if (at == nullptr) return;
        write_rec(at, 64, 1, 1);
        buf.go_offline(p); // waits outside tracebuf: offline (host contract)
        phase = 1;
        while (phase.load() != 2) std::this_thread::sleep_for(1ms);
        buf.go_online(p);
        at = buf.reserve(p, 64); // an ordinary overflow: must find a leader
        second_reserve_returned = true;
        if (at) write_rec(at, 64, 1, 2);
        buf.unregister_thread(p);
    });
    BOOST_REQUIRE(eventually([&] { return the_gate.blocked.load() == 1; }));
    BOOST_TEST(buf.counter().flushing());
    constexpr std::uint64_t mark = arena<small_traits>::marked_position;
    BOOST_TEST(buf.arena().position() == mark + 64u); // moved down (and marked), not yet released
    // The stranger's fetch_add, in the fresh space: [64, 1064) crosses 1024.
    const std::uint64_t pos = buf.reserve_fast(1000);
    BOOST_TEST(pos == mark + 64u);
    std::atomic<bool> stranger_done{false};
    std::thread s([&] {
        producer never_registered;
        stall_wait::marked = true;
        buf.reserve_slow(never_registered, pos, 1000); // reads epoch e now, registers after e+1
        stranger_done = true;
    });
    // Let it read the epoch and step back from FLUSHING.
    BOOST_REQUIRE(eventually([&] { return stall_wait::marked_waits.load() > 0; }));
    the_gate.open();
    BOOST_REQUIRE(eventually([&] { return stranger_done.load(); }));
    s.join();
    BOOST_REQUIRE(eventually([&] { return phase.load() == 1; }));
    const std::uint64_t p_after = buf.arena().position();
    BOOST_TEST_MESSAGE("position after the stranger returned: " << p_after << " (capacity 1024)");
    phase = 2;
    const bool ok = eventually([&] { return second_reserve_returned.load(); }, 3000ms);
    BOOST_TEST(ok, "the crossing stranger claim was abandoned: its space has no leader, the next overflow "
                   "parks for ever (position "
                       << p_after << " > capacity 1024)");
    if (ok) a.join(); // drain() is for when no producer runs
    BOOST_TEST((buf.drain() != errc::busy), "drain() is busy for ever: a crossing claim was never settled");
    if (ok)
        delete r;
    else
        a.detach(); // deadlocked; r leaked on purpose
    TB_NO_THREAD_FAILURES();
}

// 3b. The same window, a claim that is parked in the fresh space: it is settled there (parked
// until the fresh space's own flush, then placed), never moved down by the flush it came
// after - which used to put its padding over another thread's record.
BOOST_AUTO_TEST_CASE(a_parked_claim_made_before_the_release_is_placed_in_the_fresh_space) {
    reset_hooks();
    rig<small_traits> r(1024);
    auto& buf = r.buf;
    std::atomic<int> a_phase{0};
    std::atomic<bool> b_may_claim{false};
    std::atomic<bool> a_may_leave{false};
    std::atomic<bool> b_registered{false};
    std::thread a([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        while (!b_registered.load()) std::this_thread::sleep_for(1ms);
        unsigned char* at = buf.reserve(p, 896);
        write_rec(at, 896, 1, 0);
        the_gate.arm(op::exchange, 32);
        b_may_claim = true;
        at = buf.reserve(p, 200); // crosses at 896 (base 896); held after the move-down
        if (at == nullptr) return;
        write_rec(at, 200, 1, 1); // A's record at [0, 200) of the fresh space
        buf.go_offline(p);        // waits outside tracebuf: offline (host contract)
        a_phase = 1;
        while (!a_may_leave.load()) std::this_thread::sleep_for(1ms);
        buf.unregister_thread(p);
    });
    std::thread b([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        b_registered = true;
        while (!b_may_claim.load()) std::this_thread::sleep_for(1ms);
        // A's crossing claim is made (A then waits for this thread to park).
        if (!eventually([&] { return buf.arena().position() == 1096; })) return;
        unsigned char* at = buf.reserve(p, 832); // parks at 1096; moved to [200, 1032): crosses, leads
        if (at == nullptr) return;
        write_rec(at, 832, 2, 0);
        buf.unregister_thread(p);
    });
    BOOST_REQUIRE(eventually([&] { return the_gate.blocked.load() == 1; }));
    constexpr std::uint64_t mark = arena<small_traits>::marked_position;
    BOOST_TEST(buf.arena().position() == mark + 1032u); // 1928 - 896, marked until the release
    const std::uint64_t pos = buf.reserve_fast(64);     // [1032, 1096) of the fresh space: parked
    BOOST_TEST(pos == mark + 1032u);
    std::atomic<bool> stranger_done{false};
    std::thread s([&] {
        producer never_registered;
        stall_wait::stall_next = true; // descheduled at its step-back wait
        buf.reserve_slow(never_registered, pos, 64);
        stranger_done = true;
    });
    BOOST_REQUIRE(eventually([&] { return stall_wait::stalled.load() == 1; }));
    the_gate.open();                                                // flush ends: epoch + 1
    BOOST_REQUIRE(eventually([&] { return a_phase.load() == 1; })); // A wrote [0, 200)
    stall_wait::resume = true;                                      // the stranger runs again
    BOOST_REQUIRE(eventually([&] { return stranger_done.load(); }));
    s.join();
    a_may_leave = true;
    a.join();
    b.join();
    BOOST_TEST((buf.drain() == errc::ok));
    const scan_summary sum = summarize(r.log.bytes, 1024);
    bool a1_intact = false;
    for (const auto& rec : sum.recs)
        if (rec.owner == 1 && rec.seq == 1 && rec.intact) a1_intact = true;
    std::string sizes;
    for (std::size_t f : r.log.flush_sizes) sizes += std::to_string(f) + " ";
    BOOST_TEST_MESSAGE("flushes: " << sizes << "; scan valid up to " << sum.valid_bytes << " of "
                                   << r.log.bytes.size() << "; records:");
    for (const auto& rec : sum.recs)
        BOOST_TEST_MESSAGE("  owner " << rec.owner << " seq " << rec.seq << (rec.intact ? " intact" : " CORRUPT"));
    BOOST_TEST(sum.ok);
    BOOST_TEST(a1_intact, "thread A's record [0, 200) was overwritten by the stranger's padding (bad records: "
                              << sum.bad << ", padding records: " << sum.padding << ")");
    TB_NO_THREAD_FAILURES();
}

// 3d. Every idle slot is taken when a stranger's crossing claim needs a guest: the guest
// needs none (it never goes idle), so the claim is still led. (It used to be abandoned.)
BOOST_AUTO_TEST_CASE(a_crossing_claim_is_settled_without_a_free_idle_slot) {
    reset_hooks();
    hook = nullptr;
    auto* r = new rig<slotted_traits>(1024);
    auto& buf = r->buf;
    producer a, b;
    BOOST_REQUIRE((buf.register_thread(a) == errc::ok));
    BOOST_REQUIRE((buf.register_thread(b) == errc::ok)); // both slots taken
    BOOST_REQUIRE((buf.go_offline(b) == errc::ok));
    unsigned char* at = buf.reserve(a, 1024);
    write_padding(at, 1024, 512);
    BOOST_REQUIRE((buf.go_offline(a) == errc::ok)); // a's thread is the one that misuses b now
    const std::uint64_t pos = buf.reserve_fast(8);  // b's JIT claim while offline: crosses
    BOOST_TEST(buf.reserve_slow(b, pos, 8) == invalid_position);
    BOOST_TEST((b.last_error() == errc::not_online));
    BOOST_REQUIRE((buf.go_online(a) == errc::ok));
    BOOST_TEST_MESSAGE("position after the stranger returned: " << buf.arena().position());
    const bool done = finishes_within(3000ms, [&] {
        unsigned char* x = buf.reserve(a, 64);
        if (x) write_rec(x, 64, 1, 1);
    });
    BOOST_TEST(done, "the crossing claim was abandoned (no idle slot for the guest): the next overflow parks for "
                     "ever");
    if (done) {
        buf.unregister_thread(a);
        buf.unregister_thread(b);
        delete r;
    }
}

// 3e. A claim parked at the call, with the flush in progress then: its guest steps back
// from FLUSHING and is descheduled while that flush ends and the next one runs without it.
// Both moved the claim down; the slow path follows them (the handoff bases of the last
// flushes) into the crossing place of the current space and leads it. (It used to abandon
// the claim there: nobody led that space.)
BOOST_AUTO_TEST_CASE(a_parked_claim_follows_every_flush_since_the_call) {
    reset_hooks();
    hook = nullptr;
    auto* r = new rig<small_traits>(1024);
    auto& buf = r->buf;
    std::atomic<bool> b_registered{false}, a_may_leave{false};
    std::atomic<int> b_phase{0};
    r->log.hold = true; // flush e, the first one, stays in the sink until released below
    std::thread a([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        while (!b_registered.load()) std::this_thread::sleep_for(1ms);
        write_rec(buf.reserve(p, 1000), 1000, 1, 0);
        unsigned char* at = buf.reserve(p, 64); // crosses at 1000: leads flush e (held in the sink)
        if (at) write_rec(at, 64, 1, 1);
        // Stays online, as a thread running guest code does: B's flush e + 1 waits for it.
        while (!a_may_leave.load()) std::this_thread::sleep_for(1ms);
        buf.unregister_thread(p); // lets B's flush e + 1 run
    });
    std::thread b([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        b_registered = true;
        if (!eventually([&] { return buf.arena().position() == 1064; })) return;
        unsigned char* at = buf.reserve(p, 1000); // parks at 1064; flush e moves it to [64, 1064): crosses, leads e + 1
        if (at) write_rec(at, 1000, 2, 0);
        buf.go_offline(p); // waits outside tracebuf: offline (host contract)
        b_phase = 1;
        while (b_phase.load() != 2) std::this_thread::sleep_for(1ms);
        buf.go_online(p);
        at = buf.reserve(p, 64); // an ordinary overflow
        if (at) write_rec(at, 64, 2, 1);
        b_phase = 3;
        buf.unregister_thread(p);
    });
    BOOST_REQUIRE(eventually([&] { return r->log.entered.load() == 1; })); // flush e owns the buffer
    BOOST_REQUIRE(buf.counter().flushing());
    BOOST_REQUIRE(eventually([&] { return buf.arena().position() == 2064; })); // B's claim is parked
    const std::uint32_t e = buf.counter().epoch();
    const std::uint64_t pos = buf.reserve_fast(1024); // [2064, 3088) of space e: parked
    BOOST_TEST(pos == 2064u);
    std::atomic<bool> stranger_done{false};
    std::thread s([&] {
        producer never_registered;
        stall_wait::stall_next = true; // preempted in its step-back wait
        buf.reserve_slow(never_registered, pos, 1024);
        stranger_done = true;
    });
    BOOST_REQUIRE(eventually([&] { return stall_wait::stalled.load() == 1; }));
    r->log.hold = false; // flush e ends
    BOOST_REQUIRE(eventually([&] { return b_phase.load() == 0 && buf.counter().epoch() == ((e + 1) & 8191u); }));
    a_may_leave = true; // flush e + 1 (led by B) runs
    BOOST_REQUIRE(eventually([&] { return b_phase.load() == 1; }));
    BOOST_TEST(buf.counter().epoch() == ((e + 2) & 8191u));
    BOOST_TEST_MESSAGE("position before the stranger resumes: " << buf.arena().position());
    stall_wait::resume = true;
    BOOST_REQUIRE(eventually([&] { return stranger_done.load(); }));
    s.join();
    b_phase = 2;
    const bool ok = eventually([&] { return b_phase.load() == 3; }, 3000ms);
    BOOST_TEST(ok, "the stranger's claim (parked at the call, exact case) was abandoned in the crossing place of "
                   "a later space: the next overflow parks for ever (position "
                       << buf.arena().position() << ")");
    a.join();
    if (ok) {
        b.join();
        delete r;
    } else {
        b.detach(); // deadlocked; r leaked on purpose
    }
}

// 3f. As 3b, with a claim of 1000 bytes: moved down once too often it would cross the end,
// and its guest would lead beside the real leader. Settled in its own space, it does not.
BOOST_AUTO_TEST_CASE(a_parked_claim_made_before_the_release_never_makes_a_second_leader) {
    reset_hooks();
    auto* r = new rig<small_traits>(1024); // leaked if something hangs
    auto& buf = r->buf;
    r->log.hold_until_inside = 2;
    std::atomic<bool> b_registered{false}, b_may_claim{false}, a_may_leave{false};
    std::atomic<int> a_phase{0};
    std::thread a([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        while (!b_registered.load()) std::this_thread::sleep_for(1ms);
        write_rec(buf.reserve(p, 896), 896, 1, 0);
        the_gate.arm(op::exchange, 32);
        b_may_claim = true;
        unsigned char* at = buf.reserve(p, 200);
        if (at) write_rec(at, 200, 1, 1);
        a_phase = 1;
        while (!a_may_leave.load()) std::this_thread::sleep_for(1ms);
        buf.unregister_thread(p);
    });
    std::thread b([&] {
        producer p;
        if (buf.register_thread(p) != errc::ok) return;
        b_registered = true;
        while (!b_may_claim.load()) std::this_thread::sleep_for(1ms);
        if (!eventually([&] { return buf.arena().position() == 1096; })) return;
        unsigned char* at = buf.reserve(p, 832); // moved to [200, 1032): crosses, leads
        if (at) write_rec(at, 832, 2, 0);
        buf.unregister_thread(p);
    });
    BOOST_REQUIRE(eventually([&] { return the_gate.blocked.load() == 1; }));
    const std::uint64_t pos = buf.reserve_fast(1000); // [1032, 2032) of the fresh space
    std::atomic<bool> stranger_done{false};
    std::thread s([&] {
        producer never_registered;
        stall_wait::marked = true;
        buf.reserve_slow(never_registered, pos, 1000);
        stranger_done = true;
    });
    BOOST_REQUIRE(eventually([&] { return stall_wait::marked_waits.load() > 0; })); // stepped back
    the_gate.open();
    BOOST_REQUIRE(eventually([&] { return a_phase.load() == 1; }));
    std::this_thread::sleep_for(200ms); // the guest comes online (epoch e + 1) and leads from 136
    a_may_leave = true;
    const bool done = eventually([&] { return stranger_done.load(); }, 10000ms);
    BOOST_REQUIRE_MESSAGE(done, "hung");
    s.join();
    a.join();
    b.join();
    BOOST_TEST(r->log.max_inside.load() == 1, "two flushes were in the sink at once: max concurrent writers "
                                                  << r->log.max_inside.load());
    BOOST_TEST_MESSAGE("position afterwards: " << buf.arena().position());
    r->log.hold_until_inside = 0;
    delete r;
}
