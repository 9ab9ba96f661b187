// Adversarial tests, parts 1 and 2: enter_online / await_flush_end (the step-back wait) and the relaxed
// exchange in leave_slot. Build normally and with -fsanitize=thread (hooked_atomics is
// std::atomic underneath, so TSan sees every operation).
//
// The admission check used throughout: a thread that is online (counted, not parked) must
// never observe FLUSHING. Its admitting RMW read a value without FLUSHING; a later FLUSHING
// needs count 0, impossible while it is counted; so by coherence any FLUSHING it reads means
// it was admitted while a flush owned the buffer.
#define BOOST_TEST_MODULE adversarial_quiescence
#include <boost/test/unit_test.hpp>

#include <map>

#include "support/schedule_control.hpp"
#include "support/stress.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using namespace schedule_control;

namespace {

template <class Wait, std::uint32_t Slots = 0>
struct qtraits : traits_base {
    using atomics = hooked_atomics;
    using wait = Wait;
    static constexpr std::uint32_t idle_slots = Slots;
    static constexpr std::size_t max_record_size = 512;
    static constexpr std::size_t max_reservation = 512;
};

unsigned env_unsigned(const char* name, unsigned dflt) {
    const char* v = std::getenv(name);
    return v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : dflt;
}

struct checker {
    // per owner: next expected seq; counts problems.
    std::map<std::uint32_t, std::uint32_t> next;
    int out_of_order = 0, corrupt = 0;
    void run(const scan_summary& s) {
        for (const auto& r : s.recs) {
            if (!r.intact) ++corrupt;
            if (next[r.owner] != r.seq) ++out_of_order;
            next[r.owner] = r.seq + 1;
        }
    }
};

} // namespace

// 1a. The thread that stepped back at epoch e is descheduled for 8192 flushes, and resumes
// while the flush that brings the epoch back to e is in progress (FLUSHING set, epoch == e).
// It must wait again, not be admitted, and come online once that flush ends.
BOOST_AUTO_TEST_CASE(stepped_back_thread_resuming_in_a_wrapped_flushing_epoch_waits_again) {
    using T = qtraits<stall_wait>;
    hook = nullptr;
    chaos = 0;
    stall_wait::stalled = 0;
    stall_wait::resume = false;
    shared_log log;
    std::vector<std::uint64_t> mem(4096 / 8);
    trace_buffer<T, log_sink> buf(mem.data(), 4096, log_sink{&log});
    producer f;
    BOOST_REQUIRE((buf.register_thread(f) == errc::ok));
    write_padding(buf.reserve(f, 512), 512, 512);
    for (int i = 0; i < 7; ++i) write_padding(buf.reserve(f, 512), 512, 512); // full
    log.hold = true;
    std::thread lead([&] { write_padding(buf.reserve(f, 8), 8, 512); }); // crosses; held in the sink
    BOOST_REQUIRE(eventually([&] { return log.entered.load() == 1; }));
    const std::uint32_t e = buf.counter().epoch();
    std::atomic<bool> online{false}, saw_flushing{false};
    std::thread late([&] {
        producer p;
        stall_wait::stall_next = true;
        if (buf.register_thread(p) != errc::ok) return;
        online = true;
        if (buf.counter().flushing()) saw_flushing = true;
        buf.unregister_thread(p);
    });
    BOOST_REQUIRE(eventually([&] { return stall_wait::stalled.load() == 1; }));
    log.hold = false;
    lead.join();
    // Flushes until the next one runs at epoch e again.
    while (buf.counter().epoch() != e) BOOST_REQUIRE((buf.flush(f) == errc::ok)); // 8191 flushes
    // so that the held flush calls the sink
    write_padding(buf.reserve(f, 8), 8, 512);
    const int entered = log.entered.load();
    log.hold = true;
    std::thread held([&] { buf.flush(f); });
    BOOST_REQUIRE(eventually([&] { return log.entered.load() > entered; }));
    BOOST_REQUIRE(buf.counter().flushing());
    BOOST_TEST(buf.counter().epoch() == e);
    stall_wait::resume = true;
    std::this_thread::sleep_for(300ms);
    BOOST_TEST(!online.load(), "admitted while FLUSHING was set (epoch wrapped to the value it read)");
    log.hold = false;
    held.join();
    BOOST_TEST(eventually([&] { return online.load(); }), "never came online after the flush ended");
    late.join();
    BOOST_TEST(!saw_flushing.load());
    BOOST_TEST((buf.unregister_thread(f) == errc::ok));
}

