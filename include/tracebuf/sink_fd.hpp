// tracebuf/sink_fd.hpp - a sink that writes to a file descriptor.
//
// The sink contract: policies.hpp.
//
// Writes everything: a short write continues where it stopped, EINTR retries. Any other
// error is returned to the flush barrier, which keeps the first one (trace_buffer::
// sink_error(), and flush()/drain() return errc::sink_failed): errors are reported, never
// swallowed. The descriptor is not owned (not closed).
//
// Needs write(2) (libc): not freestanding. A Valgrind tool uses sink_callback.hpp with
// VG_(write) instead.
#ifndef TRACEBUF_SINK_FD_HPP
#define TRACEBUF_SINK_FD_HPP

#include <cerrno>
#include <cstddef>

#include <sys/types.h>
#include <unistd.h>

namespace tracebuf {

class fd_sink {
public:
    /// The system call, replaceable so that tests can inject short writes and errors.
    using write_function = ssize_t (*)(int fd, const void* data, std::size_t size);

    explicit fd_sink(int fd, write_function write_fn = &::write) noexcept
        : fd_(fd), write_fn_(write_fn) {}

    int write(const void* data, std::size_t size) noexcept {
        const char* p = static_cast<const char*>(data);
        while (size != 0) {
            const ssize_t n = write_fn_(fd_, p, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno != 0 ? errno : EIO;
            }
            if (n == 0) return EIO; // no progress and no error: give up rather than spin
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return 0;
    }

    int fd() const noexcept { return fd_; }

private:
    int fd_;
    write_function write_fn_;
};

} // namespace tracebuf

#endif // TRACEBUF_SINK_FD_HPP
