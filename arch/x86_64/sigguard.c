/* Signal hygiene: the signals poketrace owns (SIGTRAP and the engine's
 * signal), their chained handlers, and the masks.  A thread that executes
 * int3 with SIGTRAP blocked is killed by the kernel, and a SIGTRAP handler
 * the program installs would replace ours; both would turn a patch window
 * into a crash.  So SIGTRAP is never blocked, and the program's handlers for
 * the signals we own are kept aside and chained (see sigguard.h for the two
 * layers that keep it so). */
#include "arch/x86_64/sigguard.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "arch/x86_64/rawsys.h"

/* glibc's real sigaction, exported under this name since 2.2.5. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Each owned signal keeps the program's handler in a ring of immutable
 * copies: a handler running on another thread may still read the previous
 * one while a new one is published, and sigaction must stay
 * async-signal-safe (no malloc, no lock).  Writers take distinct slots
 * (fetch-and-add); a slot is reused only after CHAIN_RING more changes,
 * which no reader lives through. */
#define CHAIN_RING 64

struct owned {
	int sig;
	sigguard_fn fn;
	struct sigaction ring[CHAIN_RING];
	_Atomic unsigned next;
	_Atomic(struct sigaction *) chain; /* NULL: default action */
};

static struct owned owned[4];
static _Atomic int nowned;

static struct owned *owned_find(int sig)
{
	int n = atomic_load(&nowned);

	for (int i = 0; i < n; i++)
		if (owned[i].sig == sig)
			return &owned[i];
	return NULL;
}

bool sigguard_owns(int sig)
{
	return sig == SIGTRAP || owned_find(sig) != NULL;
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

PT_NOSANITIZE void sigguard_strip(sigset_t *s)
{
	int n = atomic_load(&nowned);

	set_clear(s, SIGTRAP);
	for (int i = 0; i < n; i++)
		set_clear(s, owned[i].sig);
}

/* Ours at the kernel: SA_NODEFER, so that a trap inside a SIGTRAP handler
 * (the program's, chained from ours) is handled too, not fatal; SA_ONSTACK
 * when the program's handler asked for its alternate stack. */
static int install_ours(struct owned *o)
{
	struct sigaction ours;
	struct sigaction *chain = atomic_load(&o->chain);

	memset(&ours, 0, sizeof(ours));
	ours.sa_sigaction = o->fn;
	ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART |
			(chain && (chain->sa_flags & SA_ONSTACK) ? SA_ONSTACK : 0);
	sigemptyset(&ours.sa_mask);
	return __sigaction(o->sig, &ours, NULL) < 0 ? -errno : 0;
}

static void chain_publish(struct owned *o, const struct sigaction *act)
{
	struct sigaction *slot;
	bool onstack_was, onstack_now;

	if (!act || act->sa_handler == SIG_DFL) {
		slot = NULL;
	} else {
		slot = &o->ring[atomic_fetch_add(&o->next, 1) % CHAIN_RING];
		*slot = *act;
		sigguard_strip(&slot->sa_mask);
	}
	onstack_was = atomic_load(&o->chain) && (atomic_load(&o->chain)->sa_flags & SA_ONSTACK);
	onstack_now = slot && (slot->sa_flags & SA_ONSTACK);
	atomic_store(&o->chain, slot);
	if (onstack_was != onstack_now)
		install_ours(o);
}

int sigguard_own(int sig, sigguard_fn fn)
{
	struct sigaction prev;
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
	if (prev.sa_sigaction != fn)
		chain_publish(o, &prev);
	return install_ours(o);
}

void sigguard_reown(void)
{
	int n = atomic_load(&nowned);

	for (int i = 0; i < n; i++) {
		struct sigaction cur;

		if (__sigaction(owned[i].sig, NULL, &cur) < 0 ||
		    ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == owned[i].fn))
			continue;
		chain_publish(&owned[i], &cur);
		install_ours(&owned[i]);
	}
}

int sigguard_get_chained(int sig, struct sigaction *out)
{
	struct owned *o = owned_find(sig);
	struct sigaction *cur = o ? atomic_load(&o->chain) : NULL;

	if (!o)
		return -EINVAL;
	if (cur) {
		*out = *cur;
	} else {
		memset(out, 0, sizeof(*out));
		out->sa_handler = SIG_DFL;
	}
	return 0;
}

int sigguard_set_chained(int sig, const struct sigaction *act)
{
	struct owned *o = owned_find(sig);

	if (!o)
		return -EINVAL;
	chain_publish(o, act);
	return 0;
}

PT_NOSANITIZE static void default_action(int sig, siginfo_t *si, bool ignored)
{
	/* What the kernel does: a trap it raised is fatal even if ignored; a
	 * signal someone sent is fatal if the action is the default (a core
	 * dump for SIGTRAP), and nothing if it is ignored. */
	if (ignored && si->si_code != SI_KERNEL)
		return;
	raw_sig_default(sig);
	raw_tgkill(raw_getpid(), raw_gettid(), sig);
}

PT_NOSANITIZE void sigguard_chain(int sig, siginfo_t *si, void *uc)
{
	struct owned *o = owned_find(sig);
	struct sigaction *a = o ? atomic_load(&o->chain) : NULL;

	if (!a || a->sa_handler == SIG_DFL) {
		default_action(sig, si, false);
		return;
	}
	if (a->sa_handler == SIG_IGN) {
		default_action(sig, si, true);
		return;
	}
	if (a->sa_flags & SA_RESETHAND)
		atomic_store(&o->chain, NULL);
	/* The program's handler runs with its sa_mask blocked, as the kernel
	 * would have done (the owned signals excepted: stripped when it was
	 * installed); the thread's mask is restored at sigreturn. */
	raw_sigprocmask(SIG_BLOCK, &a->sa_mask, NULL);
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		a->sa_handler(sig);
}

PT_NOSANITIZE void sigguard_unblock_owned(void)
{
	unsigned long all = ~0UL;

	/* the complement of what strip leaves: exactly the owned signals */
	sigguard_strip((sigset_t *)&all);
	all = ~all;
	raw_sigprocmask(SIG_UNBLOCK, &all, NULL);
}

void sigguard_block_others(void)
{
	unsigned long all = ~0UL;

	sigguard_strip((sigset_t *)&all);
	all &= ~(3UL << 31); /* glibc's SIGCANCEL and SIGSETXID, as its pthread_sigmask */
	/* Not the CPU-time timers' signals: the kernel sends them to the
	 * thread whose time ran out, and if that thread blocks them, to
	 * another one — a thread of the program asleep in nanosleep or poll,
	 * which then ends with EINTR (a -pg build's profil ticks, with the
	 * writer busy).  Their handlers are written to run in any thread. */
	all &= ~(1UL << (SIGPROF - 1) | 1UL << (SIGVTALRM - 1));
	raw_sigprocmask(SIG_BLOCK, &all, NULL);
}

void sigguard_harden(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction a;

		if (sig == SIGKILL || sig == SIGSTOP || owned_find(sig))
			continue;
		if (__sigaction(sig, NULL, &a) < 0 || a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN)
			continue;
		if (!set_has(&a.sa_mask, SIGTRAP))
			continue;
		sigguard_strip(&a.sa_mask);
		__sigaction(sig, &a, NULL);
	}
	sigguard_unblock_owned();
}
