/* docs/protocol.pml - a Spin model of tracebuf's quiescence counter and flush barrier:
 * park/unpark around syscalls, the FLUSHING gate, the position handoff (chained when the
 * parked claims overflow again), and the take-over of idle producers with padding of their
 * open chunk tails. docs/protocol.md, "The Spin model", says which code each part mirrors.
 *
 * Spin interleaves whole statements under sequential consistency. Memory orders are not
 * checked here (Relacy does that); this model checks the protocol: every read-modify-write
 * of the state word S is one atomic step, as in the code, and every other access one step.
 *
 * Checked in every reachable state, exhaustively:
 *   - no invalid end state: every producer finishes its script (no deadlock, no lost
 *     wake-up: the futex is modelled exactly, see futex_wait);
 *   - a flush reads [0, end) only when every cell there is written or padded, none is
 *     being written, and nothing past end was written (assert in write_out);
 *   - no producer writes while FLUSHING is set, and never into a written cell (overlap);
 *   - the online count never goes below zero;
 *   - at the end (the drain): [0, P) is written except the open tails of producers still
 *     idle and not taken over, and the rest of the buffer is empty.
 *
 * Switches (spin -D...): CAP (capacity in cells), EPOCH_BITS, OLD_STEPBACK_WAIT (the
 * step-back in enter_online waits for an epoch change only, as before the epoch-wrap fix),
 * NO_SPURIOUS, WITNESS (below), and the mutants, each a bug the model must catch:
 *   MUT_NUDGE_TOGGLE          idle toggles NUDGE, the flusher never clears it (the old code)
 *   MUT_NO_LEAVE_NOTIFY       leave_online does not wake the flusher
 *   MUT_LEAVE_NOTIFY_FIRST    ... wakes it before its decrement
 *   MUT_NO_RELEASE_NOTIFY     release does not wake the parked and stepped-back threads
 *   MUT_RELEASE_NOTIFY_FIRST  ... wakes them before its fetch_add
 *   MUT_NO_IDLE_NOTIFY        idle sets NUDGE but does not wake the flusher
 *   MUT_NO_PADDING            the take-over does not pad the open range
 *   MUT_NO_MOVE_DOWN          the flusher does not move P down (no rebase)
 *   MUT_NO_HANDOFF            a parked claim keeps its old position
 *   MUT_NO_FLUSHING_GATE      enter_online ignores FLUSHING
 *   MUT_BUSY_LOAD_STORE       busy reads, then writes its slot: two steps, not one exchange
 *   MUT_LEAVE_LOAD_STORE      ... go_offline and unregister likewise
 *   MUT_RECLAIM_LOAD_STORE    reclaim_idle stores online after its load, without a CAS
 *   MUT_PARK_WAITS_FLUSHING   a parked thread, too, returns once FLUSHING is clear
 *   MUT_FLUSH_BASE_END        a flush request moves the space down by its position only
 * OLD_STEPBACK_WAIT with EPOCH_BITS=1 is the epoch-wrap bug itself.
 */

#ifndef CAP
#define CAP 2                 /* cells; claims are 1 or 2 cells */
#endif
#ifndef EPOCH_BITS
#define EPOCH_BITS 2          /* the code has 13; only compared for change */
#endif
#define NP 3                  /* producers */

/* The state word S, as in quiescence.hpp with narrower fields. */
#define CNT       15          /* online count (16 bits in the code) */
#define WAITING   16
#define FLUSHING  32
#define NUDGE     64
#define ESHIFT    7
#define EONE      128
#define SMASK     ((EONE << EPOCH_BITS) - 1)  /* the epoch carries out of the top, as u32 does */

/* Idle slot words: state in bits 0..2, open range offset in bits 3..4, length in 5..6. */
#define SL_FREE    0
#define SL_ONLINE  1
#define SL_IDLE    2
#define SL_TAKEN   3
#define SL_OFFLINE 4
#define SLST(w)    ((w) & 7)
#define SLOFF(w)   (((w) >> 3) & 3)
#define SLLEN(w)   (((w) >> 5) & 3)
#define IDLE_WORD(off, width) (SL_IDLE | ((off) << 3) | ((width) << 5))

/* Producer states (producer.hpp). */
#define ST_UNREG   0
#define ST_ONLINE  1
#define ST_OFFLINE 2
#define ST_IDLE    3

/* Buffer cells. */
#define EMPTY   0
#define WRITING 1
#define DONE    2             /* a record, or padding */

