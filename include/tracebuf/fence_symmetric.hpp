// tracebuf/fence_symmetric.hpp - the default idle-fence policy: no asymmetric barrier.
//
// An idle-fence policy (Traits::idle_fence) decides how the idle protocol orders a store
// before a load on both sides of its Dekker pair (docs/protocol.md, I9): a producer going
// idle stores its slot, then loads the state word to see whether a flusher waits; a flusher
// that starts waiting sets WAITING in the state word, then loads the slots.
//
// The contract: policies.hpp. With asymmetric() false both sides use sequentially
// consistent operations (idle() costs one locked instruction on x86); with it true the
// producer's side is light() and the flusher calls heavy() once after setting WAITING.
//
// This policy is the symmetric form. fence_membarrier.hpp has the asymmetric one (Linux).
// Freestanding.
#ifndef TRACEBUF_FENCE_SYMMETRIC_HPP
#define TRACEBUF_FENCE_SYMMETRIC_HPP

namespace tracebuf {

struct symmetric_fence {
    static constexpr bool asymmetric() noexcept { return false; }
    static void light() noexcept {}
    static void heavy() noexcept {}
};

} // namespace tracebuf

#endif // TRACEBUF_FENCE_SYMMETRIC_HPP
