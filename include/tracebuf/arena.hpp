// tracebuf/arena.hpp - component 1: the MPSC lock-free TLV arena.
//
// Host-supplied memory and one shared 64-bit position. A reservation of n bytes is
//
//     pos = fetch_add(position, n);              // reserve_fast
//     if (pos + n > capacity) pos = slow(pos, n); // flush_barrier::reserve_slow
//
// one atomic fetch_add and one compare against a constant: no thread-local storage, no CAS
// loop, no lock. It is straight-line code, so a JIT can emit it inline (see jit_layout).
//
// Positions between flushes form a "virtual space": they start at 0 after each flush and
// grow past the capacity while a flush is pending. The one reservation with
// pos <= capacity < pos + n crosses the end: pos is where valid data ends, and its owner
// flushes. Every reservation after it (pos > capacity) parks, and after the flush it is
// moved down by the crossing position, so the parked reservations keep their arrival order
// at the start of the fresh buffer (flush_barrier.hpp, docs/protocol.md).
//
// Double buffering (buffering::double_buffer): the host's memory holds two buffers of equal
// capacity. A flush swaps them at the barrier and writes the full one out after the parked
// threads are released (flush_barrier.hpp). The current buffer's address then changes at
// every flush, so a JIT loads it through jit_layout::current_data.
//
// Policies: Traits::atomics. Freestanding; never allocates.
#ifndef TRACEBUF_ARENA_HPP
#define TRACEBUF_ARENA_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/traits.hpp>

namespace tracebuf {

/// How the host's memory is used: one buffer, written out at the barrier while the other
/// threads wait, or two, one filled while the other is written out.
enum class buffering : unsigned char {
    single,
    double_buffer,
};

/// What the host's memory holds when it is handed over: anything (tracebuf zero-fills it
/// first), or zeros already (fresh anonymous mmap, static storage, a fresh file window).
enum class memory_contents : unsigned char {
    unknown,
    zeroed,
};

/// What a JIT needs to emit the fast path inline (for example as VEX IR):
///   - `position` is the address of the 64-bit position word (a fetch_add target; under a
///     serialized host a plain load/add/store of it is enough);
///   - `capacity` never changes for the life of the arena;
///   - with buffering::single, `data` never changes either, across any number of flushes:
///     only the value of the position word does;
///   - with buffering::double_buffer, `data` is the buffer current when layout() was called;
///     load `*current_data` after each claim instead (a plain load: it changes only while
///     no thread is online, and the quiescence counter orders it).
struct jit_layout {
    void* position;
    unsigned char* data;
    std::uint64_t capacity;
    unsigned char* const* current_data;
    bool data_is_constant;
};

template <class Traits>
class arena {
    using atomics = typename Traits::atomics;
    static_assert(detail::check_traits<Traits>());

public:
    /// Positions at or above this mean the arena was closed by a final drain.
    static constexpr std::uint64_t closed_position = std::uint64_t{1} << 63;
    /// Added to the position from a flush's move-down until just after its release: a claim
    /// made then carries it (and goes to the slow path, which removes it), so a claim whose
    /// thread was not online can tell the fresh space from the one being flushed
    /// (docs/protocol.md, "A claim by a producer that is not online").
    static constexpr std::uint64_t marked_position = std::uint64_t{1} << 62;

    /// `memory` must be 8-byte aligned and hold at least Traits::max_reservation bytes per
    /// buffer (two with buffering::double_buffer, which splits it in equal halves); a
    /// trailing part that is not a multiple of 8 is not used. The arena does not own it.
    /// Otherwise status() is errc::bad_arena and every reservation fails.
    arena(void* memory, std::size_t bytes, buffering mode = buffering::single) noexcept
        : data_(static_cast<unsigned char*>(memory)),
          capacity_((mode == buffering::double_buffer ? bytes / 2 : bytes) &
                    ~std::size_t{record_alignment - 1}) {
        const bool aligned = (reinterpret_cast<std::uintptr_t>(memory) % record_alignment) == 0;
        if (memory == nullptr || !aligned || capacity_ < Traits::max_reservation) {
            capacity_ = 0;
            position_.store(closed_position, atomics::relaxed); // every reservation fails
        } else if (mode == buffering::double_buffer) {
            spare_ = data_ + capacity_;
        }
    }
    arena(const arena&) = delete;
    arena& operator=(const arena&) = delete;

