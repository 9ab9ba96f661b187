// The sink policies: full writes across short writes and EINTR, errors reported; and how
// trace files are created (trace_file.hpp).
#define BOOST_TEST_MODULE sinks
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <tracebuf/reader.hpp>
#include <tracebuf/sink_callback.hpp>
#include <tracebuf/sink_direct.hpp>
#include <tracebuf/sink_fd.hpp>
#include <tracebuf/sink_memory.hpp>
#include <tracebuf/trace_buffer.hpp>
#include <tracebuf/trace_file.hpp>

#include "support/test_traits.hpp"

using namespace tracebuf;

namespace {

// A scripted write(2): each call takes the next step; a positive step writes at most that
// many bytes, a negative one fails with -step as errno.
struct script {
    std::vector<long> steps;
    std::size_t next = 0;
    std::string written;
    int calls = 0;
};
script* active = nullptr;

ssize_t scripted_write(int, const void* data, std::size_t size) {
    ++active->calls;
    const long step = active->next < active->steps.size() ? active->steps[active->next++] : 1 << 30;
    if (step < 0) {
        errno = static_cast<int>(-step);
        return -1;
    }
    const std::size_t n = std::min(size, static_cast<std::size_t>(step));
    active->written.append(static_cast<const char*>(data), n);
    return static_cast<ssize_t>(n);
}

struct scripted {
    explicit scripted(std::vector<long> steps) {
        s.steps = std::move(steps);
        active = &s;
    }
    ~scripted() { active = nullptr; }
    script s;
};

} // namespace

BOOST_AUTO_TEST_CASE(fd_sink_continues_after_short_writes_and_eintr) {
    scripted w({3, -EINTR, 1, 2, -EINTR, -EINTR, 100});
    fd_sink sink(42, &scripted_write);
    const std::string data = "0123456789abcdefghij";
    BOOST_TEST(sink.write(data.data(), data.size()) == 0);
    BOOST_TEST(w.s.written == data);
    BOOST_TEST(w.s.calls == 7);
}

BOOST_AUTO_TEST_CASE(fd_sink_reports_errors) {
    {
        scripted w({4, -ENOSPC});
        fd_sink sink(42, &scripted_write);
        BOOST_TEST(sink.write("0123456789", 10) == ENOSPC);
        BOOST_TEST(w.s.written == "0123");
    }
    {
        scripted w({0}); // no progress and no error
        fd_sink sink(42, &scripted_write);
        BOOST_TEST(sink.write("0123456789", 10) == EIO);
    }
}

BOOST_AUTO_TEST_CASE(fd_sink_writes_real_files_and_reports_real_errors) {
    char path[] = "/tmp/tracebuf-sink-XXXXXX";
    const int fd = ::mkstemp(path);
    BOOST_REQUIRE(fd >= 0);
    std::vector<unsigned char> data(1 << 20);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7);
    fd_sink sink(fd);
    BOOST_TEST(sink.write(data.data(), data.size()) == 0);
    std::vector<unsigned char> back(data.size());
    BOOST_REQUIRE(::pread(fd, back.data(), back.size(), 0) == static_cast<ssize_t>(back.size()));
    BOOST_TEST((back == data));
    ::close(fd);
    ::unlink(path);

    BOOST_TEST(fd_sink(fd).write("x", 1) == EBADF); // closed descriptor
    const int full = ::open("/dev/full", O_WRONLY);
    if (full >= 0) {
        BOOST_TEST(fd_sink(full).write(data.data(), 4096) == ENOSPC);
        ::close(full);
    }
}

BOOST_AUTO_TEST_CASE(callback_sink_forwards_and_returns_the_callback_result) {
    struct ctx {
        std::string seen;
        int result;
    } c{{}, 0};
    callback_sink sink(
        [](void* context, const void* data, std::size_t size) {
            auto* cc = static_cast<ctx*>(context);
            cc->seen.append(static_cast<const char*>(data), size);
            return cc->result;
        },
        &c);
    BOOST_TEST(sink.write("abc", 3) == 0);
    c.result = EPIPE;
    BOOST_TEST(sink.write("de", 2) == EPIPE);
    BOOST_TEST(c.seen == "abcde");
}

BOOST_AUTO_TEST_CASE(memory_sink_keeps_bytes_and_flush_boundaries) {
    memory_sink sink;
    BOOST_TEST(sink.write("abcd", 4) == 0);
    BOOST_TEST(sink.write("ef", 2) == 0);
    BOOST_TEST(std::string(sink.bytes().begin(), sink.bytes().end()) == "abcdef");
    BOOST_TEST((sink.flush_sizes() == std::vector<std::size_t>{4, 2}));
}

// ---- direct_fd_sink -------------------------------------------------------------------------

