/* Serializing every core that runs a thread of this process, and making
 * every thread able to take an int3.
 *
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) (Linux 4.16+) is the
 * user-space on_each_cpu(sync_core): it IPIs every CPU running one of our
 * threads and guarantees a core-serializing instruction before each returns
 * to user space; sleeping threads serialize before they resume.
 *
 * Fallback where the kernel lacks it: send a signal to every other thread and
 * wait until each has run CPUID in the handler.  A thread that is not running
 * will run that handler (and so CPUID) before any other user code when it
 * resumes, so only threads seen running are waited for, and not forever.
 *
 * The same signal serves the batch's precondition in both modes (see
 * sync_begin): its handler takes SIGTRAP and the engine's signals out of the
 * mask the thread returns to, so a thread that blocked SIGTRAP by any path
 * (a raw system call, glibc's own helper threads, a mask set before
 * poketrace was loaded) can take the int3 again. */
#include "arch/x86_64/sync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/sigguard.h"
#include "base/error.h"
#include "base/fault.h"

static int mode;
static int sync_signo;

/* One signal round at a time.  A round's signals carry a cookie (magic |
 * round | thread index) in si_value, so a handler can tell ours from the
 * program's and a late one from the current round.  The ack array only
 * grows; old arrays are kept, never freed, because a handler of an earlier
 * round may still be about to write into one. */
#define SYNC_MAGIC (0x706b74UL << 40)
#define SYNC_IDX_BITS 20
#define SYNC_SEQ_MASK ((1UL << 20) - 1)
/* How long a running thread may take to answer a round. */
#define ROUND_WAIT_NS (2 * 1000000000L)

struct sync_round {
	_Atomic unsigned long seq;
	_Atomic(_Atomic int *) acked;
	size_t cap;
};
static struct sync_round round;
static atomic_int round_busy;

/* The batch's: the task list opened by sync_begin for its syncs. */
static DIR *batch_dir;

void (*_Atomic sync_ip_fixup)(void *rip);

/* One observation at a time (round_busy held).  state: 0 waiting for the
 * thread, 1 its handler is in fn, 2 done, 3 given up (a late handler then
 * does nothing: arg may be gone). */
#define OBSERVE_MAGIC (0x706b75UL << 40)
static struct {
	_Atomic unsigned long seq;
	_Atomic int state;
	void (*fn)(void *uc, void *arg);
	void *arg;
} obs;

static int membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

static int membarrier_register(void)
{
	int q = membarrier(MEMBARRIER_CMD_QUERY);

	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE))
		return -ENOSYS;
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) < 0)
		return -errno;
	return 0;
}