int  S = 0;                   /* quiescence_counter::state_ */
byte K = 0;                   /* quiescence_counter::parked_ */
byte I[NP];                   /* quiescence_counter::slots_ (producer i owns slot i) */
byte P = 0;                   /* arena::position_ */
byte B = 0;                   /* flush_barrier::handoff_base_ */
byte buf[CAP];                /* the current buffer */
bit  asleep[NP];              /* in futex_wait on S */
byte finished = 0;            /* producers done with their script */

/* Reachability witnesses (-DWITNESS=mask): ghost bits for the events below; the drain
 * asserts that not all bits of the mask were seen, so pan reports a run in which they all
 * happened. Without WITNESS the ghosts do not exist. */
#define W_FLUSH2        1     /* a second flush */
#define W_FLUSH3        2     /* a third flush */
#define W_CHAINED       4     /* a claim handed off past the end again: it leads or re-parks */
#define W_REPARKED      8     /* ... and parks again */
#define W_STEPBACK     16     /* go_online saw FLUSHING and stepped back */
#define W_TAKEOVER     32     /* a flusher took an idle producer over */
#define W_NUDGE        64     /* idle saw WAITING and nudged */
#define W_BUSY_TAKEN  128     /* busy found its slot taken */
#define W_RECLAIM_LOST 256    /* reclaim_idle lost to a take-over */
#define W_OFFLINE_TAKEN 512   /* go_offline found its slot taken */
#define W_WRAP       1024     /* the epoch wrapped */
#define W_UNREG_TAKEN 2048    /* unregister found its slot taken */
#define W_STEPBACK_REGISTER 4096   /* register_thread stepped back */
#define W_STEPBACK_BUSY 8192  /* busy, after a take-over, stepped back */
#define W_FLUSH_REQUEST 16384 /* a flush request led its flush */
#ifdef WITNESS
#define SEEN(bit) seen = seen | (bit)
short seen = 0;
byte flushes = 0;
#else
#define SEEN(bit) skip
#endif

/* ---- the futex (wait_futex.hpp; Boost.Atomic wait/notify_all) ------------------------ */

/* wait(S, old): compares and enqueues in one step, then sleeps until a notify_all. A
 * spurious return is the same as not sleeping (nobody observes a sleeper), so the model
 * allows one at every wait; NO_SPURIOUS removes it (for the non-progress search). */
inline futex_wait(old) {
    atomic {
        if
        :: S == old -> asleep[me] = 1
#ifndef NO_SPURIOUS
        :: S == old -> skip
#endif
        :: else -> skip
        fi
    }
    if
    :: asleep[me] == 0 -> skip
    :: asleep[me] == 1 -> (asleep[me] == 0)
    fi
}

inline notify_all() {
    d_step { asleep[0] = 0; asleep[1] = 0; asleep[2] = 0 }
}

/* ---- quiescence.hpp --------------------------------------------------------------- */

/* leave_online: fetch_sub(S, 1) release; notify if it made the count zero while WAITING. */
inline leave_online() {
#ifdef MUT_LEAVE_NOTIFY_FIRST
    notify_all();
#endif
    d_step { old = S; assert((old & CNT) > 0); S = (S - 1) & SMASK }
#if !defined(MUT_NO_LEAVE_NOTIFY) && !defined(MUT_LEAVE_NOTIFY_FIRST)
    if
    :: (old & (WAITING | CNT)) == (WAITING | 1) -> notify_all()
    :: else -> skip
    fi;
#endif
    skip
}

/* await_epoch_change, for a parked thread: until the epoch differs from e. */
inline await_release(e) {
    do
    :: s = S;
       if
#ifdef MUT_PARK_WAITS_FLUSHING
       :: !(s & FLUSHING) || (s >> ESHIFT) != e -> break
#else
       :: (s >> ESHIFT) != e -> break
#endif
       :: else -> futex_wait(s)
       fi
    od;
    s = 0
}

/* enter_online: fetch_add(S, 1) acquire; if FLUSHING was set, step back and wait until the
 * flush is over: FLUSHING clear or the epoch changed (OLD_STEPBACK_WAIT: epoch only). */
inline enter_online(why) {
    do
    :: d_step { old = S; S = (S + 1) & SMASK }
       if
#ifdef MUT_NO_FLUSHING_GATE
       :: true -> break
#else
       :: !(old & FLUSHING) -> break
#endif
       :: else ->
          e = old >> ESHIFT;
          leave_online();
          SEEN(why);
          do
          :: s = S;
             if
#ifdef OLD_STEPBACK_WAIT
             :: (s >> ESHIFT) != e -> break
#else
             :: !(s & FLUSHING) || (s >> ESHIFT) != e -> break
#endif
             :: else -> futex_wait(s)
             fi
          od;
          s = 0; e = 0
       fi
    od;
    old = 0
}

