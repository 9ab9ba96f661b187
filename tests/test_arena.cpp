// The arena alone: the fast path's claims, the JIT layout, bad memory, rebase and close.
#define BOOST_TEST_MODULE arena
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <tracebuf/arena.hpp>

#include "support/test_memory.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf;
using traits = tracebuf_test::boost_futex;

using tracebuf_test::memory;

BOOST_AUTO_TEST_CASE(claims_are_consecutive_and_fit_until_the_end) {
    memory m(1 << 16);
    arena<traits> a(m.data(), 1 << 16);
    BOOST_REQUIRE(a.status() == errc::ok);
    BOOST_TEST(a.capacity() == (1u << 16));
    BOOST_TEST(a.reserve_fast(8) == 0u);
    BOOST_TEST(a.reserve_fast(24) == 8u);
    BOOST_TEST(a.reserve_fast(16) == 32u);
    BOOST_TEST(a.fits(32, 16));
    BOOST_TEST(a.fits((1 << 16) - 8, 8));   // ends exactly at the capacity
    BOOST_TEST(!a.fits((1 << 16) - 8, 16)); // crosses it
    BOOST_TEST(!a.fits(1 << 16, 8));        // starts at it
}

BOOST_AUTO_TEST_CASE(layout_exposes_position_word_data_and_capacity) {
    memory m((1 << 16) + 8);
    arena<traits> a(m.data(), (1 << 16) + 5); // the odd tail is not used
    const jit_layout l = a.layout();
    BOOST_TEST(l.capacity == (1u << 16));
    BOOST_TEST(static_cast<void*>(l.data) == m.data());
    a.reserve_fast(40);
    // The position word is a plain 64-bit integer a JIT can load and fetch_add.
    BOOST_TEST(*static_cast<std::uint64_t*>(l.position) == 40u);
    BOOST_TEST(a.position() == 40u);
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(l.position) % 64 == 0); // own cache line
}

BOOST_AUTO_TEST_CASE(unusable_memory_is_reported_and_every_claim_fails) {
    memory m(1 << 16);
    arena<traits> too_small(m.data(), traits::max_reservation - 8);
    BOOST_TEST((too_small.status() == errc::bad_arena));
    BOOST_TEST(!too_small.fits(too_small.reserve_fast(8), 8));
    arena<traits> misaligned(static_cast<char*>(m.data()) + 4, 1 << 15);
    BOOST_TEST((misaligned.status() == errc::bad_arena));
    arena<traits> null(nullptr, 1 << 16);
    BOOST_TEST((null.status() == errc::bad_arena));
    BOOST_TEST(null.reserve_fast(8) >= arena<traits>::closed_position);
}

BOOST_AUTO_TEST_CASE(rebase_moves_the_virtual_space_down) {
    memory m(1 << 16);
    arena<traits> a(m.data(), 1 << 16);
    a.reserve_fast((1 << 16) - 8);
    const std::uint64_t crossing = a.reserve_fast(16);
    const std::uint64_t parked = a.reserve_fast(32);
    BOOST_TEST(crossing == (1u << 16) - 8);
    BOOST_TEST(a.rebase(crossing) == 48u); // crossing at 0, parked at 16, next at 48
    BOOST_TEST(parked - crossing == 16u);
    // Until unmark(), a claim carries the mark (and so takes the slow path, which removes it).
    BOOST_TEST(a.reserve_fast(8) == arena<traits>::marked_position + 48u);
    a.unmark();
    BOOST_TEST(a.reserve_fast(8) == 56u);
}

BOOST_AUTO_TEST_CASE(close_returns_the_end_or_what_prevented_it) {
    memory m(1 << 16);
    arena<traits> a(m.data(), 1 << 16);
    a.reserve_fast(64);
    BOOST_TEST(a.try_close() == 64u);
    BOOST_TEST(a.reserve_fast(8) >= arena<traits>::closed_position);
    BOOST_TEST(a.try_close() >= arena<traits>::closed_position);

    arena<traits> pending(m.data(), 1 << 16);
    pending.reserve_fast(1 << 16);
    pending.reserve_fast(8); // crosses: a flush is pending
    BOOST_TEST(pending.try_close() == (1u << 16) + 8);
    BOOST_TEST(pending.position() == (1u << 16) + 8); // not closed
}

BOOST_AUTO_TEST_CASE(concurrent_claims_are_disjoint_and_cover_the_buffer) {
    constexpr std::size_t capacity = 1 << 20;
    constexpr int threads = 8;
    memory m(capacity);
    arena<traits> a(m.data(), capacity);
    std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> claims(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::uint64_t n = 8 * static_cast<std::uint64_t>(t + 1);
            for (;;) {
                const std::uint64_t pos = a.reserve_fast(n);
                if (!a.fits(pos, n)) break;
                claims[static_cast<std::size_t>(t)].emplace_back(pos, n);
            }
        });
    }
    for (auto& th : pool) th.join();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> all;
    for (auto& c : claims) all.insert(all.end(), c.begin(), c.end());
    std::sort(all.begin(), all.end());
    std::uint64_t expect = 0;
    for (auto& [pos, n] : all) {
        BOOST_REQUIRE(pos == expect); // no gap, no overlap
        expect = pos + n;
    }
    BOOST_TEST(expect <= capacity);
    BOOST_TEST(capacity - expect < 8u * threads); // only the last, non-fitting claims are missing
}
