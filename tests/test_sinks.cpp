// The sink policies: full writes across short writes and EINTR, errors reported.
#define BOOST_TEST_MODULE sinks
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <tracebuf/sink_callback.hpp>
#include <tracebuf/sink_fd.hpp>
#include <tracebuf/sink_memory.hpp>

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
    explicit scripted(std::vector<long> steps) { s.steps = std::move(steps); active = &s; }
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
