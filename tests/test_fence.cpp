// The idle-fence policies alone (fence_symmetric.hpp, fence_membarrier.hpp), on the pattern
// the idle protocol relies on: store buffering. Thread A stores x and loads y; thread B
// stores y and loads x. Without a store-load barrier on both sides, both loads may read 0
// (each store still sits in its core's store buffer) - the outcome that would let a flusher
// sleep while a producer went idle unseen (docs/protocol.md, I9). membarrier_fence puts only
// a compiler barrier on A's side and pays on B's.
#define BOOST_TEST_MODULE fence
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include <tracebuf/fence_membarrier.hpp>
#include <tracebuf/fence_symmetric.hpp>
#include <tracebuf/detail/cpu_relax.hpp>

namespace {

// A's side as idle() runs it, B's side as the flusher runs it after setting WAITING.
struct with_membarrier {
    static void producer_side() noexcept { tracebuf::membarrier_fence::light(); }
    static void flusher_side() noexcept { tracebuf::membarrier_fence::heavy(); }
};
// The control: compiler barriers only, which the hardware may see through.
struct without_barrier {
    static void producer_side() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
    static void flusher_side() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
};

// Runs `rounds` store-buffering rounds and returns how many ended with both loads reading 0.
// Each round uses fresh locations, so nothing is reset, and the two threads start it
// together at a spin barrier (two threads for two cores: neither waits for a third).
template <class Barriers>
int both_loads_missed(int rounds) {
    const auto n = static_cast<std::size_t>(rounds);
    std::vector<std::atomic<int>> x(n), y(n);       // value-initialised: 0
    std::vector<int> producer_saw(n), flusher_saw(n);
    std::atomic<int> arrived{0};
    auto start_round = [&](int r) {
        arrived.fetch_add(1, std::memory_order_acq_rel);
        while (arrived.load(std::memory_order_acquire) < 2 * (r + 1)) tracebuf::detail::cpu_relax();
    };

    std::thread producer([&] {
        for (int r = 0; r < rounds; ++r) {
            const auto i = static_cast<std::size_t>(r);
            start_round(r);
            x[i].store(1, std::memory_order_relaxed);
            Barriers::producer_side();
            producer_saw[i] = y[i].load(std::memory_order_relaxed);
        }
    });
    std::thread flusher([&] {
        for (int r = 0; r < rounds; ++r) {
            const auto i = static_cast<std::size_t>(r);
            start_round(r);
            y[i].store(1, std::memory_order_relaxed);
            Barriers::flusher_side();
            flusher_saw[i] = x[i].load(std::memory_order_relaxed);
        }
    });
    producer.join();
    flusher.join();
    int missed = 0;
    for (std::size_t i = 0; i < n; ++i) missed += producer_saw[i] == 0 && flusher_saw[i] == 0;
    return missed;
}

static_assert(!tracebuf::symmetric_fence::asymmetric(), "the default asks for the seq_cst form");

} // namespace

BOOST_AUTO_TEST_CASE(membarrier_orders_a_plain_store_before_a_load) {
    if (!tracebuf::membarrier_fence::asymmetric()) {
        BOOST_TEST_MESSAGE("membarrier(PRIVATE_EXPEDITED) is not available: the protocol uses the "
                           "symmetric form, nothing to test here");
        return;
    }
    constexpr int rounds = 100000;
    const int missed = both_loads_missed<with_membarrier>(rounds);
    BOOST_TEST(missed == 0);
    // How strong the test is on this machine: the same rounds without the barriers.
    BOOST_TEST_MESSAGE("without barriers, both loads read 0 in "
                       << both_loads_missed<without_barrier>(rounds) << " of " << rounds
                       << " rounds; with membarrier_fence in " << missed);
}
