// Arena memory for tests: 8-byte aligned, zero-filled, owned by the test.
#ifndef TRACEBUF_TESTS_TEST_MEMORY_HPP
#define TRACEBUF_TESTS_TEST_MEMORY_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tracebuf_test {

struct memory {
    explicit memory(std::size_t bytes) : words((bytes + 7) / 8, 0) {}
    void* data() { return words.data(); }
    std::size_t size() const { return words.size() * 8; }
    std::vector<std::uint64_t> words;
};

} // namespace tracebuf_test

#endif
