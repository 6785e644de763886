/* Signal hygiene: keep SIGTRAP deliverable in every thread and keep
 * poketrace's handlers installed, whatever the program does with sigaction,
 * signal and the signal masks (see "Signals" in include/poketrace.h).
 *
 * Two layers, so that safety does not depend on catching every path:
 *   - interposers (sigguard_libc.c) of every glibc 2.36 function that sets a
 *     mask or a handler, effective when poketrace is loaded at start
 *     (LD_PRELOAD, linked) and, after a late load, through the program's
 *     GOT entries (gotpatch.c);
 *   - before every batch, a check of each thread's real mask and of the
 *     kernel's handlers (sync_begin): what a raw system call, glibc's own
 *     helper threads or a mask set before the load left is repaired, or the
 *     batch is refused. */
#ifndef PT_ARCH_SIGGUARD_H
#define PT_ARCH_SIGGUARD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef void (*sigguard_fn)(int, siginfo_t *, void *);

/* Installs fn as the kernel-level handler of sig and keeps it there: the
 * handler the program had, and any it installs later, becomes the chained
 * handler that sigguard_chain() calls.  0 or -errno. */
int sigguard_own(int sig, sigguard_fn fn);

/* Gives a signal poketrace owns to the program's handler (with the program's
 * sa_mask, except SIGTRAP itself, which stays deliverable), or carries out
 * the default action (terminating the process with sig, as the kernel
 * would). */
void sigguard_chain(int sig, siginfo_t *si, void *uc);

/* Takes SIGTRAP (and other owned signals) out of the handlers already
 * installed and out of the calling thread's mask. */
void sigguard_harden(void);

/* Takes SIGTRAP and the owned signals out of a mask.  Async-signal-safe. */
void sigguard_strip(sigset_t *s);
/* Unblocks the owned signals in the calling thread.  Async-signal-safe. */
void sigguard_unblock_owned(void);
/* Blocks every signal but the owned ones (glibc's own, and the CPU-time
 * timers' SIGPROF and SIGVTALRM) in the calling thread: for poketrace's
 * own threads, whatever the load order bound pthread_sigmask to. */
void sigguard_block_others(void);
/* Whether sig is one of poketrace's. */
bool sigguard_owns(int sig);

/* Puts poketrace's handlers back where the program replaced them by a path
 * the interposers did not see; the program's becomes the chained one. */
void sigguard_reown(void);

/* The interposers' view of the owned signals (sigguard_libc.c): what the
 * program sees as its handler, and setting it. */
int sigguard_get_chained(int sig, struct sigaction *out);
int sigguard_set_chained(int sig, const struct sigaction *act);

/* Called before a longjmp family jump with the stack pointer it resumes at
 * (hooks.c: a jump out of a handler clears the per-thread guard). */
#include <stdint.h>
extern void (*_Atomic sigguard_on_longjmp)(uintptr_t sp);
/* Called first in every thread made by pthread_create (hooks.c: the
 * registry of guards reclaiming reads). */
extern void (*_Atomic sigguard_on_thread_start)(void);

/* The interposers by name, at their addresses in this library (for a late
 * load, which points the program's GOT slots at them). */
struct sigguard_interposer {
	const char *name;
	void *fn;
};
const struct sigguard_interposer *sigguard_interposers(size_t *n);
/* The interposer of that name, or NULL (the table is sorted by name). */
const struct sigguard_interposer *sigguard_interposer(const char *name);

#endif
