/* Every way glibc 2.36 offers a thread to block SIGTRAP, or to replace its
 * handler, each under a toggle storm: a thread flips tgt_add's site between
 * a call and a nop as fast as it can while the thread under test, in the
 * state the way leaves it in, calls tgt_add over and over.  An int3 met
 * with SIGTRAP blocked or its handler gone kills the process; each case
 * must survive, with batches run while the thread was in that state, and
 * every call computing its result.  Raw system calls no interposer sees
 * are repaired before each batch (the last cases). */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"
#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

extern __sighandler_t ssignal(int, __sighandler_t);
extern __sighandler_t __sysv_signal(int, __sighandler_t);
extern int __xpg_sigpause(int);
extern __sighandler_t bsd_signal(int, __sighandler_t);
extern int bsd_sigpause(int mask) __asm__("sigpause"); /* <signal.h> names the XPG one sigpause */

static atomic_int stop, work_done;
static atomic_long batches, in_state_batches, calls, trap_blocked_seen;
static atomic_int in_state;

/* hold: the toggler stops between batches (held: it has) */
static atomic_int hold, held;

static void *toggler(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int state = atomic_load(&in_state);

		if (atomic_load(&hold)) {
			atomic_store(&held, 1);
			nanosleep(&(struct timespec){ 0, 100000 }, NULL);
			continue;
		}
		atomic_store(&held, 0);
		OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_CALL,
							       (void *)tramp_count_a }, 1, NULL));
		OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_NOP, NULL }, 1, NULL));
		atomic_fetch_add(&batches, 2);
		if (state && atomic_load(&in_state))
			atomic_fetch_add(&in_state_batches, 2);
	}
	return NULL;
}

static bool trap_blocked(void)
{
	unsigned long m = 0;

	raw_sigprocmask(SIG_BLOCK, NULL, &m);
	return m & (1UL << (SIGTRAP - 1));
}

/* The work done in the state under test: calls of tgt_add while batches
 * run, until some have run meanwhile (however the scheduler places us). */
static void work(void)
{
	double give_up = test_now() + 60;
	long b0 = atomic_load(&batches);

	atomic_store(&in_state, 1);
	if (trap_blocked())
		atomic_fetch_add(&trap_blocked_seen, 1);
	for (long i = 0; atomic_load(&batches) < b0 + 20 || i < 100000; i++) {
		CHECK(tgt_add((int)i, 1) == (int)i + 1, "tgt_add");
		atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
		if ((i & 1023) == 0 && test_now() > give_up)
			break;
	}
	atomic_store(&in_state, 0);
	atomic_store(&work_done, 1);
}

static pthread_t start(void)
{
	pthread_t t;

	OK(poketrace_init(NULL));
	pthread_create(&t, NULL, toggler, NULL);
	return t;
}

static void finish(pthread_t t, bool trap_may_be_blocked)
{
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%ld calls, %ld batches while in the state, SIGTRAP seen blocked %ld times\n", atomic_load(&calls),
	       atomic_load(&in_state_batches), atomic_load(&trap_blocked_seen));
	CHECK(atomic_load(&work_done), "the work never ran");
	CHECK(atomic_load(&in_state_batches) > 0, "no batch ran while the thread was in the state");
	CHECK(trap_may_be_blocked || !atomic_load(&trap_blocked_seen), "SIGTRAP was blocked in the state");
}

static void block_all_with(int way)
{
	sigset_t all;

	sigfillset(&all);
	switch (way) {
	case 0: CHECK(sigprocmask(SIG_BLOCK, &all, NULL) == 0, "sigprocmask"); break;
	case 1: CHECK(pthread_sigmask(SIG_SETMASK, &all, NULL) == 0, "pthread_sigmask"); break;
	case 2: CHECK(sighold(SIGTRAP) == 0, "sighold"); break;
	case 3: sigsetmask(~0); break;
	case 4: sigblock(1 << (SIGTRAP - 1)); break;
	case 5: CHECK(sigset(SIGTRAP, SIG_HOLD) != SIG_ERR, "sigset"); break;
	case 6: CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8) == 0, "syscall"); break;
	}
}

static void masks(int way)
{
	pthread_t t = start();

	block_all_with(way);
	work();
	finish(t, false);
}

static void m_sigprocmask(void) { masks(0); }
static void m_pthread_sigmask(void) { masks(1); }
static void m_sighold(void) { masks(2); }
static void m_sigsetmask(void) { masks(3); }
static void m_sigblock(void) { masks(4); }
static void m_sigset_hold(void) { masks(5); }
static void m_syscall(void) { masks(6); }

static void m_setcontext(void)
{
	pthread_t t = start();
	ucontext_t uc;
	volatile int once = 0;

	getcontext(&uc);
	if (!once) {
		once = 1;
		sigaddset(&uc.uc_sigmask, SIGTRAP);
		setcontext(&uc);
	}
	work();
	finish(t, false);
}

