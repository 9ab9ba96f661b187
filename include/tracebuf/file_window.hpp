// tracebuf/file_window.hpp - a file-backed arena: the trace buffer is a window of the trace
// file, mapped MAP_SHARED, so that every record is in the file's page cache as soon as it is
// written and survives the death of the process (SIGKILL, a crash, a host that never runs
// its exit hook). It does not survive the death of the machine: the page cache is written
// back when the kernel chooses, unless file_window_options::sync_each_flush (fdatasync after
// every flush).
//
// A memory/sink pair for trace_buffer, no change to the protocol:
//
//   tracebuf::file_window win(fd, 16 << 20, tracebuf::buffering::single, Traits::max_record_size);
//   if (!win.mapped()) say(win.fallback_reason());       // a pipe, /dev/null, ...: write(2)
//   trace_buffer<Traits, tracebuf::file_window_sink> buf(win.memory(), win.bytes(), win.sink(),
//                                                        win.mode(), tracebuf::memory_contents::zeroed);
//   ... buf.drain(); win.close();                        // truncates to the end of valid data
//
// How a flush works: the flushed range [0, end) of a buffer is already in the file, so the
// sink's write() only advances the window - it pads the rest of the window's page (single
// buffering) or of the whole window (double buffering) with padding records, grows the file
// (fallocate, else ftruncate) and maps the next window in place (MAP_FIXED at the same
// address: the buffer's address never changes, so jit_layout stays valid). No byte is copied.
//   - Single buffering: the next window starts at the page after `end`; the remap runs at
//     the barrier, as write(2) did, but costs a system call instead of a copy.
//   - Double buffering: buffer k's window is at a fixed place, one window after the other
//     buffer's; write() runs in the write-out, after the parked threads were released, and
//     maps (MAP_POPULATE) the full buffer's next window while the others fill the current
//     one. The wasted space per flush is the unused tail of a window (less than one
//     reservation after a full buffer; more after an explicit flush).
// The flush barrier does not zero the flushed range afterwards (leaves_zeroed()): the fresh
// window is zero already, as fresh file space is.
//
// If the descriptor cannot be mapped (not a regular file, a file system that refuses
// MAP_SHARED or fallocate/ftruncate, no space) the window falls back to anonymous memory
// and ordinary write(2)s (fd_sink), and fallback_reason() says why. If advancing fails
// during the trace (no space left), the trace goes on the same way from where the file is
// valid, and the sink reports the error once (the flush barrier's sink_error).
//
// After a crash the file holds every flushed window (whole: a flush reads a buffer only at
// quiescence), then the window current at the death: its whole records, perhaps records
// being written (holes: see docs/reading-traces.md), and zeros up to the window's end (with
// double buffering, one more window of zeros). tracebuf-dump reads it, and --recover cuts
// the zero tail.
//
// Hosted (mmap, fallocate): not part of the freestanding core. Single-flusher like every
// sink: write() runs in one flusher at a time (policies.hpp); close() once no producer runs.
#ifndef TRACEBUF_FILE_WINDOW_HPP
#define TRACEBUF_FILE_WINDOW_HPP

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <tracebuf/arena.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/sink_fd.hpp>

