// tracebuf/sink_memory.hpp - a sink that keeps every flush in memory (tests, small tools).
//
// The sink contract: policies.hpp. Keeps the bytes of all flushes back to back and the size
// of each flush, so a test can check that no record straddles two flushes. Allocates
// (std::vector): not freestanding. Out of memory is reported as ENOMEM.
#ifndef TRACEBUF_SINK_MEMORY_HPP
#define TRACEBUF_SINK_MEMORY_HPP

#include <cerrno>
#include <cstddef>
#include <new>
#include <vector>

namespace tracebuf {

class memory_sink {
public:
    int write(const void* data, std::size_t size) noexcept {
        try {
            const unsigned char* p = static_cast<const unsigned char*>(data);
            bytes_.insert(bytes_.end(), p, p + size);
            flush_sizes_.push_back(size);
        } catch (const std::bad_alloc&) {
            return ENOMEM;
        }
        return 0;
    }

    const std::vector<unsigned char>& bytes() const noexcept { return bytes_; }
    const std::vector<std::size_t>& flush_sizes() const noexcept { return flush_sizes_; }

private:
    std::vector<unsigned char> bytes_;
    std::vector<std::size_t> flush_sizes_;
};

} // namespace tracebuf

#endif // TRACEBUF_SINK_MEMORY_HPP
