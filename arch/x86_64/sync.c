/* Serializing every core that runs a thread of this process.
 *
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) (Linux 4.16+) is the
 * user-space on_each_cpu(sync_core): it IPIs every CPU running one of our
 * threads and guarantees a core-serializing instruction before each returns
 * to user space; sleeping threads serialize before they resume.
 *
 * Fallback where the kernel lacks it: send a signal to every other thread and
 * wait until each has run CPUID in the handler.  A thread that is not running
 * will run that handler (and so CPUID) before any other user code when it
 * resumes, so only threads seen running are waited for. */
#include "arch/x86_64/sync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/sigguard.h"
#include "base/error.h"

static int mode;
static int sync_signo;

/* One signal round at a time (the caller holds the poke lock).  A round's
 * signals carry a cookie (magic | round | thread index) in si_value, so a
 * handler can tell ours from the program's and a late one from the current
 * round.  The ack array only grows; old arrays are kept, never freed, because
 * a handler of an earlier round may still be about to write into one. */
#define SYNC_MAGIC (0x706b74UL << 40)
#define SYNC_IDX_BITS 20
#define SYNC_SEQ_MASK ((1UL << 20) - 1)

struct sync_round {
	_Atomic unsigned long seq;
	_Atomic(_Atomic int *) acked;
	size_t cap;
};
static struct sync_round round;

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

PT_NOSANITIZE static void sync_handler(int sig, siginfo_t *si, void *uc)
{
	unsigned long v = (unsigned long)si->si_value.sival_ptr;

	cpu_serialize();
	if (si->si_code == SI_QUEUE && si->si_pid == raw_getpid() &&
	    (v & ~((1UL << 40) - 1)) == SYNC_MAGIC) {
		unsigned long idx = v & ((1UL << SYNC_IDX_BITS) - 1);
		_Atomic int *acked = atomic_load(&round.acked);

		if (((v >> SYNC_IDX_BITS) & SYNC_SEQ_MASK) == atomic_load(&round.seq) && idx < round.cap)
			atomic_store(&acked[idx], 1);
		return;
	}
	sigguard_chain(sig, si, uc);
}

int sync_init(int want, int signo)
{
	int r;

	if (mode)
		return 0;
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
	sync_signo = signo ? signo : SIGRTMAX - 2;
	r = sigguard_own(sync_signo, sync_handler);
	if (r < 0)
		return pt_error(-r, "cannot install the sync signal %d handler", sync_signo);
	mode = SYNC_SIGNAL;
	return 0;
}

int sync_mode(void)
{
	return mode;
}

void sync_atfork_child(void)
{
	if (mode == SYNC_MEMBARRIER && membarrier_register() < 0)
		mode = 0; /* the next sync_init in the child picks the fallback */
}

static int list_other_threads(long self, long **out)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long *v = NULL;
	int n = 0, cap = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		long tid = atol(e->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (n == cap) {
			long *nv = realloc(v, sizeof(*v) * (cap = cap ? 2 * cap : 16));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = tid;
	}
	closedir(d);
	*out = v;
	return n;
}

static bool thread_running(long tid)
{
	char path[64], buf[256];
	const char *p;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* exited */
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
	return p && p[1] == ' ' && p[2] == 'R';
}

static long send_cookie(long pid, long tid, unsigned long cookie)
{
	siginfo_t si;

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

static int sync_by_signal(void)
{
	long self = raw_gettid(), pid = raw_getpid();
	struct timespec pause = { 0, 20000 };
	unsigned long seq;
	_Atomic int *acked;
	long *tids = NULL;
	int n = list_other_threads(self, &tids);

	if (n < 0)
		return pt_error(-n, "cannot list the threads in /proc/self/task");
	if (n >= (1 << SYNC_IDX_BITS) || acks_reserve((size_t)n) < 0) {
		free(tids);
		return pt_error(ENOMEM, "cannot track %d threads for the signal sync", n);
	}
	acked = atomic_load(&round.acked);
	for (int i = 0; i < n; i++)
		atomic_store(&acked[i], 0);
	seq = (atomic_load(&round.seq) + 1) & SYNC_SEQ_MASK;
	atomic_store(&round.seq, seq);
	for (int i = 0; i < n; i++) {
		unsigned long cookie = SYNC_MAGIC | (seq << SYNC_IDX_BITS) | (unsigned long)i;

		if (send_cookie(pid, tids[i], cookie) < 0)
			atomic_store(&acked[i], 1); /* exited: nothing to sync */
	}
	for (int spins = 0;; spins++) {
		int waiting = 0;

		for (int i = 0; i < n; i++) {
			if (atomic_load(&acked[i]))
				continue;
			/* Only running threads need to be waited for (see top). */
			if (spins > 50 && !thread_running(tids[i]))
				atomic_store(&acked[i], 1);
			else
				waiting++;
		}
		if (!waiting)
			break;
		if (spins < 50)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
	free(tids);
	cpu_serialize();
	return 0;
}

int sync_cores(void)
{
	if (mode == SYNC_MEMBARRIER) {
		if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) < 0)
			return pt_error(errno, "membarrier(SYNC_CORE) failed: %s", strerror(errno));
		/* Kernels before 5.11 did not serialize the calling thread. */
		cpu_serialize();
		return 0;
	}
	if (mode == SYNC_SIGNAL)
		return sync_by_signal();
	return pt_error(EINVAL, "poketrace is not initialized: call poketrace_init()");
}