static ucontext_t main_uc, co_uc;

static void co_body(void)
{
	work();
	swapcontext(&co_uc, &main_uc);
}

static void m_swapcontext(void)
{
	static char stack[1 << 16];
	pthread_t t = start();

	getcontext(&co_uc);
	co_uc.uc_stack.ss_sp = stack;
	co_uc.uc_stack.ss_size = sizeof(stack);
	co_uc.uc_link = &main_uc;
	sigfillset(&co_uc.uc_sigmask);
	makecontext(&co_uc, co_body, 0);
	swapcontext(&main_uc, &co_uc);
	finish(t, false);
}

static void *attr_thread(void *arg)
{
	(void)arg;
	work();
	return NULL;
}

static void m_attrmask(void)
{
	pthread_t t = start(), w;
	pthread_attr_t at;
	sigset_t all;

	sigfillset(&all);
	pthread_attr_init(&at);
	CHECK(pthread_attr_setsigmask_np(&at, &all) == 0, "setsigmask_np");
	pthread_create(&w, &at, attr_thread, NULL);
	pthread_join(w, NULL);
	pthread_attr_destroy(&at);
	finish(t, false);
}

/* -------------------------------------------- waits with a mask: a signal
 * handler runs inside them, with their mask */

static pthread_t waiter;
static atomic_int kick_stop;

static void on_usr1(int sig)
{
	(void)sig;
	if (!atomic_load(&work_done))
		work();
}

static void *kicker(void *arg)
{
	(void)arg;
	while (!atomic_load(&kick_stop)) {
		pthread_kill(waiter, SIGUSR1);
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return NULL;
}

static void waits(int way)
{
	pthread_t t = start(), k;
	struct timespec tmo = { 1, 0 };
	sigset_t m;
	int ep = epoll_create1(0);
	struct epoll_event ev;

	signal(SIGUSR1, on_usr1);
	sigfillset(&m);
	sigdelset(&m, SIGUSR1);
	waiter = pthread_self();
	pthread_create(&k, NULL, kicker, NULL);
	while (!atomic_load(&work_done)) {
		switch (way) {
		case 0: sigsuspend(&m); break;
		case 1: ppoll(NULL, 0, &tmo, &m); break;
		case 2: pselect(0, NULL, NULL, NULL, &tmo, &m); break;
		case 3: epoll_pwait(ep, &ev, 1, 1000, &m); break;
		case 4: epoll_pwait2(ep, &ev, 1, &tmo, &m); break;
		case 5: bsd_sigpause((int)~(1u << (SIGUSR1 - 1))); break;
		case 6: {
			sigset_t cur;

			/* __xpg_sigpause(sig): wait with the current mask minus sig */
			sigfillset(&cur);
			pthread_sigmask(SIG_SETMASK, &cur, NULL);
			__xpg_sigpause(SIGUSR1);
			sigemptyset(&cur);
			pthread_sigmask(SIG_SETMASK, &cur, NULL);
			break;
		}
		case 7: syscall(SYS_rt_sigsuspend, &m, 8); break;
		}
	}
	atomic_store(&kick_stop, 1);
	pthread_join(k, NULL);
	close(ep);
	finish(t, false);
}

static void w_sigsuspend(void) { waits(0); }
static void w_ppoll(void) { waits(1); }
static void w_pselect(void) { waits(2); }
static void w_epoll_pwait(void) { waits(3); }
static void w_epoll_pwait2(void) { waits(4); }
static void w_sigpause(void) { waits(5); }
static void w_xpg_sigpause(void) { waits(6); }
static void w_syscall_sigsuspend(void) { waits(7); }

/* A handler installed with SIGTRAP in its sa_mask. */
static void h_sa_mask(void)
{
	pthread_t t = start(), k;
	struct sigaction sa = { 0 };

	sa.sa_handler = on_usr1;
	sigfillset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	waiter = pthread_self();
	pthread_create(&k, NULL, kicker, NULL);
	while (!atomic_load(&work_done))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	atomic_store(&kick_stop, 1);
	pthread_join(k, NULL);
	finish(t, false);
}

/* -------------------------------------------- callbacks glibc runs in a
 * thread of its own with every signal blocked */

static void callback(union sigval v)
{
	(void)v;
	if (!atomic_exchange(&work_done, 2))
		work();
}

static void c_timer_thread(void)
{
	pthread_t t = start();
	struct sigevent se = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = callback };
	struct itimerspec its = { { 0, 0 }, { 0, 1000000 } };
	timer_t tm;

	CHECK(timer_create(CLOCK_MONOTONIC, &se, &tm) == 0, "timer_create");
	CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime");
	while (atomic_load(&work_done) != 1)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	finish(t, false);
}

