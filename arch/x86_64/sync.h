/* Core serialization for cross-modifying code: after sync_cores() returns,
 * every thread of the process has executed a serializing instruction, so none
 * can still run instruction bytes it fetched before the call.  And the
 * batch's precondition: every thread able to take the int3. */
#ifndef PT_ARCH_SYNC_H
#define PT_ARCH_SYNC_H

enum sync_mode {
	SYNC_NONE = 0,
	SYNC_MEMBARRIER = 1, /* membarrier(PRIVATE_EXPEDITED_SYNC_CORE) */
	SYNC_SIGNAL = 2,     /* tgkill every thread; its handler runs CPUID */
};

/* want: 0 auto, SYNC_MEMBARRIER or SYNC_SIGNAL.  signo: the engine's signal
 * (the fallback's sync, and the hygiene of sync_begin, in either mode). */
int sync_init(int want, int signo);
/* At load: the default engine signal owned (so kept unblocked) from the start. */
void sync_preinstall(void);
int sync_mode(void);
int sync_signal(void);

/* Before a batch (engine lock held): makes every thread able to take the
 * int3 — poketrace's SIGTRAP handler installed, SIGTRAP deliverable in
 * each thread (a thread that has it blocked, through any path, is sent the
 * engine's signal, whose handler unblocks it) — and, in the signal mode,
 * reachable by the sync signal; and readies the batch's syncs (nothing
 * they need can fail later for want of a descriptor).  -EDEADLK naming the
 * thread when one cannot be reached; nothing is changed then. */
int sync_begin(void);
void sync_end(void);

/* 0 or -errno.  Bounded: a thread that neither acknowledges nor stops
 * running for 2 s fails it (-ETIMEDOUT).  Callable outside a batch (the
 * tracer's pause) and from a fatal signal handler: rounds never overlap,
 * and a round already running elsewhere makes it fail (-EBUSY). */
int sync_cores(void);
/* A signal round to every other thread, in either mode, each running
 * sync_ip_fixup (if set) on the address it was interrupted at, which it may
 * change: a thread inside code about to be overwritten is moved out of it.
 * A thread not running takes the signal before it runs anything else; one
 * asleep in a system call is let be (its IP follows a syscall instruction:
 * in no code overwritten), so that its sleep does not end in EINTR. */
int sync_interrupt_all(void);
extern void (*_Atomic sync_ip_fixup)(void *rip);

/* Runs fn(ucontext, arg) in thread tid, from the engine's signal, and waits
 * for it (up to timeout_ms): a look at a running thread's registers and
 * stack, as it is at that instant.  fn must be async-signal-safe.  0,
 * -ETIMEDOUT (fn will not run), -ESRCH (it exited), -EBUSY (a signal round
 * is running).  A thread about to block in a system call when the signal
 * lands sees it interrupted (EINTR where SA_RESTART does not apply), so
 * callers use it for threads seen running only. */
int sync_observe(long tid, void (*fn)(void *uc, void *arg), void *arg, int timeout_ms);

/* fork() gives the child a new mm whose membarrier registration is its own. */
void sync_atfork_child(void);

#endif