// 1b / 2. Randomised: threads reserve and write small records into a 512-byte buffer
// (a flush every dozen records: the 13-bit epoch wraps several times), go offline and back,
// unregister and register again (another thread may get the same idle slot), go idle and
// busy (with idle slots: take-overs), request flushes. Chaos yields at atomic operations.
// Checks: no thread online ever sees FLUSHING; every record once, in per-thread order,
// intact; drain ok; no deadlock (watchdog).
template <class T>
void qstress(unsigned threads, unsigned iters, unsigned chaos_level, unsigned seed) {
    hook = nullptr;
    chaos = chaos_level;
    auto* log = new shared_log;
    std::vector<std::uint64_t> mem(512 / 8);
    auto* buf = new trace_buffer<T, log_sink>(mem.data(), 512, log_sink{log});
    std::atomic<int> violations{0}, errors{0};
    std::atomic<long> taken_busy{0}, idle_leaves{0};
    std::atomic<unsigned> finished{0};
    std::vector<std::uint32_t> written(threads, 0);
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            tracebuf_test::splitmix g{(std::uint64_t{seed} << 32) ^ (t * 7919u + 1)};
            producer p;
            auto online_check = [&] {
                if (buf->counter().flushing()) violations.fetch_add(1);
            };
            if (buf->register_thread(p) != errc::ok) errors.fetch_add(1);
            online_check();
            std::uint32_t seq = 0;
            for (unsigned i = 0; i < iters; ++i) {
                const std::uint64_t r = g.below(256);
                if constexpr (T::idle_slots > 0) {
                    if (r < 24) {
                        if (buf->idle(p) != errc::ok) errors.fetch_add(1);
                        if (g.below(8) == 0) std::this_thread::sleep_for(std::chrono::microseconds(g.below(200)));
                        else if (g.below(2)) ::sched_yield();
                        if (g.below(16) == 0) { // leave straight from idle
                            if (g.below(2)) {
                                if (buf->go_offline(p) != errc::ok) errors.fetch_add(1);
                                if (buf->go_online(p) != errc::ok) errors.fetch_add(1);
                            } else {
                                if (buf->unregister_thread(p) != errc::ok) errors.fetch_add(1);
                                ::sched_yield();
                                if (buf->register_thread(p) != errc::ok) errors.fetch_add(1);
                            }
                            idle_leaves.fetch_add(1);
                        } else if (buf->busy(p) != errc::ok) {
                            errors.fetch_add(1);
                        } else if (p.taken_over()) {
                            taken_busy.fetch_add(1);
                        }
                        online_check();
                        continue;
                    }
                }
                if (r < 40) {
                    if (buf->go_offline(p) != errc::ok) errors.fetch_add(1);
                    if (g.below(4) == 0) std::this_thread::sleep_for(std::chrono::microseconds(g.below(100)));
                    else ::sched_yield();
                    if (buf->go_online(p) != errc::ok) errors.fetch_add(1);
                    online_check();
                } else if (r < 44) {
                    if (buf->unregister_thread(p) != errc::ok) errors.fetch_add(1);
                    ::sched_yield();
                    if (buf->register_thread(p) != errc::ok) errors.fetch_add(1);
                    online_check();
                } else if (r < 46) {
                    if (buf->flush(p) != errc::ok) errors.fetch_add(1);
                    online_check();
                } else {
                    const std::size_t n = 8 * (2 + g.below(7));
                    unsigned char* at = buf->reserve(p, n);
                    if (!at) {
                        errors.fetch_add(1);
                        continue;
                    }
                    online_check();
                    write_rec(at, n, t, seq++);
                }
            }
            written[t] = seq;
            if (buf->unregister_thread(p) != errc::ok) errors.fetch_add(1);
            finished.fetch_add(1);
        });
    }
    const bool done = eventually([&] { return finished.load() == threads; }, 120000ms);
    if (!done) {
        for (auto& t : ts) t.detach();
        chaos = 0;
        BOOST_FAIL("deadlock: " << finished.load() << " of " << threads << " threads finished; online "
                                << buf->counter().online_count() << ", flushing " << buf->counter().flushing()
                                << ", position " << buf->arena().position());
        return; // leaked
    }
    for (auto& t : ts) t.join();
    chaos = 0;
    BOOST_TEST((buf->drain() == errc::ok));
    const scan_summary s = summarize(log->bytes, 1024);
    checker c;
    c.run(s);
    BOOST_TEST(violations.load() == 0, "an online thread saw FLUSHING " << violations.load() << " times");
    BOOST_TEST(errors.load() == 0);
    BOOST_TEST(s.ok);
    BOOST_TEST(c.corrupt == 0);
    BOOST_TEST(c.out_of_order == 0);
    for (unsigned t = 0; t < threads; ++t) BOOST_TEST(c.next[t] == written[t], "thread " << t);
    BOOST_TEST_MESSAGE("flushes " << buf->stats().flushes << " (epoch wraps " << buf->stats().flushes / 8192
                                  << "), records " << s.recs.size() << ", parks " << buf->stats().parks
                                  << ", busy after take-over " << taken_busy.load() << ", offline/unregister from idle "
                                  << idle_leaves.load());
    delete buf;
    delete log;
}

