// tracebuf/record_writer.hpp - record mode behind the writer shape.
//
// The writer shape, and the other writers: writer.hpp. One shared reservation per record
// or batch - the finest global order, one contended fetch_add each; `stamp` is ignored.
//
// The writers sit on top of trace_buffer and producer, which stay the low-level layer: a
// JIT host that emits the fast path itself (trace_buffer::layout, reserve_slow) keeps a
// producer per thread and calls trace_buffer directly.
//
// Freestanding (with a freestanding Buffer).
#ifndef TRACEBUF_RECORD_WRITER_HPP
#define TRACEBUF_RECORD_WRITER_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/producer.hpp>
#include <tracebuf/writer.hpp>

namespace tracebuf {

template <class Buffer>
class record_writer {
public:
    using buffer_type = Buffer;

    explicit record_writer(Buffer& buffer) noexcept : buffer_(buffer) {}
    record_writer(const record_writer&) = delete;
    record_writer& operator=(const record_writer&) = delete;

    errc status() const noexcept { return buffer_.status(); }

    errc register_thread() noexcept {
        if (const errc e = status(); e != errc::ok) return producer_.refuse(e);
        return buffer_.register_thread(producer_);
    }
    errc unregister_thread() noexcept { return buffer_.unregister_thread(producer_); }
    errc go_offline() noexcept { return buffer_.go_offline(producer_); }
    errc go_online() noexcept { return buffer_.go_online(producer_); }
    errc idle() noexcept { return buffer_.idle(producer_); }
    errc busy() noexcept { return buffer_.busy(producer_); }

    TRACEBUF_FORCEINLINE unsigned char* reserve(std::size_t n, stamp = stamp::ordered) noexcept {
        return buffer_.reserve(producer_, n);
    }
    TRACEBUF_FORCEINLINE void* reserve_record(std::uint16_t tag, std::size_t payload_size,
                                              stamp = stamp::ordered) noexcept {
        return buffer_.reserve_record(producer_, tag, payload_size);
    }
    errc write_record(std::uint16_t tag, const void* payload, std::size_t payload_size,
                      stamp = stamp::ordered) noexcept {
        return buffer_.write_record(producer_, tag, payload, payload_size);
    }
    errc flush() noexcept { return buffer_.flush(producer_); }

    const tracebuf::producer& producer() const noexcept { return producer_; }
    errc last_error() const noexcept { return producer_.last_error(); }

private:
    Buffer& buffer_;
    tracebuf::producer producer_;
};

} // namespace tracebuf

#endif // TRACEBUF_RECORD_WRITER_HPP
