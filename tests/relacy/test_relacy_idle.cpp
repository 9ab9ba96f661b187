// Relacy: idle producers taken over by a waiting flusher, racing the owner's busy(),
// reclaim_idle(), go_offline() and unregister_thread().
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

// Three idle slots, 32-byte buffer, 16-byte records.
using idle_traits = traits<3, 32>;
using idle_world = world<idle_traits, 32, buffering::single, 3>;

// Thread 0 writes enough to flush twice. Threads 1 and 2 spend most of their time idle, which
// a flush cannot wait out: it must take them over (or be woken by their idle() when it is
// already waiting, the Dekker pair of I9). Each take-over races the owner coming back:
//   thread 1: busy, reclaim_idle, go_offline (from online, or from idle and taken)
//   thread 2: busy, go_offline straight from idle, unregister_thread from idle.
// A taken-over thread's records written before idle() must be visible to the flush (the
// release in idle(), acquired by the take-over CAS), and one RMW on the slot decides whether
// the owner or the flusher counts it out.
struct idle_takeover : rl::test_suite<idle_takeover, 3> {
    idle_world w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        switch (t) {
        case 0:
            for (int i = 0; i < 4; ++i) w.put(r, t, 16);
            break;
        case 1:
            w.put(r, t, 16);
            w.idle(r, t);
            w.busy(r, t);
            w.put(r, t, 16);
            w.idle(r, t);
            if (w.reclaim(r, t)) w.put(r, t, 16); // still counted: may write without busy()
            w.offline(r, t);
            w.online(r, t);
            break;
        case 2:
            w.put(r, t, 16);
            w.idle(r, t);
            w.offline(r, t);
            w.online(r, t);
            w.put(r, t, 16);
            w.idle(r, t);
            break;
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

// A host that stops its idle threads until the flusher's thread has made progress (QEMU: an
// idle vCPU thread blocked on a lock that the flushing thread holds through its callback).
// Threads 1 and 2 write one record each - together they fill the buffer - go idle and stop
// until thread 0 says it is done; thread 0's first claim crosses, so its flush can only
// proceed by taking both over. Nothing else ever wakes the flusher: a take-over missed by the
// Dekker pair (I9), or a nudge that does not wake it, leaves every thread asleep, which
// Relacy reports as a deadlock.
struct idle_host_stopped : rl::test_suite<idle_host_stopped, 3> {
    idle_world w;
    // The host's lock. Relaxed on purpose: a real lock would add a happens-before edge from
    // thread 0 to the stopped threads that could hide a missing one in tracebuf.
    atomic_word<std::uint32_t> host_go{0};
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        if (t == 0) {
            for (int i = 0; i < 2; ++i) w.put(r, t, 16);
            host_go.store(1, rl::mo_relaxed);
            relacy_futex::notify_all(host_go);
            w.put(r, t, 16);
        } else {
            w.put(r, t, 16);
            w.idle(r, t);
            while (host_go.load(rl::mo_relaxed) == 0) relacy_futex::wait(host_go, 0);
            w.busy(r, t);
            w.put(r, t, 16);
            if (t == 2) w.idle(r, t); // unregister from idle
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

// The smallest form, for the context-bound scheduler: a flusher against one thread that
// writes, goes idle, and comes back busy to write again.
struct idle_takeover_small : rl::test_suite<idle_takeover_small, 2> {
    world<idle_traits, 32, buffering::single, 2> w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        if (t == 0) {
            for (int i = 0; i < 2; ++i) w.put(r, t, 16);
        } else {
            w.put(r, t, 16);
            w.idle(r, t);
            w.busy(r, t);
            w.put(r, t, 16);
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv,
                     {random_case<idle_takeover>("idle_takeover", 400000),
                      random_case<idle_host_stopped>("idle_host_stopped", 400000),
                      bounded_case<idle_takeover_small>("idle_takeover_small", 3)});
}
