/* Signal hygiene: keep SIGTRAP deliverable in every thread and keep
 * poketrace's handlers installed, whatever the program does with sigaction,
 * signal and the signal masks (see "Signals" in include/poketrace.h). */
#ifndef PT_ARCH_SIGGUARD_H
#define PT_ARCH_SIGGUARD_H

#include <signal.h>
#include <stdbool.h>

typedef void (*sigguard_fn)(int, siginfo_t *, void *);

/* Installs fn as the kernel-level handler of sig and keeps it there: the
 * handler the program had, and any it installs later, becomes the chained
 * handler that sigguard_chain() calls.  0 or -errno. */
int sigguard_own(int sig, sigguard_fn fn);

/* Gives a signal poketrace owns to the program's handler, or carries out the
 * default action (terminating the process with sig, as the kernel would). */
void sigguard_chain(int sig, siginfo_t *si, void *uc);

/* Takes SIGTRAP (and other owned signals) out of the handlers already
 * installed and out of the calling thread's mask. */
void sigguard_harden(void);

#endif