namespace tracebuf {

/// The largest window: below 4 GiB, so that the skip record of an in-place rewrite
/// (tags::skip, a u32 distance) can jump over a whole window. Larger buffers are cut to it.
inline constexpr std::uint64_t file_window_max_bytes = 0xffffffffu;

struct file_window_options {
    /// fdatasync after every flush (and at close): the flushed windows survive a crash of the
    /// machine too. Costs a disk write per flush.
    bool sync_each_flush = false;
    /// Double buffering: populate the next window's pages writable when it is mapped (in
    /// the write-out, off the producers' path: MADV_POPULATE_WRITE, else MAP_POPULATE), so
    /// that the producers do not take the page faults.
    bool populate = true;
};

class file_window;

/// The sink half of a file_window (the Sink parameter of trace_buffer). Copyable; refers to
/// its window, which must outlive the trace buffer.
class file_window_sink {
public:
    explicit file_window_sink(file_window& w) noexcept : window_(&w) {}
    inline int write(const void* data, std::size_t size) noexcept;
    /// True while the window is mapped: the barrier then skips zeroing the flushed range
    /// (write() replaced it by fresh file space, or by fresh anonymous memory after a
    /// failure). See policies.hpp.
    inline bool leaves_zeroed() const noexcept;

private:
    file_window* window_;
};

class file_window {
public:
    /// A window over `fd` (opened for reading and writing), starting at the file's current
    /// size (rounded up to a page with padding records; a size that is not a multiple of 8
    /// cannot be continued, and falls back). `bytes`: the trace buffer's memory, split in two
    /// windows with buffering::double_buffer; each is cut to file_window_max_bytes and
    /// rounded down to whole pages (bytes() says what is used).
    /// `max_record_size`: the trace's (Traits::max_record_size), for the padding records.
    /// The descriptor is not owned.
    file_window(int fd, std::size_t bytes, buffering mode, std::size_t max_record_size = 4096,
                file_window_options options = {}) noexcept
        : fd_(fd), mode_(mode), options_(options), max_record_size_(max_record_size),
          out_(fd) {
        const long page = ::sysconf(_SC_PAGESIZE);
        page_ = page > 0 ? static_cast<std::size_t>(page) : 4096;
        const std::size_t buffers = mode == buffering::double_buffer ? 2 : 1;
        std::size_t per_buffer = bytes / buffers;
        if (per_buffer > file_window_max_bytes) per_buffer = static_cast<std::size_t>(file_window_max_bytes);
        window_bytes_ = per_buffer / page_ * page_;
        total_ = window_bytes_ * buffers;
        if (window_bytes_ == 0) {
            error_ = EINVAL;
            return;
        }
        if (const char* why = map_file()) {
            fallback_reason_ = why;
            map_anonymous();
        }
    }
    file_window(const file_window&) = delete;
    file_window& operator=(const file_window&) = delete;
    ~file_window() {
        if (base_ != nullptr) ::munmap(base_, total_);
    }

    /// The trace buffer's memory (zeroed) and its size; nullptr if none could be had.
    void* memory() const noexcept { return base_; }
    std::size_t bytes() const noexcept { return total_; }
    buffering mode() const noexcept { return mode_; }
    file_window_sink sink() noexcept { return file_window_sink(*this); }

    /// True while records go straight into the file; false after a fallback.
    bool mapped() const noexcept { return mapped_; }
    /// Why the window fell back to write(2) (at construction or later), or nullptr.
    const char* fallback_reason() const noexcept { return fallback_reason_; }
    /// 0, or the error that left no memory at all (then memory() is nullptr).
    int error() const noexcept { return error_; }
    /// Where valid data ends in the file, as far as the flushes so far tell.
    std::uint64_t valid_end() const noexcept { return valid_end_; }
    /// Bytes flushed that the file does not hold: after a fallback, what its write(2)s could
    /// not write (the fd sink stops at its first error: sink_fd.hpp).
    std::uint64_t bytes_lost() const noexcept { return out_.bytes_lost(); }

    /// At the end, after trace_buffer::drain() (no producer runs): truncates the file to the
    /// end of valid data (cutting the current window's zero tail and the spare window),
    /// leaves the file offset there, and with sync_each_flush syncs. Returns 0 or an errno.
    /// The memory stays mapped until destruction.
    /// After a fallback (no space) the file is cut too: with double buffering the other
    /// buffer's window may never have been flushed (empty at the drain), and the file still
    /// holds the zeros it was grown with.
    int close() noexcept {
        if (!ever_mapped_) return 0; // write(2) from the start: nothing to cut
        ever_mapped_ = false;
        still_mapped_[0] = still_mapped_[1] = false;
        int err = 0;
        if (::ftruncate(fd_, static_cast<off_t>(valid_end_)) != 0) err = errno;
        if (::lseek(fd_, static_cast<off_t>(valid_end_), SEEK_SET) < 0 && err == 0) err = errno;
        if (options_.sync_each_flush && ::fdatasync(fd_) != 0 && err == 0) err = errno;
        mapped_ = still_mapped_[0] = still_mapped_[1] = false; // later writes (none expected): write(2)
        return err;
    }

private:
    friend class file_window_sink;
    template <std::size_t> friend class merging_file_window_sink;

