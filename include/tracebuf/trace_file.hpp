// tracebuf/trace_file.hpp - creates a trace file (or a file derived from one) for writing,
// readable by its owner only, never through a symbolic link.
//
// A trace holds every value the traced program loaded and stored: its passwords, keys and
// whatever else passed through its memory. So:
//   - a new file is created with mode 0600 (the umask may narrow it further); an existing
//     regular file that is being truncated has its group and other bits cleared, since open(2)
//     keeps the mode of a file it truncates - and if that is not allowed (someone else's
//     file), it is refused;
//   - a symbolic link at the final path component is refused (O_NOFOLLOW): a trace path in a
//     shared directory such as /tmp must not let another user point it at one of the tracing
//     user's files, which the tracer would then truncate;
//   - the descriptor is close-on-exec, so the traced program's children never inherit it.
// Devices and pipes (/dev/null, /dev/full, a FIFO) are opened as they are.
//
//     const int fd = tracebuf::create_trace_file(path);
//     if (fd < 0) fprintf(stderr, "%s: %s\n", path, tracebuf::trace_file_error(errno));
//
// Needs open(2) (libc): not freestanding. A Valgrind tool opens its file with VG_(open)
// and the same flags.
#ifndef TRACEBUF_TRACE_FILE_HPP
#define TRACEBUF_TRACE_FILE_HPP

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tracebuf {

/// The mode a trace file is created with (before the umask).
inline constexpr mode_t trace_file_mode = 0600;

/// Opens `path` for writing as O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
/// `extra_flags` (O_DIRECT, say) with mode 0600, as above; O_RDWR in `extra_flags` opens it
/// for reading too (a file window maps it: file_window.hpp). Returns the descriptor, or -1
/// with errno set: ELOOP for a symbolic link, EPERM for an existing file whose access for
/// other users cannot be taken away.
inline int create_trace_file(const char* path, int extra_flags = 0) noexcept {
    const int access = (extra_flags & O_ACCMODE) == O_RDWR ? O_RDWR : O_WRONLY;
    const int fd = ::open(path, access | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | (extra_flags & ~O_ACCMODE),
                          trace_file_mode);
    if (fd < 0) return -1;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 && ::fchmod(fd, st.st_mode & 0700) != 0) {
        ::close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/// A message for create_trace_file's errno: says why a symbolic link was refused.
inline const char* trace_file_error(int error) noexcept {
    if (error == ELOOP) return "is a symbolic link: refused (a trace is never written through a link)";
    if (error == EPERM)
        return "cannot be made private to its owner (a trace holds every value the program loaded and stored)";
    return std::strerror(error);
}

} // namespace tracebuf

#endif // TRACEBUF_TRACE_FILE_HPP