PT_NOSANITIZE static void sync_handler(int sig, siginfo_t *si, void *ucv)
{
	unsigned long v = (unsigned long)si->si_value.sival_ptr;

	if (si->si_code == SI_QUEUE && si->si_pid == raw_getpid() &&
	    (v & ~((1UL << 40) - 1)) == OBSERVE_MAGIC) {
		int waiting = 0;

		if ((v & ((1UL << 40) - 1)) == atomic_load(&obs.seq) &&
		    atomic_compare_exchange_strong(&obs.state, &waiting, 1)) {
			obs.fn(ucv, obs.arg);
			atomic_store(&obs.state, 2);
		}
		return;
	}
	cpu_serialize();
	if (si->si_code == SI_QUEUE && si->si_pid == raw_getpid() &&
	    (v & ~((1UL << 40) - 1)) == SYNC_MAGIC) {
		unsigned long idx = v & ((1UL << SYNC_IDX_BITS) - 1);
		_Atomic int *acked = atomic_load(&round.acked);

		void (*fix)(void *) = atomic_load(&sync_ip_fixup);

		/* the mask the thread goes back to: SIGTRAP deliverable */
		sigguard_strip(&((ucontext_t *)ucv)->uc_sigmask);
		if (fix)
			fix(&((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP]);
		if (((v >> SYNC_IDX_BITS) & SYNC_SEQ_MASK) == atomic_load(&round.seq) && idx < round.cap)
			atomic_store(&acked[idx], 1);
		return;
	}
	sigguard_chain(sig, si, ucv);
}

void sync_preinstall(void)
{
	sigguard_own(SIGRTMAX - 2, sync_handler);
}

int sync_init(int want, int signo)
{
	int r;

	if (mode)
		return 0;
	sync_signo = signo ? signo : SIGRTMAX - 2;
	r = sigguard_own(sync_signo, sync_handler);
	if (r < 0)
		return pt_error(-r, "cannot install the engine's signal %d handler", sync_signo);
	if (want != SYNC_SIGNAL) {
		r = membarrier_register();
		if (r == 0) {
			mode = SYNC_MEMBARRIER;
			return 0;
		}
		if (want == SYNC_MEMBARRIER)
			return pt_error(-r, "membarrier(PRIVATE_EXPEDITED_SYNC_CORE) is not available "
					"(needs Linux 4.16+): use the signal sync mode");
	}
	mode = SYNC_SIGNAL;
	return 0;
}

int sync_mode(void)
{
	return mode;
}

int sync_signal(void)
{
	return sync_signo;
}

void sync_atfork_child(void)
{
	if (mode == SYNC_MEMBARRIER && membarrier_register() < 0)
		mode = SYNC_SIGNAL; /* the child cannot use it: the fallback */
	atomic_store(&round_busy, 0);
	/* A batch's task list (only a child forked in the middle of one, by
	 * _Fork, has it) is the parent's: dropped, not closed (this may run
	 * in a signal handler, where free may not). */
	batch_dir = NULL;
}

/* ------------------------------------------------------------ threads */

struct thread_list {
	long *tid;
	int n, cap;
};

static int list_threads(DIR *d, struct thread_list *t)
{
	long self = raw_gettid();
	struct dirent *e;

	t->n = 0;
	rewinddir(d);
	while ((e = readdir(d))) {
		long tid = atol(e->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (t->n == t->cap) {
			long *nv = realloc(t->tid, sizeof(*nv) * (size_t)(t->cap = t->cap ? 2 * t->cap : 64));

			if (!nv)
				return -ENOMEM;
			t->tid = nv;
		}
		t->tid[t->n++] = tid;
	}
	return t->n;
}

struct thread_state {
	bool gone, running;
	unsigned long long blocked; /* SigBlk: bit sig-1 */
	char name[32];
};

/* State and blocked signals from /proc/self/task/TID/status, read whole (a
 * user in many groups makes it long; SigBlk comes after Groups). */
static void thread_state(long tid, struct thread_state *st)
{
	static char buf[65536]; /* rounds never overlap */
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* exited; or no descriptor left: then assume the worst, it
		 * runs with everything blocked */
		st->gone = errno == ENOENT || errno == ESRCH;
		st->running = !st->gone;
		st->blocked = st->gone ? 0 : ~0ULL;
		return;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "State:", 6))
			st->running = strchr(l, 'R') && strchr(l, 'R') < strchr(l, '\n');
		else if (!strncmp(l, "SigBlk:", 7))
			st->blocked = strtoull(l + 7, NULL, 16);
		else if (!strncmp(l, "Name:", 5))
			sscanf(l + 5, " %31[^\n]", st->name);
	}
	if (!len)
		st->gone = true;
}

static bool has(unsigned long long mask, int sig)
{
	return mask >> (sig - 1) & 1;
}

/* ------------------------------------------------------------ rounds */

static long send_cookie(long pid, long tid, unsigned long cookie);

static uint64_t mono_ns(void);
static bool round_enter(bool wait);
static void round_leave(void);

int sync_observe(long tid, void (*fn)(void *uc, void *arg), void *arg, int timeout_ms)
{
	uint64_t t0 = mono_ns();
	unsigned long seq;
	int waiting = 0, r = 0;

	if (!round_enter(false))
		return -EBUSY;
	seq = (atomic_load(&obs.seq) + 1) & ((1UL << 40) - 1);
	obs.fn = fn;
	obs.arg = arg;
	atomic_store(&obs.state, 0);
	atomic_store(&obs.seq, seq);
	if (send_cookie(raw_getpid(), tid, OBSERVE_MAGIC | seq) < 0) {
		r = -errno;
		atomic_store(&obs.state, 3);
		round_leave();
		return r;
	}
	for (int spins = 0; atomic_load(&obs.state) != 2; spins++) {
		if (mono_ns() - t0 > (uint64_t)timeout_ms * 1000000u &&
		    atomic_compare_exchange_strong(&obs.state, &waiting, 3)) {
			r = -ETIMEDOUT; /* it blocks the signal, or is not scheduled */
			break;
		}
		waiting = 0;
		if (spins < 50)
			sched_yield();
		else
			nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	round_leave();
	return r;
}

static long send_cookie(long pid, long tid, unsigned long cookie)
{
	siginfo_t si;
	int e = pt_fault("signal");

	if (e)
		return -e;
	memset(&si, 0, sizeof(si));
	si.si_signo = sync_signo;
	si.si_code = SI_QUEUE;
	si.si_pid = (pid_t)pid;
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)cookie;
	return syscall(SYS_rt_tgsigqueueinfo, pid, tid, sync_signo, &si);
}

static int acks_reserve(size_t n)
{
	_Atomic int *a;

	if (n <= round.cap && round.cap)
		return 0;
	a = calloc(n * 2 + 16, sizeof(*a));
	if (!a)
		return -ENOMEM;
	/* The old array is deliberately not freed (see struct sync_round). */
	atomic_store(&round.acked, a);
	round.cap = n * 2 + 16;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Whether tid sleeps in a system call now (/proc/self/task/TID/syscall
 * names one; "running" or -1 otherwise). */
static bool in_syscall(long tid)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && buf[0] >= '0' && buf[0] <= '9';
}

