// Relacy: the position handoff, chained when the parked claims exceed the buffer.
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

using handoff_traits = traits<0, 32>;

// 32-byte buffer; claims of 16, 24 and 32 bytes. Whoever crosses the end flushes; the claims
// behind it park, and after the move-down the parked claim that now straddles the end leads
// the next flush while those behind it park again. Each thread's records must arrive in its
// order, once, at the positions the handoff gave them (a wrong position overlaps another
// record: a race on the shadow, or a record whose content is not its own).
struct chained_handoff : rl::test_suite<chained_handoff, 3> {
    world<handoff_traits, 32, buffering::single, 3> w;
    void thread(unsigned t) {
        static constexpr std::size_t sizes[3][2] = {{32, 16}, {24, 24}, {16, 32}};
        auto& r = w.records(t);
        w.reg(r, t);
        for (std::size_t bytes : sizes[t]) w.put(r, t, bytes);
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

// The same with a flush request among the parked claims: a request (capacity + 1 bytes) that
// parks behind a crossing claim is moved down like any claim and leads a later flush.
struct handoff_with_flush_request : rl::test_suite<handoff_with_flush_request, 3> {
    world<handoff_traits, 32, buffering::single, 3> w;
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        switch (t) {
        case 0:
            w.put(r, t, 24);
            w.put(r, t, 24);
            break;
        case 1:
            w.put(r, t, 16);
            w.flush(r, t);
            w.put(r, t, 32);
            break;
        case 2:
            w.put(r, t, 32);
            w.put(r, t, 16);
            break;
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv,
                     {random_case<chained_handoff>("chained_handoff", 400000),
                      random_case<handoff_with_flush_request>("handoff_with_flush_request", 400000)});
}
