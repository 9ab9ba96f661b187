// tracebuf/wait_serialized.hpp - the wait policy of a serialized host (Valgrind).
//
// Valgrind runs one guest thread at a time, and a thread is never switched out between a
// reservation and the end of its write (both are inside one superblock). So when a thread
// reaches the flush barrier, no other thread can be between its reservation and the end of
// its write, whatever the online count says: the flusher proceeds at once, and no thread
// ever parks.
//
// This policy has no wait() and no notify_all(): the core never blocks under it. Should a
// thread nevertheless find another thread's flush pending (the host is not serialized after
// all), the reservation fails with errc::would_block instead of waiting forever.
// Freestanding.
#ifndef TRACEBUF_WAIT_SERIALIZED_HPP
#define TRACEBUF_WAIT_SERIALIZED_HPP

namespace tracebuf {

struct serialized_host_wait {
    static constexpr bool serialized_host = true;
};

} // namespace tracebuf

#endif // TRACEBUF_WAIT_SERIALIZED_HPP