/* Signals every thread of t and waits until each has run the handler or is
 * seen not running (it will run it before anything else).  round_busy held.
 * skip_sleepers: a thread asleep in a system call is not signalled (the
 * relocated entries' move-out: its user IP follows a syscall instruction,
 * which no relocated region holds, and it can enter a region only by its
 * entry, which traps by then) — a signal would end its nanosleep, poll or
 * epoll_wait with EINTR, which no SA_RESTART restarts. */
static int signal_round(const struct thread_list *t, bool skip_sleepers)
{
	long pid = raw_getpid();
	uint64_t t0 = mono_ns();
	unsigned long seq;
	_Atomic int *acked;

	if (acks_reserve((size_t)t->n) < 0 || t->n >= (1 << SYNC_IDX_BITS))
		return pt_error(ENOMEM, "cannot track %d threads for the engine's signal", t->n);
	acked = atomic_load(&round.acked);
	for (int i = 0; i < t->n; i++)
		atomic_store(&acked[i], 0);
	seq = (atomic_load(&round.seq) + 1) & SYNC_SEQ_MASK;
	atomic_store(&round.seq, seq);
	for (int i = 0; i < t->n; i++) {
		unsigned long cookie = SYNC_MAGIC | (seq << SYNC_IDX_BITS) | (unsigned long)i;
		long r;

		if (skip_sleepers && in_syscall(t->tid[i])) {
			atomic_store(&acked[i], 1);
			continue;
		}
		r = send_cookie(pid, t->tid[i], cookie);

		if (r < 0 && errno == ESRCH)
			atomic_store(&acked[i], 1); /* exited: nothing to sync */
		else if (r < 0)
			return pt_error(errno, "cannot signal thread %ld: %s", t->tid[i], strerror(errno));
	}
	for (int spins = 0;; spins++) {
		long waiting = -1;

		for (int i = 0; i < t->n; i++) {
			struct thread_state st;

			if (atomic_load(&acked[i]))
				continue;
			/* Only running threads need to be waited for (see top). */
			if (spins > 50) {
				thread_state(t->tid[i], &st);
				if (st.gone || !st.running) {
					atomic_store(&acked[i], 1);
					continue;
				}
			}
			waiting = t->tid[i];
		}
		if (waiting < 0)
			break;
		if (mono_ns() - t0 > (uint64_t)ROUND_WAIT_NS)
			return pt_error(ETIMEDOUT, "thread %ld keeps running without taking the engine's signal "
					"%d (blocked by a raw system call?)", waiting, sync_signo);
		if (spins < 50)
			sched_yield();
		else
			nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return 0;
}

/* Rounds never overlap: the engine's syncs hold the engine lock, but the
 * tracer's pause (and a fatal signal handler) do not. */
static bool round_enter(bool wait)
{
	int zero = 0;

	for (int i = 0; !atomic_compare_exchange_strong(&round_busy, &zero, 1); i++, zero = 0) {
		if (!wait || i > 200000)
			return false;
		nanosleep(&(struct timespec){ 0, 10000 }, NULL);
	}
	return true;
}

static void round_leave(void)
{
	atomic_store(&round_busy, 0);
}

static struct thread_list threads;

static int sync_by_signal(bool skip_sleepers)
{
	DIR *d = batch_dir;
	int r, e = pt_fault("open");

	if (!d && !e)
		d = opendir("/proc/self/task");
	if (!d)
		return pt_error(e ? e : errno, "cannot list the threads in /proc/self/task: %s",
				strerror(e ? e : errno));
	r = list_threads(d, &threads);
	if (d != batch_dir)
		closedir(d);
	if (r < 0)
		return pt_error(-r, "out of memory listing threads");
	r = signal_round(&threads, skip_sleepers);
	cpu_serialize();
	return r;
}

int sync_interrupt_all(void)
{
	int r;

	if (!round_enter(batch_dir != NULL))
		return pt_error(EBUSY, "another signal round is running");
	r = sync_by_signal(true);
	round_leave();
	return r;
}

int sync_cores(void)
{
	int r, e;

	if (mode == SYNC_MEMBARRIER) {
		if ((e = pt_fault("membarrier")) || membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) < 0)
			return pt_error(e ? e : errno, "membarrier(SYNC_CORE) failed: %s", strerror(e ? e : errno));
		/* Kernels before 5.11 did not serialize the calling thread. */
		cpu_serialize();
		return 0;
	}
	if (mode != SYNC_SIGNAL)
		return pt_error(EINVAL, "poketrace is not initialized: call poketrace_init()");
	if (!round_enter(batch_dir != NULL))
		return pt_error(EBUSY, "another signal round is running");
	r = sync_by_signal(false);
	round_leave();
	return r;
}