    errc status() const noexcept { return capacity_ == 0 ? errc::bad_arena : errc::ok; }

    /// The fast path: claims [pos, pos + n) of the virtual space. The claim is valid only if
    /// fits(pos, n); otherwise hand it to flush_barrier::reserve_slow.
    TRACEBUF_FORCEINLINE std::uint64_t reserve_fast(std::uint64_t n) noexcept {
        // relaxed: the claim only needs a unique range. The bytes written into it are
        // published by the producer's next park or go_offline (a release in the quiescence
        // counter), not by this operation.
        return position_.fetch_add(n, atomics::relaxed);
    }

    TRACEBUF_FORCEINLINE bool fits(std::uint64_t pos, std::uint64_t n) const noexcept {
        return pos + n <= capacity_;
    }

    /// The current buffer. With double buffering it changes at each flush, while no thread
    /// is online: an online thread reads the same value from its claim to its next park.
    unsigned char* data() const noexcept { return data_; }
    std::uint64_t capacity() const noexcept { return capacity_; }
    bool double_buffered() const noexcept { return spare_ != nullptr; }
    jit_layout layout() noexcept {
        return jit_layout{&position_, data_, capacity_, &data_, spare_ == nullptr};
    }

    /// A racy snapshot of the position, for statistics and tests.
    std::uint64_t position() const noexcept { return position_.load(atomics::relaxed); }

    // ---- For the flush barrier (no thread is online when these run) -----------------------

    /// Moves the virtual space down by `base` after a flush, and marks it (marked_position)
    /// until unmark(). Returns the new position, unmarked.
    std::uint64_t rebase(std::uint64_t base) noexcept {
        // relaxed: no thread is online; the quiescence counter's release publishes it.
        return position_.fetch_add(marked_position - base, atomics::relaxed) - base;
    }
    /// Ends the marked window that rebase opened. By the flusher, after its release.
    void unmark() noexcept {
        // relaxed: a claim in the window and one after it differ only by the mark, which the
        // slow path removes; the modification order of the position keeps them in order.
        position_.fetch_sub(marked_position, atomics::relaxed);
    }

    /// A serialized host's flush: the fresh space holds only the flusher's own claim.
    void reset(std::uint64_t position) noexcept {
        // relaxed: only one thread runs (serialized host).
        position_.store(position, atomics::relaxed);
    }

    /// Double buffering: makes the spare buffer current and returns the full one.
    unsigned char* swap_buffers() noexcept {
        unsigned char* full = data_;
        data_ = spare_;
        spare_ = full;
        return full;
    }

    /// Closes the arena if nothing is pending: returns the end of valid data, or the position
    /// that prevented closing (> capacity: a flush is pending; >= closed_position: closed).
    std::uint64_t try_close() noexcept {
        std::uint64_t pos = position_.load(atomics::relaxed);
        // relaxed: the caller guarantees that no producer runs; the host's own
        // synchronisation (thread join, exit) orders their writes before the drain.
        while (pos <= capacity_ &&
               !position_.compare_exchange_weak(pos, closed_position, atomics::relaxed,
                                                atomics::relaxed)) {
        }
        return pos;
    }

private:
    // Read by every reservation: keep them off the position's contended cache line. data_
    // and spare_ change only in swap_buffers, by a flusher while no thread is online; the
    // quiescence counter's acquire/release pairs order that against every reader.
    unsigned char* data_;
    unsigned char* spare_ = nullptr;
    std::uint64_t capacity_;
    // The class is 64-byte aligned and sized, so the position shares its line with nothing.
    alignas(detail::cache_line_size) typename atomics::template atomic<std::uint64_t> position_{0};
};

} // namespace tracebuf

#endif // TRACEBUF_ARENA_HPP
