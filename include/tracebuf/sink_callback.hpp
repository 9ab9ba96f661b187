// tracebuf/sink_callback.hpp - a sink that calls a host function.
//
// The sink contract: policies.hpp. The callback gets the flushed bytes and returns 0 or a
// positive error code; it runs on the flusher's thread while every other producer is
// offline or parked, never concurrently with itself. A Valgrind tool passes a function that
// calls VG_(write); a test passes a verifier. Freestanding.
#ifndef TRACEBUF_SINK_CALLBACK_HPP
#define TRACEBUF_SINK_CALLBACK_HPP

#include <cstddef>

namespace tracebuf {

class callback_sink {
public:
    using function = int (*)(void* context, const void* data, std::size_t size);

    constexpr callback_sink(function fn, void* context) noexcept : fn_(fn), context_(context) {}

    int write(const void* data, std::size_t size) noexcept { return fn_(context_, data, size); }

private:
    function fn_;
    void* context_;
};

} // namespace tracebuf

#endif // TRACEBUF_SINK_CALLBACK_HPP
