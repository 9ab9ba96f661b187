// The quiescence counter alone: producer states and misuse, the count, and the flush-side
// protocol (await_quiescence / park / release) against threads going offline and online.
#define BOOST_TEST_MODULE quiescence
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include <tracebuf/quiescence.hpp>

#include "support/eventually.hpp"
#include "support/test_traits.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using tracebuf_test::eventually;
using namespace std::chrono_literals;

namespace {

struct two_threads_max : tracebuf_test::boost_futex {
    static constexpr std::uint32_t max_threads = 2;
};

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(state_transitions_and_misuse, T, tracebuf_test::parallel_traits) {
    quiescence_counter<T> q;
    producer p;
    BOOST_TEST((p.state() == producer_state::unregistered));
    BOOST_TEST((q.go_offline(p) == errc::not_registered));
    BOOST_TEST((q.go_online(p) == errc::not_registered));
    BOOST_TEST((q.unregister_thread(p) == errc::not_registered));
    BOOST_TEST((p.last_error() == errc::not_registered));

    BOOST_TEST((q.register_thread(p) == errc::ok));
    BOOST_TEST((p.state() == producer_state::online));
    BOOST_TEST(q.online_count() == 1u);
    BOOST_TEST((q.register_thread(p) == errc::already_registered));
    BOOST_TEST((q.go_online(p) == errc::already_online)); // online while online
    BOOST_TEST(q.online_count() == 1u);                   // misuse changed nothing

    BOOST_TEST((q.go_offline(p) == errc::ok));
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST((q.go_offline(p) == errc::not_online)); // offline twice
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST((q.go_online(p) == errc::ok));
    BOOST_TEST(q.online_count() == 1u);

    BOOST_TEST((q.unregister_thread(p) == errc::ok));
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST(q.registered_count() == 0u);

    // Unregistering while offline does not touch the online count.
    BOOST_TEST((q.register_thread(p) == errc::ok));
    BOOST_TEST((q.go_offline(p) == errc::ok));
    BOOST_TEST((q.unregister_thread(p) == errc::ok));
    BOOST_TEST(q.online_count() == 0u);
}

BOOST_AUTO_TEST_CASE(thread_limit_is_enforced) {
    quiescence_counter<two_threads_max> q;
    producer a, b, c;
    BOOST_TEST((q.register_thread(a) == errc::ok));
    BOOST_TEST((q.register_thread(b) == errc::ok));
    BOOST_TEST((q.register_thread(c) == errc::too_many_threads));
    BOOST_TEST((c.state() == producer_state::unregistered));
    BOOST_TEST(q.online_count() == 2u);
    BOOST_TEST((q.unregister_thread(a) == errc::ok));
    BOOST_TEST((q.register_thread(c) == errc::ok));
}

// The flusher waits for the online thread, not for the offline one; a thread coming online
// while the flush owns the buffer waits until release, and comes back in the next epoch.
BOOST_AUTO_TEST_CASE_TEMPLATE(flusher_waits_for_online_threads_only, T, tracebuf_test::parallel_traits) {
    quiescence_counter<T> q;
    producer sleeper, writer, flusher;
    BOOST_REQUIRE((q.register_thread(sleeper) == errc::ok));
    BOOST_REQUIRE((q.go_offline(sleeper) == errc::ok)); // "in a syscall" for the whole test
    BOOST_REQUIRE((q.register_thread(writer) == errc::ok));

    std::atomic<bool> owns{false};
    std::thread f([&] {
        TB_CHECK((q.register_thread(flusher) == errc::ok));
        q.await_quiescence();
        owns = true;
    });
    std::this_thread::sleep_for(50ms);
    BOOST_TEST(!owns.load()); // the writer is online
    BOOST_TEST((q.go_offline(writer) == errc::ok));
    BOOST_REQUIRE(eventually([&] { return owns.load(); }));
    BOOST_TEST(q.flushing());
    const std::uint32_t epoch = q.epoch();

    std::atomic<bool> back{false};
    std::thread w([&] {
        TB_CHECK((q.go_online(writer) == errc::ok)); // blocks while FLUSHING
        back = true;
    });
    std::this_thread::sleep_for(50ms);
    BOOST_TEST(!back.load());
    BOOST_TEST(q.take_parked() == 0u);
    q.release(1); // the flusher counts itself back in
    f.join();
    BOOST_REQUIRE(eventually([&] { return back.load(); }));
    w.join();
    BOOST_TEST(!q.flushing());
    BOOST_TEST(q.epoch() == ((epoch + 1) & (0xffffffffu >> quiescence_counter<T>::epoch_shift)));
    BOOST_TEST(q.online_count() == 2u); // flusher and writer; the sleeper is still offline
    TB_NO_THREAD_FAILURES();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(parked_threads_resume_after_release_and_are_counted_in,
                              T, tracebuf_test::parallel_traits) {
    quiescence_counter<T> q;
    constexpr int parkers = 5;
    producer leader;
    BOOST_REQUIRE((q.register_thread(leader) == errc::ok));
    std::vector<producer> ps(parkers);
    for (auto& p : ps) BOOST_REQUIRE((q.register_thread(p) == errc::ok));
    std::atomic<int> resumed{0};
    std::vector<std::thread> pool;
    for (int i = 0; i < parkers; ++i) {
        pool.emplace_back([&] {
            q.await_release(q.park());
            resumed.fetch_add(1);
        });
    }
    q.await_quiescence(); // returns once all five have parked
    BOOST_TEST(q.online_count() == 0u);
    std::this_thread::sleep_for(20ms);
    BOOST_TEST(resumed.load() == 0);
    BOOST_TEST(q.take_parked() == static_cast<std::uint32_t>(parkers));
    q.release(parkers + 1);
    for (auto& t : pool) t.join();
    BOOST_TEST(resumed.load() == parkers);
    BOOST_TEST(q.online_count() == static_cast<std::uint32_t>(parkers + 1));
    BOOST_TEST(q.take_parked() == 0u);
}

// Many threads flip offline/online while flushes come and go: the count must come back
// exact, and no flush may ever own the buffer while a thread believes it is online.
BOOST_AUTO_TEST_CASE_TEMPLATE(no_thread_is_online_while_a_flush_owns_the_buffer,
                              T, tracebuf_test::parallel_traits) {
    quiescence_counter<T> q;
    constexpr int threads = 8;
    constexpr int flips = 2000;
    std::atomic<int> believed_online{0};
    std::atomic<int> violations{0};
    std::atomic<bool> stop{false};

    std::thread flusher([&] {
        producer p;
        TB_CHECK((q.register_thread(p) == errc::ok));
        while (!stop.load()) {
            q.await_quiescence();
            if (believed_online.load() != 0) violations.fetch_add(1);
            q.release(q.take_parked() + 1);
            std::this_thread::yield();
        }
        q.unregister_thread(p);
    });
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            producer p;
            TB_CHECK((q.register_thread(p) == errc::ok));
            believed_online.fetch_add(1);
            for (int i = 0; i < flips; ++i) {
                believed_online.fetch_sub(1);
                TB_CHECK((q.go_offline(p) == errc::ok));
                TB_CHECK((q.go_online(p) == errc::ok));
                believed_online.fetch_add(1);
            }
            believed_online.fetch_sub(1);
            TB_CHECK((q.unregister_thread(p) == errc::ok));
        });
    }
    for (auto& t : pool) t.join();
    stop = true;
    flusher.join();
    BOOST_TEST(violations.load() == 0);
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST(q.registered_count() == 0u);
    TB_NO_THREAD_FAILURES();
}

