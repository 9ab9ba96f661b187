// Hand-made traces for the reader and export tests: records appended one after another, as
// the memtrace tracers lay them out (memtrace.hpp), each thread's in its slot.
#ifndef TRACEBUF_TESTS_TRACE_BUILDER_HPP
#define TRACEBUF_TESTS_TRACE_BUILDER_HPP

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf_test {

class trace_builder {
public:
    /// Any record: `type` is a slot-0 tag (or one of tracebuf's own), written from `slot`.
    trace_builder& record(std::uint16_t type, unsigned slot, const void* payload, std::size_t n) {
        const std::uint16_t tag = tracebuf::is_library_tag(type) ? type : tracebuf::memtrace::tag_in_slot(type, slot);
        const std::size_t at = bytes_.size();
        bytes_.resize(at + tracebuf::record_footprint(n), 0);
        tracebuf::write_record_header(bytes_.data() + at, tag, n);
        if (n != 0) std::memcpy(bytes_.data() + at + tracebuf::record_header_size, payload, n);
        return *this;
    }

    trace_builder& header(std::uint8_t id_byte = 0x5a) {
        tracebuf::memtrace::header_payload h{tracebuf::memtrace::em_x86_64, 0, {}};
        std::memset(h.trace_id, id_byte, sizeof h.trace_id);
        return record(tracebuf::memtrace::header64, 0, &h, sizeof h);
    }
    trace_builder& thread(unsigned slot, std::uint32_t tid, std::uint32_t serial,
                          std::uint16_t type = tracebuf::memtrace::thread) {
        const tracebuf::memtrace::thread_payload t{4242, tid, serial};
        return record(type, slot, &t, sizeof t);
    }
    trace_builder& insn(unsigned slot, std::uint32_t seq, std::uint64_t pc, std::initializer_list<std::uint8_t> code = {0x90}) {
        std::vector<unsigned char> p(13 + code.size());
        std::memcpy(p.data(), &seq, 4);
        std::memcpy(p.data() + 4, &pc, 8);
        p[12] = 0;
        std::size_t i = 13;
        for (std::uint8_t b : code) p[i++] = b;
        return record(tracebuf::memtrace::insn, slot, p.data(), p.size());
    }
    trace_builder& exec(unsigned slot, std::uint32_t seq) {
        return record(tracebuf::memtrace::insn_exec, slot, &seq, sizeof seq);
    }
    /// LOAD or STORE (or another access type) of an 8-byte value.
    trace_builder& access(std::uint16_t type, unsigned slot, std::uint32_t seq, std::uint64_t addr, std::uint64_t value) {
        unsigned char p[20];
        std::memcpy(p, &seq, 4);
        std::memcpy(p + 4, &addr, 8);
        std::memcpy(p + 12, &value, 8);
        return record(type, slot, p, sizeof p);
    }
    trace_builder& load(unsigned slot, std::uint32_t seq, std::uint64_t addr, std::uint64_t value = 0) {
        return access(tracebuf::memtrace::load, slot, seq, addr, value);
    }
    trace_builder& store(unsigned slot, std::uint32_t seq, std::uint64_t addr, std::uint64_t value = 0) {
        return access(tracebuf::memtrace::store, slot, seq, addr, value);
    }
    /// One SUMMARY record with (serial, tid, records) entries.
    trace_builder& summary(std::initializer_list<tracebuf::memtrace::summary_entry> entries,
                           std::uint16_t type = tracebuf::memtrace::summary) {
        std::vector<unsigned char> p(sizeof(tracebuf::memtrace::summary_header) + entries.size() * 16);
        const tracebuf::memtrace::summary_header h{static_cast<std::uint32_t>(entries.size()),
                                                   static_cast<std::uint32_t>(entries.size())};
        std::memcpy(p.data(), &h, sizeof h);
        std::size_t at = sizeof h;
        for (const auto& e : entries) {
            std::memcpy(p.data() + at, &e, sizeof e);
            at += sizeof e;
        }
        return record(type, 0, p.data(), p.size());
    }
    /// A chunk header announcing `bytes` bytes from here.
    trace_builder& chunk(std::uint32_t tid, std::uint32_t bytes, std::uint64_t sequence, std::uint32_t pid = 4242) {
        const tracebuf::chunk_header h{pid, tid, bytes, sequence};
        return record(tracebuf::tags::chunk, 0, &h, sizeof h);
    }
    /// Padding up to `offset` (a multiple of 8, at least one record past the end).
    trace_builder& pad_to(std::size_t offset) {
        const std::size_t at = bytes_.size();
        if (offset <= at) throw std::logic_error("pad_to: the records reach past the offset already");
        bytes_.resize(offset, 0);
        tracebuf::write_padding(bytes_.data() + at, offset - at, 4096);
        return *this;
    }

    std::size_t size() const { return bytes_.size(); }
    const std::vector<unsigned char>& bytes() const { return bytes_; }
    std::vector<unsigned char>& bytes() { return bytes_; }

private:
    std::vector<unsigned char> bytes_;
};

} // namespace tracebuf_test

#endif
