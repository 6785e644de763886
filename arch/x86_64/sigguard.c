/* Interposed signal calls.  A thread that executes int3 with SIGTRAP blocked
 * is killed by the kernel, and a SIGTRAP handler the program installs would
 * replace ours; both would turn a patch window into a crash.  So while this
 * library is loaded, SIGTRAP is never blocked and the program's handlers for
 * the signals we own are kept aside and chained. */
#include "arch/x86_64/sigguard.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "arch/x86_64/rawsys.h"

#define PT_EXPORT __attribute__((visibility("default")))

/* glibc's real sigaction, exported under this name since 2.2.5. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* glibc's own signals (SIGCANCEL, SIGSETXID), which its pthread_sigmask never blocks. */
#define GLIBC_SIGCANCEL 32
#define GLIBC_SIGSETXID 33

/* Each owned signal keeps the program's handler in a ring of immutable
 * copies: a handler running on another thread may still read the previous one
 * while a new one is published, and sigaction must stay async-signal-safe
 * (no malloc). */
#define CHAIN_RING 16

struct owned {
	int sig;
	sigguard_fn fn;
	struct sigaction ring[CHAIN_RING];
	unsigned next;
	_Atomic(struct sigaction *) chain; /* NULL: default action */
};

static struct owned owned[2];
static _Atomic int nowned;

static struct owned *owned_find(int sig)
{
	int n = atomic_load(&nowned);

	for (int i = 0; i < n; i++)
		if (owned[i].sig == sig)
			return &owned[i];
	return NULL;
}

static void set_clear(sigset_t *s, int sig)
{
	/* Bit arithmetic: glibc's sigdelset refuses its internal signals. */
	unsigned long *w = (unsigned long *)s;

	w[(sig - 1) / (8 * sizeof(long))] &= ~(1UL << ((sig - 1) % (8 * sizeof(long))));
}

static bool set_has(const sigset_t *s, int sig)
{
	const unsigned long *w = (const unsigned long *)s;

	return w[(sig - 1) / (8 * sizeof(long))] & (1UL << ((sig - 1) % (8 * sizeof(long))));
}

static void strip_owned(sigset_t *s)
{
	int n = atomic_load(&nowned);

	set_clear(s, SIGTRAP);
	for (int i = 0; i < n; i++)
		set_clear(s, owned[i].sig);
}

static void chain_publish(struct owned *o, const struct sigaction *act)
{
	struct sigaction *slot = &o->ring[o->next++ % CHAIN_RING];

	*slot = *act;
	strip_owned(&slot->sa_mask);
	atomic_store(&o->chain, slot);
}

int sigguard_own(int sig, sigguard_fn fn)
{
	struct sigaction ours, prev;
	struct owned *o = owned_find(sig);

	if (!o) {
		int n = atomic_load(&nowned);

		if (n == (int)(sizeof(owned) / sizeof(owned[0])))
			return -ENOSPC;
		o = &owned[n];
		memset(o, 0, sizeof(*o));
		o->sig = sig;
		o->fn = fn;
		atomic_store(&nowned, n + 1);
	}
	if (__sigaction(sig, NULL, &prev) < 0)
		return -errno;
	if (prev.sa_sigaction != fn && prev.sa_handler != SIG_DFL)
		chain_publish(o, &prev);

	memset(&ours, 0, sizeof(ours));
	ours.sa_sigaction = fn;
	/* SA_NODEFER: a trap inside a SIGTRAP handler (the program's, chained
	 * from ours) must be handled too, not kill the process. */
	ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
	sigemptyset(&ours.sa_mask);
	if (__sigaction(sig, &ours, NULL) < 0)
		return -errno;
	return 0;
}

PT_NOSANITIZE static void default_action(int sig, siginfo_t *si)
{
	/* What the kernel does with an unhandled or ignored trap: terminate
	 * with that signal.  A user-sent signal the program ignores stays
	 * ignored. */
	if (si->si_code != SI_KERNEL && sig == SIGTRAP)
		return;
	raw_sig_default(sig);
	raw_tgkill(raw_getpid(), raw_gettid(), sig);
}