// ---- Idle producers (Traits::idle_slots > 0) ------------------------------------------------

namespace {
template <class Base>
struct with_idle_slots : Base {
    static constexpr std::uint32_t idle_slots = 8;
};
using idle_traits = std::tuple<with_idle_slots<tracebuf_test::boost_futex>,
                               with_idle_slots<tracebuf_test::boost_futex_membarrier>,
                               with_idle_slots<tracebuf_test::boost_spin>>;
struct two_idle_slots : tracebuf_test::boost_futex {
    static constexpr std::uint32_t idle_slots = 2;
};
} // namespace

BOOST_AUTO_TEST_CASE(idle_state_transitions_and_misuse) {
    quiescence_counter<with_idle_slots<tracebuf_test::boost_futex>> q;
    producer p;
    BOOST_TEST((q.idle(p) == errc::not_registered));
    BOOST_REQUIRE((q.register_thread(p) == errc::ok));
    BOOST_TEST((q.busy(p) == errc::already_online)); // busy while busy
    BOOST_TEST((q.idle(p) == errc::ok));
    BOOST_TEST((p.state() == producer_state::idle));
    // idle still counts, until a flusher takes it
    BOOST_TEST(q.online_count() == 1u);
    BOOST_TEST((q.idle(p) == errc::not_online)); // idle twice
    BOOST_TEST((q.busy(p) == errc::ok));
    BOOST_TEST((q.idle(p) == errc::ok));
    BOOST_TEST((q.go_offline(p) == errc::ok)); // a syscall between callbacks
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST((q.busy(p) == errc::not_online)); // offline is not idle
    BOOST_TEST((q.go_online(p) == errc::ok));
    BOOST_TEST((q.idle(p) == errc::ok));
    BOOST_TEST((q.unregister_thread(p) == errc::ok)); // from idle
    BOOST_TEST(q.online_count() == 0u);
}

