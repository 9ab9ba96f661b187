// Checks for code running on threads other than the test's main thread, where Boost.Test's
// assertion macros must not be used (they are not thread-safe). A failed check is counted
// and its first message kept; the main thread asserts TB_NO_THREAD_FAILURES() after join.
#ifndef TRACEBUF_TESTS_THREAD_CHECK_HPP
#define TRACEBUF_TESTS_THREAD_CHECK_HPP

#include <atomic>
#include <mutex>
#include <string>

namespace tracebuf_test {

struct thread_failures {
    std::atomic<int> count{0};
    std::mutex mutex;
    std::string first;

    bool record(bool ok, const char* expr, const char* file, int line) {
        if (ok) return true;
        if (count.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> lock(mutex);
            first = std::string(file) + ":" + std::to_string(line) + ": " + expr;
        }
        return false;
    }
    std::string message() {
        std::lock_guard<std::mutex> lock(mutex);
        return first;
    }
};

inline thread_failures& failures() {
    static thread_failures f;
    return f;
}

} // namespace tracebuf_test

/// Evaluates to the condition; records a failure when it is false.
#define TB_CHECK(cond) (::tracebuf_test::failures().record(static_cast<bool>(cond), #cond, __FILE__, __LINE__))

#define TB_NO_THREAD_FAILURES()                               \
    BOOST_TEST(::tracebuf_test::failures().count.load() == 0, \
               "first failure on a thread: " << ::tracebuf_test::failures().message())

#endif