namespace {

// What O_DIRECT would check, per write(2) call: the memory and the length are whole blocks
// (the file offset then stays aligned, since every write is whole blocks).
struct block_log {
    std::string written;
    int calls = 0;
    int misaligned = 0;
};
block_log* blocks = nullptr;

ssize_t block_checking_write(int, const void* data, std::size_t size) {
    ++blocks->calls;
    if (reinterpret_cast<std::uintptr_t>(data) % direct_fd_sink::block_size != 0 ||
        size % direct_fd_sink::block_size != 0)
        ++blocks->misaligned;
    blocks->written.append(static_cast<const char*>(data), size);
    return static_cast<ssize_t>(size);
}

struct aligned_free {
    void operator()(void* p) const noexcept { std::free(p); }
};
using aligned_bytes = std::unique_ptr<unsigned char[], aligned_free>;
aligned_bytes aligned_alloc_bytes(std::size_t n) {
    return aligned_bytes(static_cast<unsigned char*>(std::aligned_alloc(direct_fd_sink::block_size, n)));
}

// `records` records of 16 bytes (tag 0x4d41, an 8-byte sequence number) at `at`.
void fill_records(unsigned char* at, std::size_t records) {
    for (std::uint64_t i = 0; i < records; ++i) at = static_cast<unsigned char*>(put_record(at, 0x4d41, &i, sizeof i));
}

// The data records of a trace, in order, checking it is a valid trace throughout.
std::vector<std::uint64_t> data_records(const std::string& trace) {
    std::vector<std::uint64_t> seen;
    const scan_result r = scan_records(trace.data(), trace.size(), 4096,
                                       [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
                                           if (tag == tags::padding) return;
                                           std::uint64_t v = ~0ull;
                                           if (n == sizeof v) std::memcpy(&v, payload, n);
                                           seen.push_back(v);
                                       });
    BOOST_TEST(r.ok());
    return seen;
}

} // namespace

BOOST_AUTO_TEST_CASE(direct_sink_writes_whole_blocks_and_pads_each_tail) {
    constexpr std::size_t records = 831; // 13,296 bytes: three blocks and 1,008 bytes
    aligned_bytes data = aligned_alloc_bytes(4 * 4096);
    fill_records(data.get(), records);
    const std::size_t size = records * 16;

    for (const std::size_t offset : {std::size_t{0}, std::size_t{8}}) { // aligned, then not
        if (offset != 0) {
            std::memmove(data.get() + offset, data.get(), size);
        }
        block_log log;
        blocks = &log;
        direct_fd_sink sink(42, 4096, &block_checking_write);
        BOOST_TEST(sink.write(data.get() + offset, size) == 0);
        BOOST_TEST(sink.write(data.get() + offset, 16) == 0); // a flush shorter than a block
        blocks = nullptr;
        BOOST_TEST(log.misaligned == 0);
        BOOST_TEST(log.written.size() == 5 * 4096u);
        // aligned: the three whole blocks in place, the tail, the short flush; not aligned:
        // every block through the staging block.
        BOOST_TEST(log.calls == (offset == 0 ? 3 : 5));
        BOOST_TEST(std::memcmp(log.written.data(), data.get() + offset, size) == 0);
        const std::vector<std::uint64_t> seen = data_records(log.written);
        BOOST_REQUIRE(seen.size() == records + 1);
        for (std::uint64_t i = 0; i < records; ++i) BOOST_TEST(seen[i] == i);
        BOOST_TEST(seen[records] == 0u);
    }
}

BOOST_AUTO_TEST_CASE(direct_sink_reports_errors) {
    scripted w({-ENOSPC});
    aligned_bytes data = aligned_alloc_bytes(4096);
    fill_records(data.get(), 4);
    direct_fd_sink sink(42, 4096, &scripted_write);
    BOOST_TEST(sink.write(data.get(), 64) == ENOSPC);
}

namespace {
// A file in the working directory (/tmp may be tmpfs, which refuses O_DIRECT), unlinked,
// with O_DIRECT set; -1 and errno where the file system refuses it.
int open_direct_temporary() {
    char path[] = "tracebuf-direct-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return -1;
    ::unlink(path);
    if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_DIRECT) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
boost::test_tools::assertion_result direct_io_supported(boost::unit_test::test_unit_id) {
    const int fd = open_direct_temporary();
    boost::test_tools::assertion_result r(fd >= 0);
    if (fd >= 0) ::close(fd);
    else r.message() << "the working directory's file system refuses O_DIRECT (errno " << errno << ")";
    return r;
}
} // namespace

