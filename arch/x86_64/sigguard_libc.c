/* Interposers of every glibc 2.36 function that sets a signal mask (for
 * good, or while it waits) or a handler, so that SIGTRAP and the engine's
 * signal stay deliverable and poketrace's handlers installed:
 *   handlers:  sigaction, signal, bsd_signal, sysv_signal, __sysv_signal,
 *              ssignal, sigset, sigignore, siginterrupt
 * (the list of names is arch/x86_64/interposed.syms: both libraries export
 * exactly those)
 *   masks:     sigprocmask, pthread_sigmask, sighold, sigsetmask, sigblock,
 *              setcontext, swapcontext, pthread_attr_setsigmask_np
 *   waits:     sigsuspend, sigpause, __sigpause, __xpg_sigpause, ppoll,
 *              pselect, epoll_pwait, epoll_pwait2
 *   callbacks: timer_create and mq_notify with SIGEV_THREAD (glibc runs the
 *              callback in a thread with every signal blocked)
 *   raw:       syscall() of the system calls behind all of these
 *   threads:   pthread_create (the new thread starts with the owned signals
 *              unblocked, whatever its creator blocked, and runs
 *              sigguard_on_thread_start first)
 *   jumps:     longjmp, _longjmp, siglongjmp, __longjmp_chk (siglongjmp's
 *              saved mask; and sigguard_on_longjmp, for poketrace's
 *              per-thread guard, which a jump out of a handler leaves set)
 * Each takes the owned signals out of the mask it is given, or routes the
 * owned signals' handlers to the chain (sigguard.c).  What they cannot see
 * (inline system calls, glibc's internal helpers such as aio's and
 * getaddrinfo_a's notification threads) the check before every batch
 * repairs or refuses (sync_begin). */
#include <dlfcn.h>
#include <errno.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/sigguard.h"

#define PT_EXPORT __attribute__((visibility("default")))

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* glibc's own signals (SIGCANCEL, SIGSETXID), which its pthread_sigmask never blocks. */
#define GLIBC_SIGCANCEL 32
#define GLIBC_SIGSETXID 33

/* The functions interposed, as glibc has them (found at load time: the
 * interposers may run in signal handlers, where dlsym may not). */
static struct {
	int (*sigsuspend)(const sigset_t *);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
	int (*setcontext)(const ucontext_t *);
	int (*swapcontext)(ucontext_t *, const ucontext_t *);
	int (*attr_setsigmask)(pthread_attr_t *, const sigset_t *);
	int (*timer_create)(clockid_t, struct sigevent *, timer_t *);
	int (*mq_notify)(mqd_t, const struct sigevent *);
	void (*longjmp)(struct __jmp_buf_tag *, int);
	void (*_longjmp)(struct __jmp_buf_tag *, int);
	void (*siglongjmp)(struct __jmp_buf_tag *, int);
	void (*longjmp_chk)(struct __jmp_buf_tag *, int);
	int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
} real;

void (*_Atomic sigguard_on_thread_start)(void);

void (*_Atomic sigguard_on_longjmp)(uintptr_t sp);

__attribute__((constructor(101))) static void resolve(void)
{
#define FIND(field, name) real.field = (__typeof__(real.field))dlsym(RTLD_NEXT, name)
	FIND(sigsuspend, "sigsuspend");
	FIND(ppoll, "ppoll");
	FIND(pselect, "pselect");
	FIND(epoll_pwait, "epoll_pwait");
	FIND(epoll_pwait2, "epoll_pwait2");
	FIND(setcontext, "setcontext");
	FIND(swapcontext, "swapcontext");
	FIND(attr_setsigmask, "pthread_attr_setsigmask_np");
	FIND(timer_create, "timer_create");
	FIND(mq_notify, "mq_notify");
	FIND(longjmp, "longjmp");
	FIND(_longjmp, "_longjmp");
	FIND(siglongjmp, "siglongjmp");
	FIND(longjmp_chk, "__longjmp_chk");
	FIND(pthread_create, "pthread_create");
#undef FIND
}

static int fail(int e)
{
	errno = e;
	return -1;
}