    // Ordered mode: the flushed range [0, size) of buffer `data` holds raw ordered chunks;
    // `merged` (m bytes) replaces them in the window, then the window advances. Crash-safe:
    //   1. a tags::skip record over the window's first 8 bytes names the next window, so a
    //      reader that finds the rewrite unfinished skips this window (its records belong
    //      to a flush that did not complete) and reads on in the current one;
    //   2. the merged records go to [8, 8 + m);
    //   3. the rest of the window, [align(8 + m), W), which still holds raw chunks, is
    //      covered: with padding records (double buffering: the whole window, as advance
    //      pads it), or with zeros (single buffering: the next window starts at the page
    //      after the merged records and must find zeros there);
    //   4. the skip record becomes 8 bytes of padding: the window reads merged.
    // Each step's stores are in the file before the next step's (commit_record_header's
    // release for the compiler and the CPU; a signal fence after the memset and memcpy, which
    // a killed process needs only for the compiler). Step 3 must come before step 4: a
    // process killed between the two would otherwise leave a merged window followed by raw
    // chunks, read twice, or a stop. When the merge saved fewer than 8 bytes (a window with
    // no chunk), the merged records are written from 0, without the skip: a crash in the
    // middle could tear that window. A window is below 4 GiB (the constructor), so the
    // skip's u32 distance holds it.
    int replace_and_advance(const unsigned char* data, std::size_t size, const unsigned char* merged,
                            std::size_t m) noexcept {
        if (!mapped_ && !still_mapped_[data == base_ ? 0 : 1]) {
            const int err = m == 0 ? 0 : out_.write(merged, m);
            if (err == 0) valid_end_ += m;
            return err;
        }
        unsigned char* window = base_ + (data == base_ ? 0 : 1) * window_bytes_;
        const bool with_skip = m + record_alignment <= window_bytes_;
        const std::size_t used = with_skip ? m + record_alignment : m;
        const std::size_t end = align_up(used);
        if (with_skip) {
            const std::uint32_t distance = static_cast<std::uint32_t>(window_bytes_);
            __builtin_memcpy(window + record_header_size, &distance, sizeof distance);
            commit_record_header(window, tags::skip, sizeof distance);
            TRACEBUF_CRASH_POINT(1);
            // The merged copy's stores stay after the skip record's header store: a release
            // store orders the stores before it, not those after it (for the compiler).
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            if (m != 0) __builtin_memcpy(window + record_alignment, merged, m);
            TRACEBUF_CRASH_POINT(2);
        } else {
            __builtin_memcpy(window, merged, m);
        }
        const std::size_t raw_end = size > end ? size : end; // raw chunks lie below it
        if (mode_ == buffering::double_buffer) {
            if (end < window_bytes_) write_padding(window + end, window_bytes_ - end, max_record_size_);
        } else if (raw_end > end) {
            __builtin_memset(window + end, 0, raw_end - end);
            // The zeros stay before the skip record's conversion below (for the compiler; the
            // release store orders them for the CPU).
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
        }
        TRACEBUF_CRASH_POINT(3);
        if (with_skip) commit_record_header(window, tags::padding, sizeof(std::uint32_t));
        TRACEBUF_CRASH_POINT(4);
        return advance(window, end);
    }

    // Maps the first window(s); returns why it cannot, or nullptr.
    const char* map_file() noexcept {
        struct stat st;
        if (::fstat(fd_, &st) != 0) return "the output cannot be examined (fstat failed)";
        if (!S_ISREG(st.st_mode)) return "the output is not a regular file (a pipe, a device, /dev/null)";
        std::uint64_t start = static_cast<std::uint64_t>(st.st_size);
        if (start % record_alignment != 0) return "the file's size is not a multiple of 8";
        // continue after the file's records, at a page boundary
        if (start % page_ != 0) {
            unsigned char pad[8192] = {}; // zeros: the padding's payload goes into the file
            const std::size_t n = static_cast<std::size_t>(page_ - start % page_);
            if (n > sizeof pad) return "the page size is too large to pad to";
            write_padding(pad, n, max_record_size_);
            if (::pwrite(fd_, pad, n, static_cast<off_t>(start)) != static_cast<ssize_t>(n))
                return "the file cannot be padded to a page boundary";
            start += n;
        }
        if (grow(start + total_) != 0) return "the file system refuses to grow the file (fallocate and ftruncate)";
        void* m = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(start));
        if (m == MAP_FAILED) {
            (void)::ftruncate(fd_, static_cast<off_t>(start));
            return "the file system refuses a shared writable mapping";
        }
        base_ = static_cast<unsigned char*>(m);
        offset_[0] = start;
        offset_[1] = start + window_bytes_;
        valid_end_ = start;
        mapped_ = true;
        ever_mapped_ = true;
        return nullptr;
    }

