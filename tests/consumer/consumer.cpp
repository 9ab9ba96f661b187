// Writes a few records from two threads into memory and checks them: enough to prove the
// package's include paths and dependencies work.
#include <cstdio>
#include <thread>
#include <vector>

#include <tracebuf/tracebuf.hpp>

int main() {
    std::vector<std::uint64_t> memory(1 << 14);
    tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::memory_sink> buf(
        memory.data(), memory.size() * 8, tracebuf::memory_sink{});
    auto work = [&buf] {
        tracebuf::producer p;
        buf.register_thread(p);
        for (std::uint64_t i = 0; i < 10000; ++i) buf.write_record(p, 1, &i, sizeof i);
        buf.unregister_thread(p);
    };
    std::thread a(work), b(work);
    a.join();
    b.join();
    if (buf.drain() != tracebuf::errc::ok) return 1;
    const auto& bytes = buf.sink().bytes();
    const tracebuf::scan_result r = tracebuf::scan_records(bytes.data(), bytes.size(), 4096);
    std::printf("consumer: %zu records, %s\n", r.records, r.ok() ? "valid" : "invalid");
    return r.ok() && r.records == 20000 ? 0 : 1;
}
