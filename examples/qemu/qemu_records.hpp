// The memtrace payloads both QEMU plugins write (the tracer and its benchmark peers), built
// from what the plugin API reports. Kept in one place so the benchmark compares buffers, not
// record formats.
#ifndef TRACEBUF_QEMU_RECORDS_HPP
#define TRACEBUF_QEMU_RECORDS_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qemu_plugin_api.h"

namespace tracebuf_qemu {

// INSN: u32 insn_seq, u64 pc, u8 flags, instruction bytes.
struct __attribute__((packed)) insn_payload {
    std::uint32_t insn_seq;
    std::uint64_t pc;
    std::uint8_t flags;
    unsigned char bytes[32];
};

// Fills `d` for instruction `insn`; returns the payload's size.
inline std::size_t describe_insn(const qemu_plugin_insn* insn, std::uint32_t seq, insn_payload& d) {
    d.insn_seq = seq;
    d.pc = qemu_plugin_insn_vaddr(insn);
    d.flags = 0;
    std::size_t len = qemu_plugin_insn_size(insn);
    if (len > sizeof d.bytes) len = sizeof d.bytes;
    std::memcpy(d.bytes, qemu_plugin_insn_data(insn), len);
    return offsetof(insn_payload, bytes) + len;
}

// LOAD / STORE: u32 insn_seq, u64 address, the value.
struct __attribute__((packed)) access_payload {
    std::uint32_t insn_seq;
    std::uint64_t addr;
    unsigned char value[32]; // the widest access QEMU reports (size shift 5)
};

// Fills `r` for an access QEMU just reported; returns the payload's size. linux-user: the
// guest address is a host address of this process (guest_base 0 on x86-64 hosts), and the
// access just succeeded, so the page is mapped. A value another thread writes at the same
// moment may be seen either way.
inline std::size_t read_access(qemu_plugin_meminfo_t info, std::uint64_t vaddr, std::uint32_t seq,
                               access_payload& r) {
    r.insn_seq = seq;
    r.addr = vaddr;
    std::size_t size = std::size_t{1} << qemu_plugin_mem_size_shift(info);
    if (size > sizeof r.value) size = sizeof r.value;
    std::memcpy(r.value, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(vaddr)), size);
    return offsetof(access_payload, value) + size;
}

inline std::uint32_t seq_of(void* udata) {
    return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(udata));
}
inline void* udata_of(std::uint32_t seq) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq)); }

} // namespace tracebuf_qemu

#endif