    void map_anonymous() noexcept {
        void* m = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            error_ = errno;
            return;
        }
        base_ = static_cast<unsigned char*>(m);
    }

    // Makes the file at least `size` bytes, with its blocks allocated where the file system
    // can (so that a full disk shows up here, not as SIGBUS in a producer).
    int grow(std::uint64_t size) noexcept {
        if (size <= file_size_) return 0;
        // In steps of at least 32 MiB: one fallocate for many small windows; where the step
        // does not fit (no space, a size limit), exactly what is needed.
        const std::uint64_t step = std::uint64_t{32} << 20;
        if (file_size_ != 0 && size - file_size_ < step && extend(file_size_ + step) == 0) return 0;
        return extend(size);
    }
    int extend(std::uint64_t size) noexcept {
        const int r = ::posix_fallocate(fd_, static_cast<off_t>(file_size_), static_cast<off_t>(size - file_size_));
        if (r == ENOSPC || r == EFBIG) return r;
        if (r != 0) { // a file system without fallocate: a sparse file
            struct stat st;
            if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < size &&
                ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
                return errno;
        }
        file_size_ = size;
        return 0;
    }

    // The sink's write: [0, size) of buffer `data` is in the file already.
    int advance(const unsigned char* data, std::size_t size) noexcept {
        const std::size_t k = data == base_ ? 0 : 1;
        unsigned char* window = base_ + k * window_bytes_;
        if (!mapped_) {
            if (still_mapped_[k]) { // double buffering: mapped before the fallback
                still_mapped_[k] = false;
                valid_end_ = offset_[k] + size;
                (void)::ftruncate(fd_, static_cast<off_t>(valid_end_));
                (void)::lseek(fd_, static_cast<off_t>(valid_end_), SEEK_SET);
                map_anonymous_at(window);
                return 0;
            }
            const int err = out_.write(data, size);
            if (err == 0) valid_end_ += size;
            return err;
        }
        const std::uint64_t at = offset_[k];
        valid_end_ = at + size;
        std::uint64_t next;
        std::size_t padded;
        int populate = 0;
        if (mode_ == buffering::single) {
            padded = (size + page_ - 1) / page_ * page_;
            next = at + padded;
        } else {
            padded = window_bytes_;
            next = offset_[1 - k] + window_bytes_;
            if (options_.populate) populate = MAP_POPULATE;
        }
        if (padded != size) write_padding(window + size, padded - size, max_record_size_);
        int err = grow(next + window_bytes_);
        if (err == 0) {
            void* m = ::mmap(window, window_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_,
                             static_cast<off_t>(next));
            if (m == MAP_FAILED) err = errno != 0 ? errno : EIO;
            else {
                offset_[k] = next;
                if (populate != 0) prefault(window);
            }
        }
        if (err != 0) {
            // The file is valid up to valid_end_. This buffer is the full one (nobody writes
            // it now) and becomes anonymous memory; with double buffering the other one,
            // which the producers are filling, keeps its window until its own flush.
            fallback_reason_ = "the next window could not be mapped (no space?); writing with write(2)";
            mapped_ = false;
            if (mode_ == buffering::double_buffer) still_mapped_[1 - k] = true;
            else {
                (void)::ftruncate(fd_, static_cast<off_t>(valid_end_));
                (void)::lseek(fd_, static_cast<off_t>(valid_end_), SEEK_SET);
            }
            map_anonymous_at(window);
            return err;
        }
        offset_[k] = next;
        if (options_.sync_each_flush && ::fdatasync(fd_) != 0) return errno;
        return 0;
    }

    // Takes the next window's write faults now, in the write-out, rather than in the
    // producers: MADV_POPULATE_WRITE (Linux 5.14) maps every page writable in one call;
    // older kernels refuse it, and MAP_POPULATE's read faults are the fallback.
    void prefault(unsigned char* window) noexcept {
#ifndef MADV_POPULATE_WRITE
#define TRACEBUF_MADV_POPULATE_WRITE 23
#else
#define TRACEBUF_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#endif
        if (::madvise(window, window_bytes_, TRACEBUF_MADV_POPULATE_WRITE) == 0) return;
#undef TRACEBUF_MADV_POPULATE_WRITE
        (void)::mmap(window, window_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd_,
                     static_cast<off_t>(offset_of(window)));
    }
    std::uint64_t offset_of(const unsigned char* window) const noexcept {
        return window == base_ ? offset_[0] : offset_[1];
    }

    // Replaces a window by zeroed anonymous memory at the same address.
    void map_anonymous_at(unsigned char* window) noexcept {
        (void)::mmap(window, window_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    }

    int fd_;
    buffering mode_;
    file_window_options options_;
    std::size_t max_record_size_;
    fd_sink out_;
    std::size_t page_ = 4096;
    std::size_t window_bytes_ = 0;
    std::size_t total_ = 0;
    unsigned char* base_ = nullptr;
    std::uint64_t offset_[2] = {0, 0}; // each buffer's window's place in the file
    std::uint64_t valid_end_ = 0;
    std::uint64_t file_size_ = 0; // at least this big (grow)
    const char* fallback_reason_ = nullptr;
    int error_ = 0;
    bool mapped_ = false;
    bool ever_mapped_ = false;              // the file was grown for a window: close() cuts it
    bool still_mapped_[2] = {false, false}; // after a fallback: a window the producers still fill
};

