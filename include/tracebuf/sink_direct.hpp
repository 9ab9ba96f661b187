// tracebuf/sink_direct.hpp - a sink for a file opened with O_DIRECT, past the page cache.
//
// A tracer writes gigabytes once and rarely reads them back soon. Through the page cache
// every byte is first copied into a fresh page, and with one ordered trace file the flushes
// are written one at a time, so one thread pays for all of it; on a VM whose fresh pages are
// expensive, that copy can cost more than the tracing. With O_DIRECT the device reads the
// buffer itself while the writing thread sleeps.
//
// O_DIRECT accepts only whole blocks, from block-aligned memory, at block-aligned file
// offsets. This sink writes each flush's whole blocks in place, and its tail (less than a
// block) from a staging block completed with padding records. The file stays a valid trace,
// with under one block of padding after each flush, and every write keeps the offset
// aligned. Memory that is not block-aligned goes through the staging block a block at a
// time: correct, slower - give the trace buffer page-aligned memory (double buffering keeps
// both halves aligned when the size is a multiple of the block).
//
// The sink contract: policies.hpp; error reporting, and the stop at the first error:
// sink_fd.hpp (a short write that leaves the rest unaligned fails with the kernel's EINVAL,
// reported like any error). The descriptor is not owned. Needs write(2): not freestanding.
#ifndef TRACEBUF_SINK_DIRECT_HPP
#define TRACEBUF_SINK_DIRECT_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/record.hpp>
#include <tracebuf/sink_fd.hpp>

namespace tracebuf {

class direct_fd_sink {
public:
    /// Alignment and granularity of every write: 4 KiB covers 512- and 4096-byte blocks.
    static constexpr std::size_t block_size = 4096;

    /// `max_record_size`: the trace's (Traits::max_record_size), so that readers accept the
    /// padding records this sink adds.
    explicit direct_fd_sink(int fd, std::size_t max_record_size = 4096,
                            fd_sink::write_function write_fn = &::write) noexcept
        : fd_(fd), write_fn_(write_fn), max_record_size_(max_record_size) {}

    /// `size` is a multiple of 8 (whole records). Stops at the first error, as fd_sink does:
    /// the file is cut back to where this flush began (a block boundary), and the counters
    /// count the flush's own bytes (not the padding this sink adds).
    int write(const void* data, std::size_t size) noexcept {
        if (error_ != 0) {
            lost_ += size;
            return error_;
        }
        const unsigned char* p = static_cast<const unsigned char*>(data);
        std::size_t sent = 0, taken = 0; // file bytes written by this call; input bytes in them
        std::size_t done = 0;
        if (reinterpret_cast<std::uintptr_t>(p) % block_size == 0) {
            const std::size_t whole = size - size % block_size;
            if (whole != 0) {
                error_ = detail::write_fully(write_fn_, fd_, p, whole, done);
                sent += done;
                if (error_ != 0) return fail(size, sent, done);
                taken = whole;
            }
        }
        while (taken != size) {
            const std::size_t n = size - taken < block_size ? size - taken : block_size;
            __builtin_memcpy(staging_, p + taken, n);
            if (n < block_size) write_padding(staging_ + n, block_size - n, max_record_size_);
            error_ = detail::write_fully(write_fn_, fd_, staging_, block_size, done);
            sent += done;
            if (error_ != 0) return fail(size, sent, taken);
            taken += n;
        }
        written_ += size;
        return 0;
    }

    int fd() const noexcept { return fd_; }
    /// As fd_sink's.
    int error() const noexcept { return error_; }
    std::uint64_t bytes_written() const noexcept { return written_; }
    std::uint64_t bytes_lost() const noexcept { return lost_; }

private:
    // The flush of `size` bytes failed after `sent` file bytes, holding `taken` whole input
    // bytes: cut them back out, or, where that is impossible, keep counting them written.
    int fail(std::size_t size, std::size_t sent, std::size_t taken) noexcept {
        if (sent != 0 && detail::cut_back(fd_, sent)) taken = 0;
        written_ += taken;
        lost_ += size - taken;
        return error_;
    }

    int fd_;
    fd_sink::write_function write_fn_;
    std::size_t max_record_size_;
    int error_ = 0;
    std::uint64_t written_ = 0;
    std::uint64_t lost_ = 0;
    alignas(block_size) unsigned char staging_[block_size];
};

} // namespace tracebuf

#endif // TRACEBUF_SINK_DIRECT_HPP