static void c_mq_notify(void)
{
	pthread_t t = start();
	struct sigevent se = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = callback };
	struct mq_attr a = { .mq_maxmsg = 1, .mq_msgsize = 8 };
	char name[64];
	mqd_t q;

	snprintf(name, sizeof(name), "/pt_hygiene_%d", getpid());
	q = mq_open(name, O_CREAT | O_RDWR, 0600, &a);
	CHECK(q != (mqd_t)-1, "mq_open: %s", strerror(errno));
	mq_unlink(name);
	CHECK(mq_notify(q, &se) == 0, "mq_notify");
	CHECK(mq_send(q, "x", 1, 0) == 0, "mq_send");
	while (atomic_load(&work_done) != 1)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	mq_close(q);
	finish(t, false);
}

/* -------------------------------------------- SIGTRAP's handler replaced:
 * the program's becomes the chained one; the int3 still reaches ours */

static void own_trap(int sig)
{
	(void)sig;
}

static void replace_with(int way)
{
	struct sigaction sa = { 0 };

	switch (way) {
	case 0: sa.sa_handler = SIG_IGN; CHECK(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction"); break;
	case 1: signal(SIGTRAP, SIG_IGN); break;
	case 2: sigignore(SIGTRAP); break;
	case 3: ssignal(SIGTRAP, own_trap); break;
	case 4: sysv_signal(SIGTRAP, own_trap); break;
	case 5: __sysv_signal(SIGTRAP, own_trap); break;
	case 6: bsd_signal(SIGTRAP, own_trap); break;
	case 7: sigset(SIGTRAP, SIG_IGN); break;
	case 8: siginterrupt(SIGTRAP, 1); break;
	case 9: {
		/* the kernel's struct: handler, flags, restorer, mask */
		void *k[4] = { (void *)SIG_IGN, 0, 0, 0 };

		CHECK(syscall(SYS_rt_sigaction, SIGTRAP, k, NULL, 8) == 0, "syscall");
		break;
	}
	}
}

static void handlers(int way)
{
	pthread_t t = start();

	replace_with(way);
	work();
	finish(t, false);
}

static void r_sigaction(void) { handlers(0); }
static void r_signal(void) { handlers(1); }
static void r_sigignore(void) { handlers(2); }
static void r_ssignal(void) { handlers(3); }
static void r_sysv_signal(void) { handlers(4); }
static void r___sysv_signal(void) { handlers(5); }
static void r_bsd_signal(void) { handlers(6); }
static void r_sigset(void) { handlers(7); }
static void r_siginterrupt(void) { handlers(8); }
static void r_syscall(void) { handlers(9); }

/* -------------------------------------------- raw system calls: no
 * interposer sees them; the check before each batch repairs them.  Made
 * between two batches (one made during a batch, after its check, is what
 * poketrace cannot see: see "Signals" in poketrace.h). */

static void between_batches(void (*change)(void))
{
	atomic_store(&hold, 1);
	WAIT_FOR(atomic_load(&held), 60);
	change();
	atomic_store(&hold, 0);
}

static void block_raw(void)
{
	unsigned long all = ~0UL & ~(1UL << (SIGRTMAX - 2 - 1)); /* the engine's signal still open */

	raw_sigprocmask(SIG_BLOCK, &all, NULL);
}

static void ignore_raw(void)
{
	struct raw_kernel_sigaction ka = { (void *)SIG_IGN, 0, 0, 0 };

	raw_syscall4(SYS_rt_sigaction, SIGTRAP, (long)&ka, 0, 8);
}

static void raw_mask(void)
{
	pthread_t t = start();

	between_batches(block_raw);
	work();
	finish(t, true); /* blocked until the next batch repaired it */
}

static void raw_handler(void)
{
	pthread_t t = start();

	between_batches(ignore_raw);
	work();
	finish(t, false);
}

TEST_MAIN(CASE(m_sigprocmask), CASE(m_pthread_sigmask), CASE(m_sighold), CASE(m_sigsetmask), CASE(m_sigblock),
	  CASE(m_sigset_hold), CASE(m_syscall), CASE(m_setcontext), CASE(m_swapcontext), CASE(m_attrmask),
	  CASE(w_sigsuspend), CASE(w_ppoll), CASE(w_pselect), CASE(w_epoll_pwait), CASE(w_epoll_pwait2),
	  CASE(w_sigpause), CASE(w_xpg_sigpause), CASE(w_syscall_sigsuspend), CASE(h_sa_mask), CASE(c_timer_thread),
	  CASE(c_mq_notify), CASE(r_sigaction), CASE(r_signal), CASE(r_sigignore), CASE(r_ssignal),
	  CASE(r_sysv_signal), CASE(r___sysv_signal), CASE(r_bsd_signal), CASE(r_sigset), CASE(r_siginterrupt),
	  CASE(r_syscall), CASE(raw_mask), CASE(raw_handler))