/// Ordered mode through a file window: each flushed buffer (raw ordered chunks) is merged
/// (merge_ordered, as merging_sink does) and the merged records replace the raw ones in the
/// window, crash-safely (file_window::replace_and_advance): a process that dies during the
/// rewrite loses that buffer's records, which belong to a flush that did not complete, and
/// keeps the current buffer's, raw (ordered chunks in chunk order, each record stamped).
/// Needs double buffering in practice (the rewrite runs in the write-out) and a scratch of
/// a buffer's size. Statistics: merge_stats, as merging_sink's.
template <std::size_t MaxThreads = 256>
class merging_file_window_sink {
    // Collects the merging sink's output: one piece when the scratch holds a buffer.
    struct collector {
        const unsigned char** at;
        std::size_t* bytes;
        int write(const void* data, std::size_t size) noexcept {
            if (*bytes != 0) return 22; // EINVAL: a scratch smaller than a buffer
            *at = static_cast<const unsigned char*>(data);
            *bytes = size;
            return 0;
        }
    };

public:
    merging_file_window_sink(file_window& w, void* scratch, std::size_t scratch_bytes,
                             std::size_t max_record_size = 4096) noexcept
        : window_(&w), merge_(collector{&merged_, &merged_bytes_}, scratch, scratch_bytes, max_record_size) {}
    merging_file_window_sink(const merging_file_window_sink& o) noexcept
        : window_(o.window_), merge_(o.merge_) {
        rebind();
    }
    merging_file_window_sink& operator=(const merging_file_window_sink&) = delete;

    int write(const void* data, std::size_t size) noexcept {
        rebind();
        merged_ = nullptr;
        merged_bytes_ = 0;
        const int merge_error = merge_.write(data, size);
        const int err = window_->replace_and_advance(static_cast<const unsigned char*>(data), size, merged_,
                                                     merged_bytes_);
        return err != 0 ? err : merge_error;
    }
    bool leaves_zeroed() const noexcept { return window_->mapped_; }
    const merge_stats& stats() const noexcept { return merge_.stats(); }
    errc status() const noexcept { return merge_.status(); }

private:
    void rebind() noexcept { merge_.inner() = collector{&merged_, &merged_bytes_}; }

    file_window* window_;
    const unsigned char* merged_ = nullptr;
    std::size_t merged_bytes_ = 0;
    merging_sink<collector, MaxThreads> merge_;
};

inline int file_window_sink::write(const void* data, std::size_t size) noexcept {
    return window_->advance(static_cast<const unsigned char*>(data), size);
}
inline bool file_window_sink::leaves_zeroed() const noexcept { return window_->mapped_; }

} // namespace tracebuf

#endif // TRACEBUF_FILE_WINDOW_HPP