// Through a double-buffered trace buffer into a real file opened with O_DIRECT, where the
// file system supports it; skipped, and reported so, where it does not (ctest lists it as
// test_sinks_o_direct).
BOOST_AUTO_TEST_CASE(direct_sink_writes_a_valid_trace_past_the_page_cache,
                     *boost::unit_test::precondition(direct_io_supported)) {
    const int fd = open_direct_temporary();
    BOOST_REQUIRE(fd >= 0);
    constexpr std::size_t bytes = 2 * 64 * 1024;
    aligned_bytes memory = aligned_alloc_bytes(bytes);
    constexpr std::uint64_t records = 50000; // about 12 flushes of 64 KiB
    {
        trace_buffer<tracebuf_test::boost_futex, direct_fd_sink> buf(memory.get(), bytes, direct_fd_sink(fd),
                                                                     buffering::double_buffer);
        producer p;
        BOOST_REQUIRE((buf.register_thread(p) == errc::ok));
        for (std::uint64_t i = 0; i < records; ++i) BOOST_REQUIRE((buf.write_record(p, 0x4d41, &i, sizeof i) == errc::ok));
        BOOST_REQUIRE((buf.unregister_thread(p) == errc::ok));
        BOOST_REQUIRE((buf.drain() == errc::ok));
        BOOST_TEST(buf.stats().flushes >= 10u);
        BOOST_TEST(buf.sink_error() == 0);
    }
    const off_t size = ::lseek(fd, 0, SEEK_END);
    BOOST_TEST(size % 4096 == 0);
    std::string trace(static_cast<std::size_t>(size), '\0');
    // Read back without O_DIRECT (which would want an aligned buffer): a second descriptor.
    const int reader = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY);
    BOOST_REQUIRE(reader >= 0);
    BOOST_REQUIRE(::pread(reader, trace.data(), trace.size(), 0) == static_cast<ssize_t>(size));
    ::close(reader);
    const std::vector<std::uint64_t> seen = data_records(trace);
    BOOST_REQUIRE(seen.size() == records);
    for (std::uint64_t i = 0; i < records; ++i) BOOST_TEST_REQUIRE(seen[i] == i);
    ::close(fd);
}

// ---- trace_file.hpp ---------------------------------------------------------------------------

namespace {
struct temporary_directory {
    temporary_directory() {
        char name[] = "/tmp/tracebuf-file-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~temporary_directory() {
        for (const char* f : {"/trace", "/link", "/dangling", "/victim", "/public"}) ::unlink((path + f).c_str());
        ::rmdir(path.c_str());
    }
    std::string path;
};
mode_t mode_of(const std::string& path) {
    struct stat st;
    BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}
} // namespace

// A trace holds every value the program loaded and stored: created 0600 whatever the umask
// allows, an existing file made private, a symbolic link refused with ELOOP.
BOOST_AUTO_TEST_CASE(trace_files_are_private_and_never_followed_through_a_link) {
    temporary_directory dir;
    const mode_t old_umask = ::umask(022);
    const int fd = create_trace_file((dir.path + "/trace").c_str());
    BOOST_REQUIRE(fd >= 0);
    BOOST_TEST(mode_of(dir.path + "/trace") == 0600u);
    BOOST_TEST((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    ::close(fd);

    const std::string public_file = dir.path + "/public";
    const int p = ::open(public_file.c_str(), O_WRONLY | O_CREAT, 0644);
    BOOST_REQUIRE(p >= 0);
    BOOST_REQUIRE(::write(p, "old", 3) == 3);
    ::close(p);
    BOOST_REQUIRE(mode_of(public_file) == 0644u);
    const int again = create_trace_file(public_file.c_str());
    BOOST_REQUIRE(again >= 0);
    BOOST_TEST(mode_of(public_file) == 0600u);
    ::close(again);

    const std::string victim = dir.path + "/victim";
    const int v = ::open(victim.c_str(), O_WRONLY | O_CREAT, 0600);
    BOOST_REQUIRE(v >= 0);
    BOOST_REQUIRE(::write(v, "keep", 4) == 4);
    ::close(v);
    BOOST_REQUIRE(::symlink(victim.c_str(), (dir.path + "/link").c_str()) == 0);
    errno = 0;
    BOOST_TEST(create_trace_file((dir.path + "/link").c_str()) == -1);
    BOOST_TEST(errno == ELOOP);
    BOOST_TEST(std::string(trace_file_error(ELOOP)).find("symbolic link") != std::string::npos);
    struct stat st;
    BOOST_REQUIRE(::stat(victim.c_str(), &st) == 0);
    BOOST_TEST(st.st_size == 4); // not truncated
    BOOST_REQUIRE(::symlink((dir.path + "/nothing-yet").c_str(), (dir.path + "/dangling").c_str()) == 0);
    BOOST_TEST(create_trace_file((dir.path + "/dangling").c_str()) == -1);
    BOOST_TEST(::access((dir.path + "/nothing-yet").c_str(), F_OK) != 0); // not created through it

    const int null = create_trace_file("/dev/null"); // a device: opened as it is
    BOOST_TEST(null >= 0);
    if (null >= 0) ::close(null);
    ::umask(old_umask);
}