BOOST_AUTO_TEST_CASE(every_registered_thread_needs_an_idle_slot) {
    quiescence_counter<two_idle_slots> q;
    producer a, b, c;
    BOOST_TEST((q.register_thread(a) == errc::ok));
    BOOST_TEST((q.register_thread(b) == errc::ok));
    BOOST_TEST((q.register_thread(c) == errc::too_many_threads));
    BOOST_TEST(q.registered_count() == 2u);
    BOOST_TEST((q.unregister_thread(a) == errc::ok));
    BOOST_TEST((q.register_thread(c) == errc::ok)); // a's slot is free again
}

// The QEMU case: a thread stopped between callbacks (here on a mutex the test holds, as
// start_exclusive would stop it) without going offline. Idle, it does not stall the flush;
// busy again afterwards, it is counted again.
BOOST_AUTO_TEST_CASE_TEMPLATE(idle_thread_stopped_by_the_host_does_not_stall_a_flush, T, idle_traits) {
    quiescence_counter<T> q;
    std::mutex host_lock;
    std::unique_lock<std::mutex> hold(host_lock);
    std::atomic<bool> stopped{false}, resumed{false};
    producer stuck;
    std::thread victim([&] {
        TB_CHECK((q.register_thread(stuck) == errc::ok));
        TB_CHECK((q.idle(stuck) == errc::ok)); // end of a callback
        stopped = true;
        std::lock_guard<std::mutex> wait_for_host(host_lock); // stopped by the host, online
        // next callback: waits for the flush to end
        TB_CHECK((q.busy(stuck) == errc::ok));
        resumed = true;
    });
    BOOST_REQUIRE(eventually([&] { return stopped.load(); }));

    producer flusher;
    BOOST_REQUIRE((q.register_thread(flusher) == errc::ok));
    std::atomic<bool> owns{false};
    std::thread f([&] {
        q.await_quiescence(); // must not wait for the stopped thread
        owns = true;
    });
    BOOST_REQUIRE(eventually([&] { return owns.load(); }));
    BOOST_TEST(q.flushing());
    hold.unlock(); // the host lets the thread run: its busy() waits for the flush
    std::this_thread::sleep_for(30ms);
    BOOST_TEST(!resumed.load());
    q.release(q.take_parked() + 1);
    f.join();
    victim.join();
    BOOST_TEST(resumed.load());
    BOOST_TEST(q.online_count() == 2u); // flusher and the resumed thread
    TB_NO_THREAD_FAILURES();
}