/* ---- the buffer ------------------------------------------------------------------- */

/* A producer fills [from, from + width): two steps, "being written" between them. */
inline write_cells(from, width) {
    d_step {
        assert(!(S & FLUSHING));
        assert(from + width <= CAP);
        i = from;
        do
        :: i < from + width -> assert(buf[i] == EMPTY); buf[i] = WRITING; i++
        :: else -> break
        od;
        i = 0
    }
    d_step {
        assert(!(S & FLUSHING));
        i = from;
        do
        :: i < from + width -> buf[i] = DONE; i++
        :: else -> break
        od;
        i = 0
    }
}

/* flush_barrier::write_out of [0, upto), then the zeroing: every cell below is complete,
 * none above was written (those belong to the crossing claim or to parked ones). */
inline write_out(upto) {
    d_step {
        i = 0;
        do
        :: i < upto -> assert(buf[i] == DONE); buf[i] = EMPTY; i++
        :: i >= upto && i < CAP -> assert(buf[i] == EMPTY); i++
        :: i == CAP -> break
        od;
        i = 0
    }
}

/* ---- the flusher: await_quiescence with take_idle_producers, then lead ---------------- */

inline await_quiescence() {
    d_step { assert((S & CNT) > 0); S = (S - 1) & SMASK; s = S }
    do
    :: (s & CNT) == 0 ->
       /* CAS count 0 -> FLUSHING, clearing WAITING (acquire) */
       atomic {
           if
           :: S == s -> S = (s & ~WAITING) | FLUSHING; break
           :: else -> s = S
           fi
       }
    :: (s & CNT) != 0 && !(s & WAITING) ->
       /* CAS setting WAITING (seq_cst); on success, go on with the value it wrote */
       d_step {
           if
           :: S == s -> S = s | WAITING; s = S
           :: else -> s = S
           fi
       }
#ifndef MUT_NUDGE_TOGGLE
    :: (s & CNT) != 0 && (s & WAITING) && (s & NUDGE) ->
       /* fetch_and(~NUDGE) acquire; then re-check the count */
       d_step { S = S & ~NUDGE; s = S }
    :: (s & CNT) != 0 && (s & WAITING) && !(s & NUDGE) ->
#else
    :: (s & CNT) != 0 && (s & WAITING) ->
#endif
       /* take_idle_producers: a seq_cst load, then an acquire CAS, per slot */
       i = 0;
       do
       :: i < NP ->
          w = I[i];
          if
          :: SLST(w) == SL_IDLE ->
             d_step {
                 if
                 :: I[i] == w -> I[i] = SL_TAKEN; taken++
                 :: else -> w = 0
                 fi
             }
#ifndef MUT_NO_PADDING
             /* close_open_range: pad the taken thread's open tail */
             d_step {
                 j = SLOFF(w);
                 do
                 :: j < SLOFF(w) + SLLEN(w) -> assert(buf[j] == EMPTY); buf[j] = DONE; j++
                 :: else -> break
                 od;
                 j = 0
             }
#endif
#ifdef WITNESS
             if
             :: w != 0 -> SEEN(W_TAKEOVER)
             :: else -> skip
             fi;
#endif
             skip
          :: else -> skip
          fi;
          w = 0;
          i++
       :: else -> i = 0; break
       od;
       if
       :: taken > 0 ->
          d_step { assert((S & CNT) >= taken); S = (S - taken) & SMASK; s = S; taken = 0 }
       :: else ->
          futex_wait(s);
          s = S
       fi
    od;
    s = 0
}

/* flush_barrier::lead(end = pos, base) with the inline (single buffer) write-out. */
inline lead(base) {
    await_quiescence();
    write_out(pos);
#ifdef WITNESS
    d_step {
        flushes++;
        if :: flushes >= 2 -> SEEN(W_FLUSH2) :: else -> skip fi;
        if :: flushes >= 3 -> SEEN(W_FLUSH3) :: else -> skip fi;
        if :: flushes >= (1 << EPOCH_BITS) -> SEEN(W_WRAP) :: else -> skip fi
    }
#endif
    B = (base);
#ifndef MUT_NO_MOVE_DOWN
    d_step { P = P - (base) }                       /* arena::rebase */
#endif
    d_step { k = K; K = 0 }                         /* take_parked */
#ifdef MUT_RELEASE_NOTIFY_FIRST
    notify_all();
#endif
    d_step { S = (S + k + 1 + EONE - FLUSHING) & SMASK; k = 0 }   /* release */
#if !defined(MUT_NO_RELEASE_NOTIFY) && !defined(MUT_RELEASE_NOTIFY_FIRST)
    notify_all();
#endif
    pos = 0
}

