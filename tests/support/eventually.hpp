// Bounded waiting for a condition another thread makes true: a test fails instead of
// hanging if it never does.
#ifndef TRACEBUF_TESTS_EVENTUALLY_HPP
#define TRACEBUF_TESTS_EVENTUALLY_HPP

#include <chrono>
#include <thread>

namespace tracebuf_test {

template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace tracebuf_test

#endif