// Threads flip busy/idle (and sometimes offline/online, sometimes sleep while idle) while
// flushes come and go: no flush may own the buffer while a thread is busy, and the count
// comes back exact.
BOOST_AUTO_TEST_CASE_TEMPLATE(no_thread_is_busy_while_a_flush_owns_the_buffer, T, idle_traits) {
    quiescence_counter<T> q;
    constexpr int threads = 6;
    constexpr int flips = 3000;
    std::atomic<int> busy_now{0};
    std::atomic<int> violations{0};
    std::atomic<bool> stop{false};
    std::atomic<int> flushes{0};

    std::thread flusher([&] {
        producer p;
        TB_CHECK((q.register_thread(p) == errc::ok));
        while (!stop.load()) {
            q.await_quiescence();
            if (busy_now.load() != 0) violations.fetch_add(1);
            flushes.fetch_add(1);
            q.release(q.take_parked() + 1);
            std::this_thread::yield();
        }
        TB_CHECK((q.unregister_thread(p) == errc::ok));
    });
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            producer p;
            TB_CHECK((q.register_thread(p) == errc::ok));
            busy_now.fetch_add(1);
            for (int i = 0; i < flips; ++i) {
                busy_now.fetch_sub(1);
                TB_CHECK((q.idle(p) == errc::ok));
                if ((i + t) % 97 == 0) std::this_thread::sleep_for(200us); // stopped while idle
                if ((i + t) % 13 == 0) {
                    TB_CHECK((q.go_offline(p) == errc::ok));
                    TB_CHECK((q.go_online(p) == errc::ok));
                } else {
                    TB_CHECK((q.busy(p) == errc::ok));
                }
                busy_now.fetch_add(1);
            }
            busy_now.fetch_sub(1);
            TB_CHECK((q.unregister_thread(p) == errc::ok));
        });
    }
    for (auto& th : pool) th.join();
    stop = true;
    flusher.join();
    BOOST_TEST(violations.load() == 0);
    BOOST_TEST(flushes.load() > 0);
    BOOST_TEST(q.online_count() == 0u);
    BOOST_TEST(q.registered_count() == 0u);
    TB_NO_THREAD_FAILURES();
}

// Every thread goes idle at about the same moment while the flusher waits, then stays
// stopped until that flush is over - as QEMU's vCPU threads stop on mmap_lock held by a
// thread parked in a flush. Each idle nudges the flusher; however many nudges land between
// its read of the state word and its sleep, it must not sleep through them, or nobody would
// ever wake it. A watchdog turns a hang into a failure. (The race that a toggled NUDGE bit
// lost needs two idles inside the flusher's scan-to-sleep window: this test did not hit it
// in 60,000 rounds; the QEMU guest test in chunk mode, where the flusher is preempted for
// milliseconds, did in one run of five. This one guards the scenario at unit level.)
// Both idle fences: with membarrier, the idles race the flusher's WAITING RMW, heavy() and
// scan with plain stores and loads.
using futex_idle_traits = std::tuple<with_idle_slots<tracebuf_test::boost_futex>,
                                     with_idle_slots<tracebuf_test::boost_futex_membarrier>>;
BOOST_AUTO_TEST_CASE_TEMPLATE(simultaneous_idles_never_lose_the_flushers_wake_up, T,
                              futex_idle_traits) {
    quiescence_counter<T> q;
    constexpr int threads = 7; // and the flusher, on 2 cores: it is often preempted mid-scan
    constexpr int rounds = 20000;
    std::atomic<int> round_started{0};  // the flusher is waiting in this round
    std::atomic<int> round_finished{0}; // its await_quiescence returned
    std::atomic<bool> done{false};

    std::thread watchdog([&] {
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (!done.load()) {
            if (std::chrono::steady_clock::now() > deadline) {
                std::fprintf(stderr, "hang: the flusher never woke (round %d)\n", round_finished.load());
                std::_Exit(1);
            }
            std::this_thread::sleep_for(10ms);
        }
    });
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            producer p;
            TB_CHECK((q.register_thread(p) == errc::ok));
            for (int r = 1; r <= rounds; ++r) {
                while (round_started.load() < r) std::this_thread::yield(); // busy until the flush waits
                TB_CHECK((q.idle(p) == errc::ok));
                while (round_finished.load() < r) std::this_thread::yield(); // stopped while idle
                // taken over: comes back after the release
                TB_CHECK((q.busy(p) == errc::ok));
            }
            TB_CHECK((q.unregister_thread(p) == errc::ok));
        });
    }
    producer f;
    BOOST_REQUIRE((q.register_thread(f) == errc::ok));
    for (int r = 1; r <= rounds; ++r) {
        round_started.store(r);
        q.await_quiescence(); // returns only once it has taken every idle thread over
        round_finished.store(r);
        q.release(q.take_parked() + 1);
    }
    for (auto& th : pool) th.join();
    done = true;
    watchdog.join();
    BOOST_REQUIRE((q.unregister_thread(f) == errc::ok));
    BOOST_TEST(q.online_count() == 0u);
    TB_NO_THREAD_FAILURES();
}
