// Fuzz target: ordered mode's merge (tracebuf/ordered_merge.hpp, merge_ordered).
//
// Structured mode (first byte < 0x80): the input is a program that builds one flushed buffer
// as ordered mode's writers lay it out - up to 6 threads (two of them may share a tid under
// different pids), each writing records with non-decreasing stamps into ordered chunks
// (a full stamp first, then a delta or full stamp record before each record whose stamp
// moved, padding here and there), the chunks of all threads interleaved in the buffer, and
// records outside chunks (a tracer's own) between them. The merge must emit exactly what
// ordered_merge.hpp promises: the records outside chunks in buffer order, then every chunk
// record exactly once, each thread's in its own order, by (stamp, rank of the thread's
// first chunk) - so stamps never decrease - byte for byte, with no fault.
//
// Raw mode (first byte >= 0x80): the rest is any buffer. The merge must not crash or hang,
// and what it emits must be whole records inside the buffer, pieces of a multiple of 8 bytes,
// as many as it counts; padding is never emitted.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

#include "fuzz_check.hpp"

namespace {

constexpr std::size_t max_threads = 8;
constexpr std::size_t max_record = 4096;
tracebuf::detail::ordered_merger<max_threads> merger; // large: off the stack

class program {
public:
    program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool more() const { return at_ < size_; }
    std::uint8_t next() { return at_ < size_ ? data_[at_++] : 0; }

private:
    const std::uint8_t* data_;
    std::size_t size_, at_ = 0;
};

void append(std::vector<unsigned char>& out, std::uint16_t tag, const void* payload, std::size_t n) {
    const std::size_t at = out.size();
    out.resize(at + tracebuf::record_footprint(n), 0);
    tracebuf::put_record(out.data() + at, tag, payload, n);
}

void append_full_stamp(std::vector<unsigned char>& out, std::uint64_t stamp) {
    const std::size_t at = out.size();
    out.resize(at + tracebuf::full_stamp_footprint, 0);
    tracebuf::write_record_header(out.data() + at, tracebuf::tags::stamp, tracebuf::full_stamp_footprint - 4);
    std::memcpy(out.data() + at + 8, &stamp, sizeof stamp);
}

struct chunk_record {
    std::uint64_t stamp;
    std::size_t thread;
    std::uint32_t index;   // in its thread's order
    std::size_t at, bytes; // the record as laid out, padding included, in `record_bytes`
};

struct thread_state {
    std::uint32_t pid, tid;
    std::uint64_t stamp = 0, last_written = 0;
    bool open = false;
    std::uint64_t sequence = 0;
    std::uint32_t records = 0;
    std::vector<unsigned char> chunk;   // the open chunk's contents after its header
    std::size_t first_chunk = SIZE_MAX; // rank: the buffer offset of its first chunk
};

void close_chunk(std::vector<unsigned char>& buffer, thread_state& t) {
    if (!t.open) return;
    const tracebuf::chunk_header h{t.pid, t.tid,
                                   static_cast<std::uint32_t>(tracebuf::chunk_header_footprint + t.chunk.size()),
                                   t.sequence++};
    if (t.first_chunk == SIZE_MAX) t.first_chunk = buffer.size();
    append(buffer, tracebuf::tags::ordered_chunk, &h, sizeof h);
    buffer.insert(buffer.end(), t.chunk.begin(), t.chunk.end());
    t.chunk.clear();
    t.open = false;
}

void structured(const std::uint8_t* data, std::size_t size) {
    program p(data, size);
    const std::size_t k = 1 + p.next() % 6;
    std::vector<thread_state> threads(k);
    for (std::size_t t = 0; t < k; ++t) {
        const bool twin = k > 2 && t == k - 1; // the same tid as thread 0, another pid
        threads[t].pid = twin ? 4243 : 4242;
        threads[t].tid = twin ? 100 : 100 + static_cast<std::uint32_t>(t);
        threads[t].stamp = p.next();
    }
    // Kept from run to run (cleared): allocating them anew is most of a run's time.
    static std::vector<unsigned char> buffer, outside, record_bytes, expected, merged;
    static std::vector<chunk_record> records;
    for (std::vector<unsigned char>* v : {&buffer, &outside, &record_bytes, &expected, &merged}) v->clear();
    records.clear();
    std::size_t outside_records = 0;
    while (p.more()) {
        const std::uint8_t e = p.next();
        thread_state& t = threads[e % k];
        const unsigned op = (e / 8u) % 8u;
        if (op <= 4) { // a record
            if (!t.open) {
                t.open = true;
                append_full_stamp(t.chunk, t.stamp);
                t.last_written = t.stamp;
            }
            const std::uint8_t advance = p.next();
            if (op == 4) t.stamp += std::uint64_t{advance} << 32; // past a delta's range
            else if (advance % 4 != 0) t.stamp += advance;        // else the same stamp
            if (t.stamp != t.last_written) {
                if (t.stamp - t.last_written <= 0xffffffffu) {
                    const std::uint32_t delta = static_cast<std::uint32_t>(t.stamp - t.last_written);
                    append(t.chunk, tracebuf::tags::stamp_delta, &delta, sizeof delta);
                } else {
                    append_full_stamp(t.chunk, t.stamp);
                }
                t.last_written = t.stamp;
            }
            unsigned char payload[32];
            const std::size_t n = 8 + p.next() % 25u;
            std::memset(payload, e, sizeof payload);
            const std::uint32_t id[2] = {static_cast<std::uint32_t>(&t - threads.data()), t.records};
            std::memcpy(payload, id, sizeof id);
            const chunk_record r{t.stamp, static_cast<std::size_t>(&t - threads.data()), t.records++,
                                 record_bytes.size(), tracebuf::record_footprint(n)};
            append(record_bytes, static_cast<std::uint16_t>(0x4d41 + e % 3), payload, n);
            t.chunk.insert(t.chunk.end(), record_bytes.begin() + static_cast<std::ptrdiff_t>(r.at), record_bytes.end());
            records.push_back(r);
        } else if (op == 5) { // padding inside the chunk, as a take-over leaves it
            if (t.open) {
                const std::size_t at = t.chunk.size(), n = 8 * (1 + p.next() % 3u);
                t.chunk.resize(at + n, 0);
                tracebuf::write_padding(t.chunk.data() + at, n, max_record);
            }
        } else if (op == 6) {
            close_chunk(buffer, t);
        } else { // a record outside chunks (a tracer's header or summary), or padding
            if (e % 2 == 0) {
                const std::uint32_t payload[2] = {0xffffffffu, static_cast<std::uint32_t>(outside_records++)};
                const std::size_t at = outside.size();
                append(outside, 0x4de1, payload, sizeof payload);
                buffer.insert(buffer.end(), outside.begin() + static_cast<std::ptrdiff_t>(at), outside.end());
            } else {
                const std::size_t at = buffer.size();
                buffer.resize(at + 16, 0);
                tracebuf::write_padding(buffer.data() + at, 16, max_record);
            }
        }
    }
    for (thread_state& t : threads) close_chunk(buffer, t);

    // What the merge must emit: the outside records, then the chunk records by (stamp, rank),
    // each thread's in its order (a stable sort of records in thread order).
    std::stable_sort(records.begin(), records.end(), [&](const chunk_record& a, const chunk_record& b) {
        if (a.stamp != b.stamp) return a.stamp < b.stamp;
        return threads[a.thread].first_chunk < threads[b.thread].first_chunk;
    });
    expected = outside;
    for (const chunk_record& r : records) {
        const auto from = record_bytes.begin() + static_cast<std::ptrdiff_t>(r.at);
        expected.insert(expected.end(), from, from + static_cast<std::ptrdiff_t>(r.bytes));
    }

    const tracebuf::merge_result m =
        tracebuf::merge_ordered(merger, buffer.data(), buffer.size(), max_record, [&](const unsigned char* at, std::size_t n) {
            FUZZ_CHECK(n % 8 == 0);
            FUZZ_CHECK(at >= buffer.data() && n <= buffer.size() && at - buffer.data() <= static_cast<std::ptrdiff_t>(buffer.size() - n));
            merged.insert(merged.end(), at, at + n);
        });
    FUZZ_CHECK(m.fault == tracebuf::merge_fault::none);
    FUZZ_CHECK(m.skipped_bytes == 0);
    FUZZ_CHECK(m.records == records.size() + outside_records);
    std::size_t with_chunks = 0;
    for (const thread_state& t : threads) with_chunks += t.first_chunk != SIZE_MAX;
    FUZZ_CHECK(m.threads == with_chunks);

    // The properties one by one (the byte comparison below implies them; these say which).
    std::vector<std::uint32_t> next_index(k, 0);
    std::vector<std::uint64_t> stamp_of; // by position in the output
    std::uint64_t last_stamp = 0;
    std::size_t seen = 0, seen_outside = 0;
    const tracebuf::scan_result r = tracebuf::scan_records(
        merged.data(), merged.size(), max_record, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
            FUZZ_CHECK(tag != tracebuf::tags::padding && tag != tracebuf::tags::stamp && tag != tracebuf::tags::stamp_delta &&
                       tag != tracebuf::tags::ordered_chunk);
            std::uint32_t id[2];
            FUZZ_CHECK(n >= sizeof id);
            std::memcpy(id, payload, sizeof id);
            if (tag == 0x4de1) { // outside: first, in buffer order
                FUZZ_CHECK(seen == 0 && id[1] == seen_outside);
                ++seen_outside;
                return;
            }
            FUZZ_CHECK(id[0] < k);
            FUZZ_CHECK(id[1] == next_index[id[0]]); // each once, in its thread's order
            ++next_index[id[0]];
            const std::uint64_t stamp = records[seen].stamp;
            FUZZ_CHECK(seen == 0 || stamp >= last_stamp); // stamps never decrease
            last_stamp = stamp;
            ++seen;
        });
    FUZZ_CHECK(r.ok());
    FUZZ_CHECK(seen == records.size() && seen_outside == outside_records);
    for (std::size_t t = 0; t < k; ++t) FUZZ_CHECK(next_index[t] == threads[t].records);
    FUZZ_CHECK(merged == expected);
}

void raw(const std::uint8_t* data, std::size_t size) {
    std::size_t emitted_records = 0, emitted_bytes = 0;
    const tracebuf::merge_result m = tracebuf::merge_ordered(merger, data, size, max_record, [&](const unsigned char* at, std::size_t n) {
        FUZZ_CHECK(n % 8 == 0);
        FUZZ_CHECK(at >= data && at - data <= static_cast<std::ptrdiff_t>(size) && n <= size - static_cast<std::size_t>(at - data));
        emitted_bytes += n;
        const tracebuf::scan_result r = tracebuf::scan_records(at, n, max_record, [&](std::uint16_t tag, const unsigned char*, std::size_t, std::size_t) {
            FUZZ_CHECK(tag != tracebuf::tags::padding);
            ++emitted_records;
        });
        FUZZ_CHECK(r.ok());
    });
    FUZZ_CHECK(m.records == emitted_records);
    FUZZ_CHECK(emitted_bytes <= size);
    FUZZ_CHECK(m.threads <= max_threads);
    if (m.fault == tracebuf::merge_fault::none) FUZZ_CHECK(m.skipped_bytes == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] & 0x80) raw(data + 1, size - 1);
    else structured(data, size);
    return 0;
}