/* ---- flush_barrier::settle ---------------------------------------------------------- */

inline park() {
    d_step { K++ }
    leave_online();
    e = old >> ESHIFT; old = 0;
    await_release(e);
    e = 0;
#ifdef WITNESS
    if
    :: pos - B > CAP -> SEEN(W_REPARKED | W_CHAINED)
    :: pos - B <= CAP && pos - B + n > CAP -> SEEN(W_CHAINED)
    :: else -> skip
    fi;
#endif
#ifndef MUT_NO_HANDOFF
    pos = pos - B
#endif
}

/* trace_buffer::reserve(n) = arena::reserve_fast + flush_barrier::settle. On return
 * [pos, pos + n) fits the buffer and is this thread's. */
inline reserve(nn) {
    n = nn;
    d_step { pos = P; P = P + n }
    do
    :: pos + n <= CAP -> break
    :: pos + n > CAP && pos <= CAP -> lead(pos)
    :: pos > CAP -> park()
    od
}

/* flush_barrier::flush: a claim of CAP + 1 that never fits. It leads once it crosses, and
 * the move-down skips its own bytes (MUT_FLUSH_BASE_END: it does not). */
inline flush_request() {
    n = CAP + 1;
    d_step { pos = P; P = P + n }
    do
    :: pos <= CAP ->
#ifdef MUT_FLUSH_BASE_END
       lead(pos);
#else
       lead(pos + n);
#endif
       SEEN(W_FLUSH_REQUEST);
       break
    :: pos > CAP -> park()
    od;
    n = 0
}

/* ---- producer calls (quiescence.hpp) -------------------------------------------------- */

inline do_register() {
    I[me] = SL_ONLINE;                              /* claim_slot: CAS free -> online */
    enter_online(W_STEPBACK_REGISTER);
    st = ST_ONLINE
}

/* go_offline / unregister_thread: one exchange on the slot decides whether the thread
 * still counts (leave_slot). */
inline leave_slot_and_count(to) {
#ifdef MUT_LEAVE_LOAD_STORE
    w = I[me];
    I[me] = to;
#else
    d_step { w = I[me]; I[me] = to }
#endif
    if
    :: (st == ST_ONLINE || st == ST_IDLE) && SLST(w) != SL_TAKEN -> leave_online(); old = 0
    :: SLST(w) == SL_TAKEN && to == SL_OFFLINE -> SEEN(W_OFFLINE_TAKEN)
    :: SLST(w) == SL_TAKEN && to == SL_FREE -> SEEN(W_UNREG_TAKEN)
    :: else -> skip
    fi;
    w = 0
}

inline do_go_offline() {
    leave_slot_and_count(SL_OFFLINE);
    st = ST_OFFLINE
}

inline do_unregister() {
    leave_slot_and_count(SL_FREE);
    st = ST_UNREG
}

inline do_go_online() {
    enter_online(W_STEPBACK);
    I[me] = SL_ONLINE;
    st = ST_ONLINE
}

/* idle(p, off, width): publish the slot word (seq_cst exchange), load S (seq_cst); if a
 * flusher waits, set NUDGE and wake it. */
inline do_idle(off, width) {
    I[me] = IDLE_WORD(off, width);
    if
    :: (S & WAITING) ->
#ifdef MUT_NUDGE_TOGGLE
       d_step { S = S ^ NUDGE }
#else
       d_step { S = S | NUDGE }
#endif
       SEEN(W_NUDGE);
#ifndef MUT_NO_IDLE_NOTIFY
       notify_all()
#else
       skip
#endif
    :: else -> skip
    fi;
    st = ST_IDLE
}

/* busy(p): exchange the slot to online; if it was taken, come back in through the gate.
 * Sets tk (taken_over). */