/* A copy of set without the owned signals, or NULL. */
static const sigset_t *stripped(const sigset_t *set, sigset_t *copy)
{
	if (!set)
		return NULL;
	*copy = *set;
	sigguard_strip(copy);
	return copy;
}

/* ------------------------------------------------------------ handlers */

PT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction copy;

	if (sig > 0 && sig < NSIG && sigguard_owns(sig)) {
		if (old)
			sigguard_get_chained(sig, old);
		if (act)
			sigguard_set_chained(sig, act);
		return 0;
	}
	if (act) {
		copy = *act;
		sigguard_strip(&copy.sa_mask);
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

PT_EXPORT __sighandler_t ssignal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

PT_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

PT_EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
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
		return sigismember(&old, sig) ? SIG_HOLD : cur.sa_handler;
	}
	prev = set_handler(sig, disp, 0, false);
	if (prev == SIG_ERR || sigprocmask(SIG_UNBLOCK, &one, &old) < 0)
		return SIG_ERR;
	return sigismember(&old, sig) ? SIG_HOLD : prev;
}

PT_EXPORT int sigignore(int sig)
{
	return set_handler(sig, SIG_IGN, 0, false) == SIG_ERR ? -1 : 0;
}

PT_EXPORT int siginterrupt(int sig, int interrupt)
{
	struct sigaction a;

	if (sig <= 0 || sig >= NSIG || sigaction(sig, NULL, &a) < 0)
		return fail(EINVAL);
	if (interrupt)
		a.sa_flags &= ~SA_RESTART;
	else
		a.sa_flags |= SA_RESTART;
	return sigaction(sig, &a, NULL);
}

/* ------------------------------------------------------------ masks */