PT_NOSANITIZE void sigguard_chain(int sig, siginfo_t *si, void *uc)
{
	struct owned *o = owned_find(sig);
	struct sigaction *a = o ? atomic_load(&o->chain) : NULL;

	if (!a || a->sa_handler == SIG_DFL) {
		default_action(sig, si);
		return;
	}
	if (a->sa_handler == SIG_IGN) {
		if (si->si_code == SI_KERNEL)
			default_action(sig, si);
		return;
	}
	if (a->sa_flags & SA_RESETHAND)
		atomic_store(&o->chain, NULL);
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		a->sa_handler(sig);
}

void sigguard_harden(void)
{
	sigset_t unblock;

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction a;

		if (sig == SIGKILL || sig == SIGSTOP || owned_find(sig))
			continue;
		if (__sigaction(sig, NULL, &a) < 0 || a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN)
			continue;
		if (!set_has(&a.sa_mask, SIGTRAP))
			continue;
		strip_owned(&a.sa_mask);
		__sigaction(sig, &a, NULL);
	}
	sigemptyset(&unblock);
	sigaddset(&unblock, SIGTRAP);
	raw_sigprocmask(SIG_UNBLOCK, &unblock, NULL);
}

/* ------------------------------------------------------------ interposers */

PT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct owned *o = owned_find(sig);
	struct sigaction copy;

	if (o) {
		struct sigaction *cur = atomic_load(&o->chain);

		if (old) {
			if (cur) {
				*old = *cur;
			} else {
				memset(old, 0, sizeof(*old));
				old->sa_handler = SIG_DFL;
			}
		}
		if (act) {
			if (act->sa_handler == SIG_DFL)
				atomic_store(&o->chain, NULL);
			else
				chain_publish(o, act);
		}
		return 0;
	}
	if (act) {
		copy = *act;
		strip_owned(&copy.sa_mask);
		act = &copy;
	}
	return __sigaction(sig, act, old);
}

static __sighandler_t set_handler(int sig, __sighandler_t h, int flags, bool mask_self)
{
	struct sigaction a, old;

	if (h == SIG_ERR || sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&a, 0, sizeof(a));
	a.sa_handler = h;
	a.sa_flags = flags;
	sigemptyset(&a.sa_mask);
	if (mask_self)
		sigaddset(&a.sa_mask, sig);
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics, as glibc's signal(): restart, block the signal in its handler. */
PT_EXPORT __sighandler_t signal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

PT_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

PT_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

static long mask_change(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;

	if (set && (how == SIG_BLOCK || how == SIG_SETMASK)) {
		copy = *set;
		strip_owned(&copy);
		set_clear(&copy, GLIBC_SIGCANCEL);
		set_clear(&copy, GLIBC_SIGSETXID);
		set = &copy;
	}
	return raw_sigprocmask(how, set, old);
}

PT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	long r = mask_change(how, set, old);

	return r < 0 ? (int)-r : 0;
}

PT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	long r = mask_change(how, set, old);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

PT_EXPORT __sighandler_t sigset(int sig, __sighandler_t disp)
{
	sigset_t one, old;
	__sighandler_t prev;

	if (sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (disp == SIG_HOLD) {
		struct sigaction cur;

		if (sigaction(sig, NULL, &cur) < 0 || sigprocmask(SIG_BLOCK, &one, &old) < 0)
			return SIG_ERR;
		return set_has(&old, sig) ? SIG_HOLD : cur.sa_handler;
	}
	prev = set_handler(sig, disp, 0, false);
	if (prev == SIG_ERR || sigprocmask(SIG_UNBLOCK, &one, &old) < 0)
		return SIG_ERR;
	return set_has(&old, sig) ? SIG_HOLD : prev;
}