BOOST_AUTO_TEST_CASE(stress_futex_no_slots) {
    const unsigned seeds = env_unsigned("REVIEW_SEEDS", 2), iters = env_unsigned("REVIEW_ITERS", 30000);
    for (unsigned s = 1; s <= seeds; ++s) qstress<qtraits<futex_wait>>(5, iters, s % 2 ? 64 : 0, s);
}
BOOST_AUTO_TEST_CASE(stress_spin_no_slots) {
    const unsigned seeds = env_unsigned("REVIEW_SEEDS", 2), iters = env_unsigned("REVIEW_ITERS", 30000);
    for (unsigned s = 1; s <= seeds; ++s) qstress<qtraits<spin_yield_wait>>(5, iters, s % 2 ? 64 : 0, 100 + s);
}
BOOST_AUTO_TEST_CASE(stress_futex_idle_slots) {
    const unsigned seeds = env_unsigned("REVIEW_SEEDS", 2), iters = env_unsigned("REVIEW_ITERS", 30000);
    for (unsigned s = 1; s <= seeds; ++s) qstress<qtraits<futex_wait, 8>>(5, iters, s % 2 ? 64 : 0, 200 + s);
}
BOOST_AUTO_TEST_CASE(stress_spin_idle_slots) {
    const unsigned seeds = env_unsigned("REVIEW_SEEDS", 2), iters = env_unsigned("REVIEW_ITERS", 30000);
    for (unsigned s = 1; s <= seeds; ++s) qstress<qtraits<spin_yield_wait, 8>>(5, iters, s % 2 ? 64 : 0, 300 + s);
}

