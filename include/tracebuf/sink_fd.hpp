// tracebuf/sink_fd.hpp - a sink that writes to a file descriptor.
//
// The sink contract: policies.hpp.
//
// Writes everything: a short write continues where it stopped, EINTR retries. Any other
// error is returned to the flush barrier, which keeps the first one (trace_buffer::
// sink_error(), and flush()/drain() return errc::sink_failed): errors are reported, never
// swallowed. The descriptor is not owned (not closed).
//
// The first error stops the sink. A trace must not have a gap: past a record cut short, a
// reader cannot find the next one, and a flush left out would go unnoticed. So:
//   - if part of the failed write (one flush) reached a regular file, the sink cuts the file
//     back to where that write began: the file then ends where a flush ended, on whole
//     records, and reads valid (reader.hpp) - the trace up to the error;
//   - every later write returns the same error at once and writes nothing (the barrier goes
//     on flushing, so the producers go on running: a disk that fills up never stops the
//     traced program);
//   - bytes_lost() counts the bytes handed to the sink that are not in the file (the whole
//     failed flush and all later ones; where the file cannot be cut back - a pipe, a
//     device - only what was not written of the failed flush, and what follows),
//     bytes_written() those that are.
// The counters are written by the flusher (one at a time); read them when no flush runs -
// after drain(), say.
//
// Needs write(2) (libc): not freestanding. A Valgrind tool uses sink_callback.hpp with
// VG_(write) instead.
#ifndef TRACEBUF_SINK_FD_HPP
#define TRACEBUF_SINK_FD_HPP

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace tracebuf {

namespace detail {

using write_function = ssize_t (*)(int fd, const void* data, std::size_t size);

// Writes [data, data + size) across short writes and EINTR; `done` says how much went out.
// 0, or the errno of the write that failed (EIO for a write that made no progress).
inline int write_fully(write_function write_fn, int fd, const void* data, std::size_t size,
                       std::size_t& done) noexcept {
    const char* p = static_cast<const char*>(data);
    done = 0;
    while (done != size) {
        const ssize_t n = write_fn(fd, p + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno != 0 ? errno : EIO;
        }
        if (n == 0) return EIO; // no progress and no error: give up rather than spin
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

// Takes the last `bytes` written to the regular file `fd` back out of it; false if `fd` is
// not a regular file or either call fails.
inline bool cut_back(int fd, std::size_t bytes) noexcept {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    const off_t end = ::lseek(fd, 0, SEEK_CUR);
    if (end < 0 || static_cast<std::uint64_t>(end) < bytes) return false;
    const off_t start = end - static_cast<off_t>(bytes);
    return ::ftruncate(fd, start) == 0 && ::lseek(fd, start, SEEK_SET) == start;
}

} // namespace detail

class fd_sink {
public:
    /// The system call, replaceable so that tests can inject short writes and errors.
    using write_function = detail::write_function;

    explicit fd_sink(int fd, write_function write_fn = &::write) noexcept
        : fd_(fd), write_fn_(write_fn) {}

    int write(const void* data, std::size_t size) noexcept {
        if (error_ != 0) {
            lost_ += size;
            return error_;
        }
        std::size_t done = 0;
        error_ = detail::write_fully(write_fn_, fd_, data, size, done);
        if (error_ != 0 && done != 0 && detail::cut_back(fd_, done)) done = 0;
        written_ += done;
        lost_ += size - done;
        return error_;
    }

    int fd() const noexcept { return fd_; }
    /// The error that stopped the sink, or 0.
    int error() const noexcept { return error_; }
    /// Bytes handed to the sink that are in the file / that are not (see the top).
    std::uint64_t bytes_written() const noexcept { return written_; }
    std::uint64_t bytes_lost() const noexcept { return lost_; }

private:
    int fd_;
    write_function write_fn_;
    int error_ = 0;
    std::uint64_t written_ = 0;
    std::uint64_t lost_ = 0;
};

} // namespace tracebuf

#endif // TRACEBUF_SINK_FD_HPP
