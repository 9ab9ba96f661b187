// Adversarial tests, part 4: reserve_slow with a size the fast path could not check (0, not
// a multiple of 8, above max_reservation), by a producer online here. A flush request (n =
// capacity + 1) always crosses the end of the space it lands in, so skipping its bytes at the
// move-down loses nothing; a bad-size claim that PARKS and is then moved down may land where
// it fits, with the claims behind it readmitted and written. It must not lead a flush from
// there (that re-mapped their bytes, or made a second leader): it is placed (padding), or,
// for n = 0, needs nothing. Each case is deterministic; every wait is bounded.
#define BOOST_TEST_MODULE adversarial_bad_n
#include <boost/test/unit_test.hpp>

#include "support/schedule_control.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using namespace schedule_control;

namespace {

struct small_traits : traits_base {
    using atomics = hooked_atomics;
    using wait = futex_wait;
    static constexpr std::size_t max_record_size = 512;
    static constexpr std::size_t max_reservation = 1024;
};
struct narrow_traits : small_traits { // max_reservation < capacity
    static constexpr std::size_t max_record_size = 248;
    static constexpr std::size_t max_reservation = 256;
};

template <class Traits>
struct rig {
    using buffer = trace_buffer<Traits, log_sink>;
    shared_log log;
    std::vector<std::uint64_t> mem;
    buffer buf;
    explicit rig(std::size_t cap) : mem(cap / 8), buf(mem.data(), cap, log_sink{&log}) {}
};

std::string describe(const scan_summary& s, const shared_log& log) {
    std::string out = "flushes:";
    for (std::size_t f : log.flush_sizes) out += " " + std::to_string(f);
    out += "; scan ok " + std::to_string(s.ok) + ", valid " + std::to_string(s.valid_bytes) + "/" +
           std::to_string(log.bytes.size()) + "; records:";
    for (const auto& r : s.recs)
        out += " (" + std::to_string(r.owner) + "," + std::to_string(r.seq) + (r.intact ? ")" : " CORRUPT)");
    return out;
}

// The common start: A fills [0, 1000), crosses at 1000 (leads flush 1, base 1000). Z (bad n)
// and then B park behind it. After flush 1: A at 0, Z at 64 (n bytes), B at 64 + n.
// `then_b` is what B does after writing its record; returns B's pointer's offset.
template <class Traits, class BAfter>
void run_case(rig<Traits>& r, std::uint64_t bad_n, std::uint64_t b_bytes, BAfter then_b,
              std::atomic<long>& b_offset, std::atomic<int>& z_error) {
    auto& buf = r.buf;
    std::atomic<int> registered{0};
    std::atomic<bool> z_parked{false};
    std::thread a([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        while (registered.load() != 3) std::this_thread::sleep_for(1ms);
        unsigned char* at = buf.reserve(p, 1000);
        write_rec(at, 1000, 1, 0);
        at = buf.reserve(p, 64); // crosses: leads flush 1 once Z and B parked
        if (at) write_rec(at, 64, 1, 1);
        buf.unregister_thread(p);
    });
    std::thread z([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        if (!TB_CHECK(eventually([&] { return buf.arena().position() == 1064; }))) {
            buf.unregister_thread(p);
            return;
        }
        const std::uint64_t pos = buf.reserve_fast(bad_n); // the JIT's fetch_add: [1064, 1064 + n)
        z_parked = true;
        TB_CHECK(buf.reserve_slow(p, pos, bad_n) == invalid_position);
        z_error = static_cast<int>(p.last_error());
        buf.unregister_thread(p);
    });
    std::thread b([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        // Z parked (a claim of n = 0 occupies nothing and never parks).
        const bool z_settled = eventually([&] { return z_parked.load() && (buf.stats().parks == 1 || bad_n == 0); });
        unsigned char* at = z_settled ? buf.reserve(p, b_bytes) : nullptr; // parks behind Z
        if (!TB_CHECK(at != nullptr)) {
            buf.unregister_thread(p); // never leave a flush waiting for this thread
            return;
        }
        b_offset = static_cast<long>(at - buf.layout().data);
        if (reinterpret_cast<std::uintptr_t>(at) % 8 == 0) write_rec(at, b_bytes, 2, 0);
        then_b(p);
        buf.unregister_thread(p);
    });
    a.join();
    z.join();
    b.join();
}

} // namespace

