// Relacy: double buffering - the write-out after the release, back-pressure, and the drain.
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

using double_traits = traits<0, 32>;

// Two 32-byte buffers, 16-byte records, three threads writing enough for several flushes.
// The flusher swaps the buffers, releases the parked threads and writes the full buffer out
// while they fill the other one (the sink has a scheduling point per record, so they run
// during it); the next flush must not swap back before that write-out is done (I11): it waits
// for quiescence, which the writing-out flusher delays, and then for W. A producer writing
// into a buffer that is being written out races with the sink on the shadow, and an early
// reuse of the buffer races with the sink's clearing of it. A flush request and an offline
// period add their own orders; the drain at the end must find W clear.
struct double_buffer : rl::test_suite<double_buffer, 3> {
    world<double_traits, 32, buffering::double_buffer, 3> w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        switch (t) {
        case 0:
            for (int i = 0; i < 4; ++i) w.put(r, t, 16);
            break;
        case 1:
            w.put(r, t, 16);
            w.flush(r, t);
            w.put(r, t, 16);
            break;
        case 2:
            w.put(r, t, 16);
            w.put(r, t, 16);
            w.offline(r, t);
            w.online(r, t);
            w.put(r, t, 16);
            break;
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

// Back-pressure in its plainest form: two threads that only write, so that one's crossing
// claim keeps meeting the other's write-out.
struct double_buffer_back_pressure : rl::test_suite<double_buffer_back_pressure, 2> {
    world<double_traits, 32, buffering::double_buffer, 2> w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        for (int i = 0; i < 4; ++i) w.put(r, t, 16);
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv,
                     {random_case<double_buffer>("double_buffer", 400000),
                      random_case<double_buffer_back_pressure>("double_buffer_back_pressure", 400000)});
}