static long mask_change(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;

	if (set && (how == SIG_BLOCK || how == SIG_SETMASK)) {
		copy = *set;
		sigguard_strip(&copy);
		((unsigned long *)&copy)[0] &= ~(3UL << (GLIBC_SIGCANCEL - 1)); /* and SIGSETXID */
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

	return r < 0 ? fail((int)-r) : 0;
}

PT_EXPORT int sighold(int sig)
{
	sigset_t one;

	if (sig <= 0 || sig >= NSIG)
		return fail(EINVAL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	return sigprocmask(SIG_BLOCK, &one, NULL);
}

/* The BSD masks: an int of the first 32 signals. */
static int bsd_mask(int how, int mask)
{
	sigset_t set, old;

	sigemptyset(&set);
	((unsigned long *)&set)[0] = (unsigned int)mask;
	if (sigprocmask(how, &set, &old) < 0)
		return -1;
	return (int)(((unsigned long *)&old)[0] & 0xffffffffUL);
}

PT_EXPORT int sigsetmask(int mask)
{
	return bsd_mask(SIG_SETMASK, mask);
}

PT_EXPORT int sigblock(int mask)
{
	return bsd_mask(SIG_BLOCK, mask);
}

PT_EXPORT int setcontext(const ucontext_t *ucp)
{
	ucontext_t c;

	if (!ucp || !real.setcontext)
		return fail(EINVAL);
	/* a copy: its mcontext still points at ucp's floating-point state */
	c = *ucp;
	sigguard_strip(&c.uc_sigmask);
	return real.setcontext(&c);
}

PT_EXPORT int swapcontext(ucontext_t *oucp, const ucontext_t *ucp)
{
	ucontext_t c;

	if (!ucp || !real.swapcontext)
		return fail(EINVAL);
	c = *ucp;
	sigguard_strip(&c.uc_sigmask);
	return real.swapcontext(oucp, &c);
}

/* The stack pointer a jmp_buf resumes with: glibc keeps it mangled
 * (PTR_MANGLE: xor with the thread's pointer guard, then rotated left 17). */
#define JB_RSP 6

static void before_jump(struct __jmp_buf_tag *env)
{
	void (*hook)(uintptr_t) = atomic_load(&sigguard_on_longjmp);
	uintptr_t v = (uintptr_t)env->__jmpbuf[JB_RSP], guard;

	if (env->__mask_was_saved)
		sigguard_strip(&env->__saved_mask);
	if (!hook)
		return;
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	hook(((v >> 17) | (v << 47)) ^ guard);
}

PT_EXPORT void longjmp(jmp_buf env, int val)
{
	before_jump(env);
	real.longjmp(env, val);
	abort();
}

PT_EXPORT void _longjmp(jmp_buf env, int val)
{
	before_jump(env);
	real._longjmp(env, val);
	abort();
}

PT_EXPORT void siglongjmp(sigjmp_buf env, int val)
{
	before_jump(env);
	real.siglongjmp(env, val);
	abort();
}

PT_EXPORT void __longjmp_chk(struct __jmp_buf_tag *env, int val)
{
	before_jump(env);
	real.longjmp_chk(env, val);
	abort();
}

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_start(void *p)
{
	struct thread_start s = *(struct thread_start *)p;
	void (*hook)(void) = atomic_load(&sigguard_on_thread_start);

	free(p);
	sigguard_unblock_owned();
	if (hook)
		hook();
	return s.fn(s.arg);
}

PT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct thread_start *s;
	int r;

	if (!real.pthread_create) /* a constructor that runs before ours */
		real.pthread_create = (__typeof__(real.pthread_create))dlsym(RTLD_NEXT, "pthread_create");
	if (!real.pthread_create)
		return ENOSYS;
	if (!(s = malloc(sizeof(*s))))
		return real.pthread_create(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	if ((r = real.pthread_create(t, attr, thread_start, s)) != 0)
		free(s);
	return r;
}

PT_EXPORT int pthread_attr_setsigmask_np(pthread_attr_t *attr, const sigset_t *mask)
{
	sigset_t copy;

	if (!real.attr_setsigmask)
		return ENOSYS;
	return real.attr_setsigmask(attr, stripped(mask, &copy));
}

/* ------------------------------------------------------------ waits */

PT_EXPORT int sigsuspend(const sigset_t *mask)
{
	sigset_t copy;

	if (!real.sigsuspend)
		return fail(ENOSYS);
	return real.sigsuspend(stripped(mask, &copy));
}

/* glibc's sigpause family: sig_or_mask is a signal to take out of the
 * current mask (is_sig), or a BSD mask to wait with. */
PT_EXPORT int __sigpause(int sig_or_mask, int is_sig)
{
	sigset_t set;

	if (is_sig) {
		if (sig_or_mask <= 0 || sig_or_mask >= NSIG || raw_sigprocmask(SIG_BLOCK, NULL, &set) < 0)
			return fail(EINVAL);
		sigdelset(&set, sig_or_mask);
	} else {
		sigemptyset(&set);
		((unsigned long *)&set)[0] = (unsigned int)sig_or_mask;
	}
	return sigsuspend(&set);
}

/* (named by asm labels: <signal.h> redirects sigpause to __xpg_sigpause) */
PT_EXPORT int pt_bsd_sigpause(int mask) __asm__("sigpause");
PT_EXPORT int pt_bsd_sigpause(int mask)
{
	return __sigpause(mask, 0);
}

PT_EXPORT int pt_xpg_sigpause(int sig) __asm__("__xpg_sigpause");
PT_EXPORT int pt_xpg_sigpause(int sig)
{
	return __sigpause(sig, 1);
}

PT_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
	sigset_t copy;

	return real.ppoll ? real.ppoll(fds, n, t, stripped(mask, &copy)) : fail(ENOSYS);
}

PT_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *mask)
{
	sigset_t copy;

	return real.pselect ? real.pselect(n, r, w, e, t, stripped(mask, &copy)) : fail(ENOSYS);
}

PT_EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int max, int tmo, const sigset_t *mask)
{
	sigset_t copy;

	return real.epoll_pwait ? real.epoll_pwait(fd, ev, max, tmo, stripped(mask, &copy)) : fail(ENOSYS);
}

PT_EXPORT int epoll_pwait2(int fd, struct epoll_event *ev, int max, const struct timespec *t, const sigset_t *mask)
{
	sigset_t copy;

	return real.epoll_pwait2 ? real.epoll_pwait2(fd, ev, max, t, stripped(mask, &copy)) : fail(ENOSYS);
}

