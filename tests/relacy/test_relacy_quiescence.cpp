// Relacy: threads coming online (register_thread, go_online) while a flush starts, and flush
// requests racing a crossing claim.
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

// 32-byte buffer, 16-byte records: the third record of an epoch crosses the end.
using small_traits = traits<0, 32>;
using small_world = world<small_traits, 32, buffering::single, 3>;

// Thread 0 fills the buffer twice over (two crossing claims, so two flushes it or another
// thread may lead); thread 1 returns from a "syscall" (go_online) and thread 2 registers
// while those flushes may be starting, running or ending: each must either be counted before
// the flusher's CAS (and then delay it) or see FLUSHING and step back until the epoch changes.
struct online_vs_flush_start : rl::test_suite<online_vs_flush_start, 3> {
    small_world w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        switch (t) {
        case 0:
            w.reg(r, t);
            for (int i = 0; i < 4; ++i) w.put(r, t, 16);
            w.unreg(r, t);
            break;
        case 1:
            w.reg(r, t);
            w.put(r, t, 16);
            w.offline(r, t);
            w.online(r, t);
            w.put(r, t, 16);
            w.unreg(r, t);
            break;
        case 2:
            w.reg(r, t);
            w.put(r, t, 16);
            w.unreg(r, t);
            break;
        }
    }
    void after() { w.finish(); }
};

// The same race in its smallest form, for the exhaustive schedulers: one thread crosses and
// flushes, the other goes offline and online around it.
struct online_vs_flush_start_small : rl::test_suite<online_vs_flush_start_small, 2> {
    world<small_traits, 32, buffering::single, 2> w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        if (t == 0) {
            w.reg(r, t);
            for (int i = 0; i < 3; ++i) w.put(r, t, 16);
            w.unreg(r, t);
        } else {
            w.reg(r, t);
            w.offline(r, t);
            w.online(r, t);
            w.put(r, t, 16);
            w.unreg(r, t);
        }
    }
    void after() { w.finish(); }
};

// Explicit flushes (a claim of capacity + 1, which never fits) racing ordinary claims that
// cross the end, and each other. Whichever crosses first leads; a parked flush request leads
// a later flush. On return from flush() the caller's earlier records are in the sink (checked
// by world::flush, through a load the sink's stores must happen before).
struct flush_vs_crossing : rl::test_suite<flush_vs_crossing, 3> {
    small_world w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        switch (t) {
        case 0:
            w.put(r, t, 16);
            w.flush(r, t);
            w.put(r, t, 16);
            break;
        case 1:
            for (int i = 0; i < 3; ++i) w.put(r, t, 16);
            break;
        case 2:
            w.put(r, t, 16);
            w.flush(r, t);
            break;
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

// The quiescence counter alone, small enough for the full search: a flusher's ownership
// (await_quiescence .. release) against a thread that is online, goes offline and comes back.
// `data` stands for the buffer: the online thread and the owning flusher both write it, so
// Relacy reports a race unless every such pair is ordered (I2), and the sum says each write
// happened once.
struct counter_ownership : rl::test_suite<counter_ownership, 2> {
    tracebuf::quiescence_counter<small_traits> q;
    tracebuf::producer p[2];
    rl::var<int> data;
    counter_ownership() { data(TRACEBUF_RL_HERE).store(0); }
    void thread(unsigned t) {
        TRACEBUF_RL_EXPECT(q.register_thread(p[t]) == tracebuf::errc::ok, "register_thread failed");
        if (t == 0) {
            q.await_quiescence();
            data(TRACEBUF_RL_HERE).store(data(TRACEBUF_RL_HERE).load() + 1);
            q.release(q.take_parked() + 1);
        } else {
            data(TRACEBUF_RL_HERE).store(data(TRACEBUF_RL_HERE).load() + 10);
            TRACEBUF_RL_EXPECT(q.go_offline(p[t]) == tracebuf::errc::ok, "go_offline failed");
            TRACEBUF_RL_EXPECT(q.go_online(p[t]) == tracebuf::errc::ok, "go_online failed");
            data(TRACEBUF_RL_HERE).store(data(TRACEBUF_RL_HERE).load() + 100);
        }
        TRACEBUF_RL_EXPECT(q.unregister_thread(p[t]) == tracebuf::errc::ok, "unregister_thread failed");
    }
    void after() {
        TRACEBUF_RL_EXPECT(data(TRACEBUF_RL_HERE).load() == 111, "a write was lost");
        TRACEBUF_RL_EXPECT(q.online_count() == 0 && !q.flushing() && q.epoch() == 1,
                           "the counter is not back at rest after one flush");
    }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv,
                     {random_case<online_vs_flush_start>("online_vs_flush_start", 400000),
                      bounded_case<online_vs_flush_start_small>("online_vs_flush_start_small", 3),
                      random_case<flush_vs_crossing>("flush_vs_crossing", 400000),
                      full_case<counter_ownership>("counter_ownership")});
}