// 2a. The flusher takes an idle chunk writer over and is held right after its CAS, before it
// pads the writer's open tail. Meanwhile the owner unregisters (relaxed exchange: "taken"),
// another thread registers into the same slot, comes online (no FLUSHING yet) and parks. Then
// the flusher pads and flushes. TSan: no race; the trace: whole chunks, the new thread's record
// after the flush.
namespace {
struct gate_after_take {
    // Blocks the first seq_cst-ish 64-bit load after an armed 64-bit CAS (the scan's next slot).
    static inline std::atomic<int> state{0}; // 0 off, 1 armed, 2 saw CAS, 3 blocked
    static inline std::atomic<bool> open{false};
    static void fn(op o, int bits, const void*) {
        if (bits != 64) return;
        int s = state.load();
        if (s == 1 && o == op::cas) {
            state.compare_exchange_strong(s, 2);
        } else if (s == 2 && o == op::load) {
            if (state.compare_exchange_strong(s, 3)) {
                const auto deadline = std::chrono::steady_clock::now() + 20s;
                while (!open.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
            }
        }
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(take_over_then_unregister_then_reregister_same_slot) {
    using T = qtraits<futex_wait, 2>;
    chaos = 0;
    using buffer = trace_buffer<T, log_sink>;
    shared_log log;
    std::vector<std::uint64_t> mem(4096 / 8);
    buffer buf(mem.data(), 4096, log_sink{&log});
    std::atomic<int> a_phase{0};
    std::atomic<bool> a_go{false};
    std::thread a([&] {
        chunk_writer<buffer> w(buf, 256, 7, 1);
        w.register_thread();
        for (std::uint32_t i = 0; i < 3; ++i) write_rec(w.reserve(40), 40, 1, i);
        w.idle(); // tail of the chunk left open
        a_phase = 1;
        while (!a_go.load()) std::this_thread::sleep_for(1ms);
        TB_CHECK((w.unregister_thread() == errc::ok)); // reclaim fails (taken), exchange sees taken
        a_phase = 2;
    });
    BOOST_REQUIRE(eventually([&] { return a_phase.load() == 1; }));
    std::thread f([&] {
        record_writer<buffer> w(buf);
        w.register_thread();
        while (buf.arena().position() < 4096 - 64) write_rec(w.reserve(64), 64, 2, 0);
        gate_after_take::state = 1;
        hook = &gate_after_take::fn;
        unsigned char* at = w.reserve(512); // crosses: waits, takes A over, held after the CAS
        if (at) write_rec(at, 512, 2, 1);
        w.unregister_thread();
    });
    BOOST_REQUIRE(eventually([&] { return gate_after_take::state.load() == 3; }));
    a_go = true;
    BOOST_REQUIRE(eventually([&] { return a_phase.load() == 2; }));
    a.join();
    std::atomic<bool> c_done{false};
    std::thread c([&] { // the same slot, while the flusher still holds A's range
        chunk_writer<buffer> w(buf, 256, 7, 3);
        TB_CHECK((w.register_thread() == errc::ok));
        TB_CHECK((w.write_record(9, "xyz", 3) == errc::ok)); // parks behind F's claim
        TB_CHECK((w.unregister_thread() == errc::ok));
        c_done = true;
    });
    std::this_thread::sleep_for(50ms);
    gate_after_take::open = true;
    BOOST_TEST(eventually([&] { return c_done.load(); }));
    c.join();
    f.join();
    hook = nullptr;
    BOOST_TEST((buf.drain() == errc::ok));
    BOOST_TEST(scan_records(log.bytes.data(), log.bytes.size(), 1024).ok());
    TB_NO_THREAD_FAILURES();
}

// 2b. The project's stress harness in chunk mode with idle slots (idle, busy, offline and
// unregister straight from idle, threads exiting and new ones taking the freed slots), on
// the hooked atomics with chaos yields at 64-bit operations (the slot words).
namespace {
struct chunk_idle_traits : traits_base {
    using atomics = hooked_atomics;
    using wait = futex_wait;
    static constexpr std::uint32_t idle_slots = 64;
    static constexpr std::size_t max_reservation = 8192; // with stress_config::batches off
};
struct chunk_idle_spin_traits : chunk_idle_traits {
    using wait = spin_yield_wait;
};
} // namespace

template <class T>
void chunk_stress(unsigned seed, unsigned chaos_level, std::size_t capacity) {
    hook = nullptr;
    chaos = chaos_level;
    tracebuf_test::stress_config c;
    c.capacity = capacity;
    c.lanes = 6;
    c.total_records = env_unsigned("REVIEW_CHUNK_RECORDS", 60000);
    c.records_per_thread = 1500;
    c.chunk_bytes = 512;
    c.batches = false;
    c.seed = seed;
    auto* run = new tracebuf_test::stress_run<T>(c);
    std::atomic<bool> done{false};
    tracebuf_test::stress_result res;
    std::thread t([&] {
        res = run->run();
        done = true;
    });
    if (!eventually([&] { return done.load(); }, 180000ms)) {
        t.detach();
        chaos = 0;
        BOOST_FAIL("chunk stress deadlocked (seed " << seed << ")");
        return;
    }
    t.join();
    chaos = 0;
    BOOST_TEST(res.errors == 0u, res.first_error);
    BOOST_TEST(run->checked().failures() == 0u, run->checked().first_failure());
    BOOST_TEST(run->checked().records() == res.records_written);
    BOOST_TEST_MESSAGE("seed " << seed << ": records " << res.records_written << ", flushes "
                               << run->checked().flushes() << ", chunks " << run->checked().chunks());
    delete run;
}

BOOST_AUTO_TEST_CASE(chunk_idle_stress) {
    const unsigned seeds = env_unsigned("REVIEW_SEEDS", 2);
    for (unsigned s = 1; s <= seeds; ++s) {
        chunk_stress<chunk_idle_traits>(s, s % 2 ? 32 : 0, 8192);
        chunk_stress<chunk_idle_spin_traits>(50 + s, s % 2 ? 0 : 32, 8192);
    }
}