/* ------------------------------------------------------------ the batch's precondition */

/* Sorts the threads: fine; to fix (SIGTRAP blocked, or the sync signal in
 * the signal mode, while the engine's signal reaches it: its handler will
 * unblock them); or unreachable (the engine's signal blocked too) and
 * running.  A sleeping thread with everything blocked is let be: such are
 * glibc's own helper threads (timers', mq_notify's, aio's), which sleep in
 * a system call and run only glibc's code; a thread of the program gets
 * there only by a raw system call, or by a mask set before poketrace was
 * loaded late without `poketrace attach` (which unblocks every thread's
 * SIGTRAP through ptrace) — and would die if it woke into a site during
 * the batch.  In the signal mode a sleeping thread that blocks the sync
 * signal is fine too: it has no instruction in flight. */
static int check_threads(struct thread_list *fix, long *unreachable, struct thread_state *ust)
{
	*unreachable = 0;
	fix->n = 0;
	for (int i = 0; i < threads.n; i++) {
		struct thread_state st;
		bool trap = false, sync = false;

		thread_state(threads.tid[i], &st);
		if (st.gone)
			continue;
		trap = has(st.blocked, SIGTRAP);
		sync = mode == SYNC_SIGNAL && has(st.blocked, sync_signo) && st.running;
		/* a sleeping one with the engine's signal open gets it too:
		 * the handler runs before it runs anything else */
		if (!trap && !sync)
			continue;
		if (has(st.blocked, sync_signo)) {
			if (!st.running)
				continue;
			*unreachable = threads.tid[i];
			*ust = st;
			return 0;
		}
		fix->tid[fix->n++] = threads.tid[i];
	}
	return 0;
}

int sync_begin(void)
{
	struct thread_list fix = { 0 };
	struct thread_state ust;
	long unreachable = 0, stubborn;
	int r = 0, e;

	if (!round_enter(true))
		return pt_error(EBUSY, "the engine's signal round is stuck");
	/* This thread is not in the list: it unblocks its own (a late load
	 * leaves what the program set with glibc's own calls). */
	sigguard_unblock_owned();
	/* The program may have replaced our handlers by a path the
	 * interposers do not see (raw rt_sigaction, a late load). */
	sigguard_reown();
	e = pt_fault("open");
	batch_dir = e ? NULL : opendir("/proc/self/task");
	if (!batch_dir) {
		round_leave();
		return pt_error(e ? e : errno, "cannot list the threads in /proc/self/task: %s; nothing was "
				"written", strerror(e ? e : errno));
	}
	/* Until every thread is fine.  A thread with everything blocked comes
	 * out of it in microseconds (glibc's pthread_create blocks all in the
	 * creator around clone, a new thread until it has set its mask), but a
	 * busy machine may leave it preempted there: up to ROUND_WAIT_NS for it.
	 * A thread the engine's signal unblocks and that blocks again is given
	 * 100 rounds. */
	for (uint64_t t0 = mono_ns(), rounds = 0; rounds <= 100 && mono_ns() - t0 < (uint64_t)ROUND_WAIT_NS;) {
		if ((r = list_threads(batch_dir, &threads)) < 0)
			break;
		r = 0;
		free(fix.tid);
		if (!(fix.tid = malloc(sizeof(long) * (size_t)(threads.n + 1)))) {
			fix.n = 0;
			r = -ENOMEM;
			break;
		}
		check_threads(&fix, &unreachable, &ust);
		if (!unreachable && !fix.n)
			break;
		if (fix.n && (rounds++, r = signal_round(&fix, false)) < 0)
			break;
		if (unreachable)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	stubborn = fix.n ? fix.tid[0] : 0;
	free(fix.tid);
	round_leave();
	if (r == 0 && unreachable)
		r = pt_error(EDEADLK, "thread %ld (%s) has %s and the engine's signal %d blocked: an int3 there "
			     "would kill the process, so nothing was written; unblock them in that thread, or "
			     "load poketrace at the program's start (LD_PRELOAD, or link it), which keeps them "
			     "unblocked", unreachable, ust.name, has(ust.blocked, SIGTRAP) ? "SIGTRAP" : "the sync signal",
			     sync_signo);
	else if (r == 0 && stubborn)
		r = pt_error(EDEADLK, "thread %ld blocks SIGTRAP again each time it is unblocked (a raw system "
			     "call?): nothing was written", stubborn);
	if (r < 0) {
		closedir(batch_dir);
		batch_dir = NULL;
		return r == -ENOMEM ? pt_error(ENOMEM, "out of memory listing threads") : r;
	}
	return 0;
}

void sync_end(void)
{
	if (batch_dir)
		closedir(batch_dir);
	batch_dir = NULL;
}