// 4a. n = 0: Z's claim occupies nothing, so it needs no settling; B parks behind A and gets
// 64. (Z used to park, land at 64, and lead a flush from there with base 64, re-mapping B's
// written record over freshly zeroed bytes: it was never written out.)
BOOST_AUTO_TEST_CASE(a_parked_zero_size_claim_loses_nothing_behind_it) {
    rig<small_traits> r(1024);
    std::atomic<long> b_offset{-1};
    std::atomic<int> z_error{-1};
    const auto nothing_more = [](producer&) {};
    run_case(r, 0, 64, nothing_more, b_offset, z_error);
    TB_NO_THREAD_FAILURES();
    BOOST_TEST(z_error.load() == static_cast<int>(errc::bad_size));
    BOOST_TEST(b_offset.load() == 64);
    BOOST_TEST((r.buf.drain() == errc::ok));
    const scan_summary s = summarize(r.log.bytes, 1024);
    BOOST_TEST_MESSAGE(describe(s, r.log));
    bool b_seen = false;
    for (const auto& rec : s.recs) b_seen |= rec.owner == 2 && rec.intact;
    BOOST_TEST(b_seen, "B's record (accepted at offset 64) was never written out: " << describe(s, r.log));
    BOOST_TEST(s.ok, "the trace has a hole where B's record should be: " << describe(s, r.log));
}

// (n = 4, not a multiple of 8, parked and then fitting where it lands: the claims behind it
// are misaligned until the next flush, and nothing can repair that; the fast path cannot
// check n. docs/protocol.md says so. A crossing one is realigned: test_misuse.)

// 4c. max_reservation (256) < n (512) <= capacity (1024): too_large; placed, as padding,
// where it lands, and nothing behind it lost.
BOOST_AUTO_TEST_CASE(a_parked_too_large_claim_is_placed_as_padding) {
    rig<narrow_traits> r(1024);
    std::atomic<long> b_offset{-1};
    std::atomic<int> z_error{-1};
    // A's first claim is 1000 > max_reservation here: split it.
    // (run_case reserves 1000 at once; use a variant with two claims)
    auto& buf = r.buf;
    std::atomic<int> registered{0};
    std::atomic<bool> z_parked{false};
    std::thread a([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        while (registered.load() != 3) std::this_thread::sleep_for(1ms);
        for (std::uint32_t i = 0; i < 4; ++i) write_rec(buf.reserve(p, 248), 248, 1, i); // [0, 992)
        write_rec(buf.reserve(p, 8), 8, 1, 4);                                           // [992, 1000)
        unsigned char* at = buf.reserve(p, 64);                                          // crosses at 1000
        if (at) write_rec(at, 64, 1, 5);
        buf.unregister_thread(p);
    });
    std::thread z([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        if (!eventually([&] { return buf.arena().position() == 1064; })) return;
        const std::uint64_t pos = buf.reserve_fast(512);
        z_parked = true;
        TB_CHECK(buf.reserve_slow(p, pos, 512) == invalid_position);
        z_error = static_cast<int>(p.last_error());
        buf.unregister_thread(p);
    });
    std::thread b([&] {
        producer p;
        buf.register_thread(p);
        registered.fetch_add(1);
        if (!eventually([&] { return z_parked.load() && buf.stats().parks == 1; })) return;
        unsigned char* at = buf.reserve(p, 64); // parks behind Z: [1576, 1640) -> [576, 640)
        if (!at) return;
        b_offset = static_cast<long>(at - buf.layout().data);
        write_rec(at, 64, 2, 0);
        buf.unregister_thread(p);
    });
    a.join();
    z.join();
    b.join();
    TB_NO_THREAD_FAILURES();
    BOOST_TEST(z_error.load() == static_cast<int>(errc::too_large));
    BOOST_TEST((r.buf.drain() == errc::ok));
    const scan_summary s = summarize(r.log.bytes, 1024);
    bool b_seen = false;
    for (const auto& rec : s.recs) b_seen |= rec.owner == 2 && rec.intact;
    BOOST_TEST(b_seen, "B's record (accepted at offset " << b_offset.load() << ") was lost: " << describe(s, r.log));
}

// 4d. As 4a, but B, after writing, makes an ordinary claim that crosses the end of the same
// space, and leads. The zero-size claim must not lead too: the sink holds the first writer
// until a second one is inside (2 s at most), and at most one may ever be.
BOOST_AUTO_TEST_CASE(a_parked_zero_size_claim_never_makes_a_second_leader) {
    auto* r = new rig<small_traits>(1024); // leaked if something hangs
    r->log.hold_until_inside = 2;
    std::atomic<long> b_offset{-1};
    std::atomic<int> z_error{-1};
    const auto cross_1024 = [&](producer& p) {
        unsigned char* at = r->buf.reserve(p, 1000); // [128, 1128): crosses 1024
        if (at) write_rec(at, 1000, 2, 1);
    };
    const bool done = finishes_within(15000ms, [&] { run_case(*r, 0, 64, cross_1024, b_offset, z_error); });
    BOOST_REQUIRE_MESSAGE(done, "the case hung");
    TB_NO_THREAD_FAILURES();
    BOOST_TEST(r->log.max_inside.load() == 1, "two flushes wrote to the sink at the same time (two leaders own the "
                                              "buffer): max concurrent sink writers "
                                                  << r->log.max_inside.load());
    BOOST_TEST_MESSAGE("position afterwards: " << r->buf.arena().position());
    r->log.hold_until_inside = 0;
    r->buf.drain();
    const scan_summary s = summarize(r->log.bytes, 1024);
    BOOST_TEST_MESSAGE(describe(s, r->log));
    delete r;
}