/* ------------------------------------------------------------ callbacks */

/* A SIGEV_THREAD callback, run first with the owned signals unblocked.
 * Thunks of timers are never freed (a callback may be starting while its
 * timer is deleted); a few dozen bytes per timer created. */
struct thunk {
	void (*fn)(union sigval);
	union sigval val;
	bool once; /* mq_notify: runs once, then frees itself */
};

static void thunk_run(union sigval v)
{
	struct thunk *t = v.sival_ptr;
	void (*fn)(union sigval) = t->fn;
	union sigval val = t->val;

	sigguard_unblock_owned();
	if (t->once)
		free(t);
	fn(val);
}

static const struct sigevent *wrap(const struct sigevent *sev, struct sigevent *copy, bool once)
{
	struct thunk *t;

	if (!sev || sev->sigev_notify != SIGEV_THREAD || !(t = malloc(sizeof(*t))))
		return sev;
	t->fn = sev->sigev_notify_function;
	t->val = sev->sigev_value;
	t->once = once;
	*copy = *sev;
	copy->sigev_notify_function = thunk_run;
	copy->sigev_value.sival_ptr = t;
	return copy;
}

PT_EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *id)
{
	struct sigevent copy;

	if (!real.timer_create)
		return fail(ENOSYS);
	return real.timer_create(clock, (struct sigevent *)wrap(sev, &copy, false), id);
}

PT_EXPORT int mq_notify(mqd_t q, const struct sigevent *sev)
{
	struct sigevent copy;
	const struct sigevent *w = wrap(sev, &copy, true);
	int r;

	if (!real.mq_notify)
		return fail(ENOSYS);
	r = real.mq_notify(q, w);
	if (r < 0 && w != sev)
		free(copy.sigev_value.sival_ptr);
	return r;
}

/* ------------------------------------------------------------ raw */

/* The kernel's struct sigaction (rt_sigaction) to and from glibc's. */
static void from_kernel(const struct raw_kernel_sigaction *k, struct sigaction *a)
{
	memset(a, 0, sizeof(*a));
	a->sa_handler = (__sighandler_t)k->handler;
	a->sa_flags = (int)k->flags & ~0x04000000; /* SA_RESTORER: glibc's own */
	((unsigned long *)&a->sa_mask)[0] = k->mask;
}

static void to_kernel(const struct sigaction *a, struct raw_kernel_sigaction *k)
{
	memset(k, 0, sizeof(*k));
	k->handler = (void *)a->sa_handler;
	k->flags = (unsigned long)a->sa_flags;
	k->mask = ((const unsigned long *)&a->sa_mask)[0];
}

PT_EXPORT long syscall(long nr, ...)
{
	unsigned long m;
	long a[6], r;
	va_list ap;

	/* as glibc's: six argument registers, whatever the call takes */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_rt_sigprocmask:
		if (a[1] && (a[0] == SIG_BLOCK || a[0] == SIG_SETMASK)) {
			m = *(const unsigned long *)a[1];
			sigguard_strip((sigset_t *)&m);
			a[1] = (long)&m;
		}
		break;
	case SYS_rt_sigsuspend:
	case SYS_ppoll:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2: {
		int at = nr == SYS_rt_sigsuspend ? 0 : nr == SYS_ppoll ? 2 : 4;

		if (a[at]) {
			m = *(const unsigned long *)a[at];
			sigguard_strip((sigset_t *)&m);
			a[at] = (long)&m;
		}
		break;
	}
	case SYS_pselect6: {
		/* the sixth argument points at { const sigset_t *ss; size_t len } */
		const long *d = (const long *)a[5];
		long nd[2];

		if (d && d[0]) {
			m = *(const unsigned long *)d[0];
			sigguard_strip((sigset_t *)&m);
			nd[0] = (long)&m;
			nd[1] = d[1];
			a[5] = (long)nd;
		}
		r = raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		return r < 0 && r > -4096 ? fail((int)-r) : r;
	}
	case SYS_rt_sigaction:
		if (a[0] > 0 && a[0] < NSIG && sigguard_owns((int)a[0])) {
			struct sigaction cur;

			if (a[2]) {
				sigguard_get_chained((int)a[0], &cur);
				to_kernel(&cur, (struct raw_kernel_sigaction *)a[2]);
			}
			if (a[1]) {
				from_kernel((const struct raw_kernel_sigaction *)a[1], &cur);
				sigguard_set_chained((int)a[0], &cur);
			}
			return 0;
		}
		if (a[1]) {
			struct raw_kernel_sigaction k = *(const struct raw_kernel_sigaction *)a[1];

			sigguard_strip((sigset_t *)&k.mask);
			r = raw_syscall4(nr, a[0], (long)&k, a[2], a[3]);
			return r < 0 && r > -4096 ? fail((int)-r) : r;
		}
		break;
	}
	r = raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return r < 0 && r > -4096 ? fail((int)-r) : r;
}