inline do_busy() {
#ifdef MUT_BUSY_LOAD_STORE
    w = I[me];
    I[me] = SL_ONLINE;
#else
    d_step { w = I[me]; I[me] = SL_ONLINE }
#endif
    tk = (SLST(w) == SL_TAKEN);
    w = 0;
    if
    :: tk -> SEEN(W_BUSY_TAKEN); enter_online(W_STEPBACK_BUSY)
    :: else -> skip
    fi;
    st = ST_ONLINE
}

/* reclaim_idle(p): a load, then CAS idle -> online while the slot is idle. tk = 1 if it
 * failed (taken over). */
inline do_reclaim_idle() {
    w = I[me];
    do
    :: SLST(w) == SL_IDLE ->
#ifdef MUT_RECLAIM_LOAD_STORE
       I[me] = SL_ONLINE; st = ST_ONLINE; tk = 0; break
#else
       atomic {
           if
           :: I[me] == w -> I[me] = SL_ONLINE; st = ST_ONLINE; tk = 0; break
           :: else -> w = I[me]
           fi
       }
#endif
    :: else -> tk = 1; SEEN(W_RECLAIM_LOST); break
    od;
    w = 0
}

/* ---- the producers' scripts ---------------------------------------------------------- */

#define LOCALS  short old, s; byte pos, n, e, w, i, j, k, taken, st, tk

/* Record mode with a syscall: two claims of 2 cells, offline and online between them, and
 * an explicit flush before the second. */
proctype Syscaller() {
    byte me = 0;
    LOCALS;
    do_register();
    reserve(2); write_cells(pos, 2);
    do_go_offline();
    do_go_online();
    flush_request();
    reserve(2); write_cells(pos, 2);
    do_unregister();
    finished++
}

/* Chunk mode between callbacks: a chunk of 2 cells, its header written, the tail left open
 * over idle; then busy (the tail padded by us, or by a flusher that took us over), a second
 * chunk, idle again, and then either stopped for good or going offline the chunk_writer way
 * (reclaim_idle, pad the tail unless taken over). */
proctype ChunkIdler() {
    byte me = 1;
    LOCALS;
    do_register();
    reserve(2); write_cells(pos, 1);
    do_idle(pos + 1, 1);
    do_busy();
    if
    :: !tk -> write_cells(pos + 1, 1)
    :: else -> skip                                 /* the flusher padded it */
    fi;
    tk = 0;
    reserve(2); write_cells(pos, 1);
    do_idle(pos + 1, 1);
    if
    :: skip                                         /* the host stops the thread for good */
    :: do_reclaim_idle();
       if
       :: !tk -> write_cells(pos + 1, 1)
       :: else -> skip
       fi;
       tk = 0;
       do_go_offline()
    fi;
    finished++
}

/* Record mode between callbacks: one record, idle with nothing open, then either stopped
 * for good or unregistering straight from idle (the slot exchange races a take-over). */
proctype RecordIdler() {
    byte me = 2;
    LOCALS;
    do_register();
    reserve(1); write_cells(pos, 1);
    do_idle(0, 0);
    if
    :: skip
    :: do_unregister()
    fi;
    finished++
}

/* The drain, once every producer is done: nothing pending, the buffer as the claims left
 * it. A producer that stayed idle and was not taken over still counts and may have an open
 * tail. */
init {
    byte c, q, idle_counted;
    atomic { run Syscaller(); run ChunkIdler(); run RecordIdler() }
    (finished == NP);
    d_step {
        assert(!(S & FLUSHING) && K == 0 && P <= CAP);
        idle_counted = 0;
        q = 0;
        do
        :: q < NP -> idle_counted = idle_counted + (SLST(I[q]) == SL_IDLE); q++
        :: else -> break
        od;
        assert((S & CNT) == idle_counted);
        c = 0;
        do
        :: c < CAP ->
           if
           :: c < P && buf[c] == DONE -> skip
           :: c < P && buf[c] == EMPTY ->        /* must be an untaken idle tail */
              q = 0;
              do
              :: q < NP && SLST(I[q]) == SL_IDLE && SLOFF(I[q]) <= c && c < SLOFF(I[q]) + SLLEN(I[q]) -> break
              :: q < NP && !(SLST(I[q]) == SL_IDLE && SLOFF(I[q]) <= c && c < SLOFF(I[q]) + SLLEN(I[q])) -> q++
              :: q == NP -> assert(false)
              od
           :: c >= P -> assert(buf[c] == EMPTY)
           :: else -> assert(false)
           fi;
           c++
        :: else -> break
        od
    }
#ifdef WITNESS
    assert((seen & (WITNESS)) != (WITNESS))
#endif
}
