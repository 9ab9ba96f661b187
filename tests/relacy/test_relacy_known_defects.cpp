// Relacy: a known open defect, kept out of the default test list (ctest -C known_defects).
//
// A JIT "stranger" claim: reserve_fast + reserve_slow by a producer that is not online,
// while a flush may own the buffer (docs/protocol.md, "A claim by a producer that is not
// online"). The host breaks its contract here; tracebuf promises only to limit the damage,
// and in particular not to leave every thread waiting.
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

using stranger_traits = traits<0, 32>;

// Thread 1 makes one 16-byte claim on the JIT path while it is offline, once thread 0 has
// filled the buffer; thread 0's next claim (32 bytes) crosses the end unless thread 1's came
// first, and its claim after that waits until thread 1 has claimed (two test flags, relaxed:
// they order nothing, they only bound where the claim can land, at 32 or beyond, so that it
// never fits). The claim races thread 0's flush: it may cross itself, park behind thread 0's
// crossing claim before or during the flush, or cross in the next space. reserve_slow must
// settle it under a temporary registration and refuse it with not_online, and both threads
// must finish. The claim's 16 bytes may read as a hole where the document says so (a flush
// began or ended between the claim and the slow path); nothing else may go wrong.
struct stranger_claim : rl::test_suite<stranger_claim, 2> {
    world<stranger_traits, 32, buffering::single, 2> w;
    atomic_word<std::uint32_t> buffer_full{0};
    atomic_word<std::uint32_t> claimed{0};
    stranger_claim() { w.tolerate_holes(16); }
    static void raise(atomic_word<std::uint32_t>& flag) {
        flag.store(1, rl::mo_relaxed);
        relacy_futex::notify_all(flag);
    }
    static void await(atomic_word<std::uint32_t>& flag) {
        while (flag.load(rl::mo_relaxed) == 0) relacy_futex::wait(flag, 0);
    }
    void thread(unsigned t) {
        auto& r = w.records(t);
        w.reg(r, t);
        if (t == 0) {
            w.put(r, t, 16);
            w.put(r, t, 16);
            raise(buffer_full);
            w.put(r, t, 32);
            await(claimed);
            w.put(r, t, 16);
        } else {
            w.offline(r, t);
            await(buffer_full);
            const std::uint64_t pos = w.buffer.reserve_fast(16);
            raise(claimed);
            TRACEBUF_RL_EXPECT(pos >= 32, "the test's flags did not hold the claim back");
            const std::uint64_t at = w.buffer.reserve_slow(r.p, pos, 16);
            TRACEBUF_RL_EXPECT(at == tracebuf::invalid_position && r.p.last_error() == tracebuf::errc::not_online,
                               "a stranger's claim was not refused");
            w.online(r, t);
        }
        w.unreg(r, t);
    }
    void after() { w.finish(); }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv, {random_case<stranger_claim>("stranger_claim", 200000)});
}