/* ------------------------------------------------------------ for a late load */

/* The interposers' own addresses: through hidden aliases, since a plain
 * reference from this library binds, like the program's calls, to glibc's
 * definition when poketrace was loaded late. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* name, a C name of the function (for its type), its symbol */
#define SELF(name, fn, sym) extern __typeof__(fn) self_##name __attribute__((alias(sym), visibility("hidden")));
SELF(sigaction, sigaction, "sigaction")
SELF(signal, signal, "signal")
SELF(bsd_signal, bsd_signal, "bsd_signal")
SELF(sysv_signal, sysv_signal, "sysv_signal")
SELF(__sysv_signal, __sysv_signal, "__sysv_signal")
SELF(ssignal, ssignal, "ssignal")
SELF(sigset, sigset, "sigset")
SELF(sigignore, sigignore, "sigignore")
SELF(siginterrupt, siginterrupt, "siginterrupt")
SELF(sigprocmask, sigprocmask, "sigprocmask")
SELF(pthread_sigmask, pthread_sigmask, "pthread_sigmask")
SELF(sighold, sighold, "sighold")
SELF(sigsetmask, sigsetmask, "sigsetmask")
SELF(sigblock, sigblock, "sigblock")
SELF(setcontext, setcontext, "setcontext")
SELF(swapcontext, swapcontext, "swapcontext")
SELF(pthread_attr_setsigmask_np, pthread_attr_setsigmask_np, "pthread_attr_setsigmask_np")
SELF(sigsuspend, sigsuspend, "sigsuspend")
SELF(sigpause, pt_bsd_sigpause, "sigpause")
SELF(__sigpause, __sigpause, "__sigpause")
SELF(__xpg_sigpause, pt_xpg_sigpause, "__xpg_sigpause")
SELF(ppoll, ppoll, "ppoll")
SELF(pselect, pselect, "pselect")
SELF(epoll_pwait, epoll_pwait, "epoll_pwait")
SELF(epoll_pwait2, epoll_pwait2, "epoll_pwait2")
SELF(timer_create, timer_create, "timer_create")
SELF(mq_notify, mq_notify, "mq_notify")
SELF(syscall, syscall, "syscall")
SELF(pthread_create, pthread_create, "pthread_create")
SELF(longjmp, longjmp, "longjmp")
SELF(_longjmp, _longjmp, "_longjmp")
SELF(siglongjmp, siglongjmp, "siglongjmp")
extern void __longjmp_chk(struct __jmp_buf_tag *, int);
SELF(__longjmp_chk, __longjmp_chk, "__longjmp_chk")
#pragma GCC diagnostic pop

/* One entry per name of interposed.syms (a name without its alias above
 * does not compile). */
static const struct sigguard_interposer table[] = {
#define X(name) { #name, (void *)&self_##name },
#include "interposed.inc"
#undef X
};

const struct sigguard_interposer *sigguard_interposers(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

static int cmp_interposer(const void *key, const void *e)
{
	return strcmp(key, ((const struct sigguard_interposer *)e)->name);
}

const struct sigguard_interposer *sigguard_interposer(const char *name)
{
	return bsearch(name, table, sizeof(table) / sizeof(table[0]), sizeof(table[0]), cmp_interposer);
}
