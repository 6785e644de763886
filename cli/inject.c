/* dlopen in another process, with ptrace: seize its main thread, stop it,
 * write the library's path below its stack pointer (past the red zone), and
 * set its registers to call dlopen with a return address of 0; the call
 * returns into a fault we catch, rax holding the handle.  Then the saved
 * registers are put back — with them a system call that was interrupted
 * restarts as the kernel would have restarted it — and the thread detached.
 * dlopen's address is libc's offset of it in this process plus the target's
 * libc base (the same file).  A thread stopped inside malloc or the loader
 * would deadlock in dlopen: poketrace stops the main thread, which for the
 * servers this is meant for sits in a blocking call. */
#include "cli/inject.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/elfscan.h"

/* Where @file is mapped in @pid.  The target names the file by whatever path
 * its loader resolved (/lib or /usr/lib), so compare canonical paths, or the
 * device and inode (an overlay filesystem may show either). */
static uintptr_t module_base(pid_t pid, const char *file)
{
	char path[64], line[4096 + 128], canon[PATH_MAX], other[PATH_MAX];
	uintptr_t base = 0;
	struct stat want;
	FILE *f;

	if (stat(file, &want) < 0 || !realpath(file, canon))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, off, ino;
		unsigned int maj, min;
		char name[4096] = "";

		if (sscanf(line, "%lx-%*x %*s %lx %x:%x %lu %4095s", &start, &off, &maj, &min, &ino, name) != 6 ||
		    off != 0)
			continue;
		if ((ino == want.st_ino && makedev(maj, min) == want.st_dev) ||
		    (realpath(name, other) && !strcmp(other, canon))) {
			base = start;
			break;
		}
	}
	fclose(f);
	return base;
}

static int fail(char *err, size_t cap, const char *fmt, const char *what)
{
	snprintf(err, cap, fmt, what);
	return -1;
}

static int refused(int e, char *err, size_t cap)
{
	int yama = -1;
	FILE *f;

	if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re"))) {
		if (fscanf(f, "%d", &yama) != 1)
			yama = -1;
		fclose(f);
	}
	snprintf(err, cap, "ptrace refused (%s): %s", strerror(e),
		 yama > 0 ? "kernel.yama.ptrace_scope is not 0, so only root may attach "
			    "(or, as root: sysctl kernel.yama.ptrace_scope=0)"
			  : "it is not yours, or it is being traced or debugged already; run as root or stop the debugger");
	return -1;
}

int inject_check(pid_t pid, char *err, size_t cap)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) < 0)
		return fail(err, cap, "%s", "no such process");
	/* The agent writes the trace and opens its socket as the process's
	 * user; the one who attaches must be that user to read and drive it. */
	if (st.st_uid != geteuid()) {
		snprintf(err, cap, "it runs as uid %u, this command as uid %u; attach as its user "
			 "(sudo -u '#%u' poketrace attach ...)", (unsigned)st.st_uid, (unsigned)geteuid(),
			 (unsigned)st.st_uid);
		return -1;
	}
	/* The kernel's ptrace access check (Yama's included), without stopping anything. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return refused(errno, err, cap);
	close(fd);
	return 0;
}

bool inject_loaded(pid_t pid, const char *lib)
{
	return module_base(pid, lib) != 0;
}

/* A stop of pid: its signal, and in *event a ptrace event's number (0 for
 * a signal to deliver). */
static int wait_stop_event(pid_t pid, int *sig, int *event)
{
	int st;

	if (waitpid(pid, &st, __WALL) < 0 || !WIFSTOPPED(st))
		return -1;
	*sig = WSTOPSIG(st);
	*event = st >> 16;
	return 0;
}

static int wait_stop(pid_t pid, int *sig)
{
	int event;

	return wait_stop_event(pid, sig, &event);
}

/* SIGTRAP and the engine's default signal in a stopped thread's mask are
 * unblocked: a thread that blocked them (a server's workers often block
 * every signal) would die at the first int3, and the agent, loaded late,
 * cannot reach it to unblock them itself.  Its interposers would have kept
 * them unblocked had it been loaded at start. */
static void unblock_traps(pid_t tid)
{
	unsigned long long m;

	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(m), &m) == 0 &&
	    (m & (1ULL << (SIGTRAP - 1) | 1ULL << (SIGRTMAX - 2 - 1)))) {
		m &= ~(1ULL << (SIGTRAP - 1) | 1ULL << (SIGRTMAX - 2 - 1));
		ptrace(PTRACE_SETSIGMASK, tid, sizeof(m), &m);
	}
}

/* A thread's signal masks from /proc/PID/task/TID/status, read whole (a
 * user in many groups makes it longer than a page; the masks come after
 * Groups).  false if it cannot be read. */
struct sig_masks {
	unsigned long long blocked, pending, shared_pending;
};

static bool read_masks(pid_t pid, pid_t tid, struct sig_masks *m)
{
	static char buf[65536];
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "SigBlk:", 7))
			m->blocked = strtoull(l + 7, NULL, 16);
		else if (!strncmp(l, "SigPnd:", 7))
			m->pending = strtoull(l + 7, NULL, 16);
		else if (!strncmp(l, "ShdPnd:", 7))
			m->shared_pending = strtoull(l + 7, NULL, 16);
	}
	return len > 0;
}

/* Whether tid's mask blocks SIGTRAP or the engine's signal (true when it
 * cannot be read: look with ptrace). */
static bool blocks_traps(pid_t pid, pid_t tid)
{
	struct sig_masks m;

	return !read_masks(pid, tid, &m) || (m.blocked & (1ULL << (SIGTRAP - 1) | 1ULL << (SIGRTMAX - 2 - 1)));
}

/* The same in every other thread of pid that blocks them, each stopped for
 * the moment — only those: a ptrace stop ends an epoll_wait or a
 * sigtimedwait with EINTR, which nothing restarts. */
static void unblock_traps_everywhere(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		int sig;

		if (tid <= 0 || tid == pid || !blocks_traps(pid, tid) || ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
			continue;
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0 && wait_stop(tid, &sig) == 0)
			unblock_traps(tid);
		ptrace(PTRACE_DETACH, tid, 0, 0);
	}
	closedir(d);
}

/* Whether the thread pid has a signal pending that it does not block
 * (true when that cannot be read). */
static bool signal_pending_for(pid_t pid)
{
	struct sig_masks m;

	return !read_masks(pid, pid, &m) || ((m.pending | m.shared_pending) & ~m.blocked);
}

/* A thread stopped inside a system call (interrupted: -ERESTART* in rax)
 * would have the kernel restart it when it goes on — but for the ones that
 * restart through the thread's restart block (nanosleep, poll, timed
 * futex waits: -ERESTART_RESTARTBLOCK), which the injected call's signal
 * handlers reset (sigreturn does), they would end in EINTR, which the
 * program never asked for; epoll_wait and sigtimedwait end in EINTR at
 * the stop itself.  Its registers are set to run the system call again
 * instead (what the kernel does for the others): a relative sleep or
 * timeout starts over, the least harm. */
static void restart_interrupted(pid_t pid, struct user_regs_struct *r)
{
	long rax = (long)r->rax, nr = (long)r->orig_rax;
	/* epoll_wait, epoll_pwait, epoll_pwait2, rt_sigtimedwait: ended by the
	 * ptrace stop itself with EINTR, never restarted */
	bool stopped_wait = rax == -EINTR && (nr == 232 || nr == 281 || nr == 441 || nr == 128);

	if (nr < 0 || (rax != -512 && rax != -513 && rax != -514 && rax != -516 && !stopped_wait))
		return;
	/* (unless a signal it will take is pending: its EINTR may be that) */
	if (stopped_wait && signal_pending_for(pid))
		return;
	r->rax = r->orig_rax;
	r->rip -= 2; /* the syscall instruction */
	r->orig_rax = (unsigned long)-1;
}

/* Stops the thread pid, runs stopped(arg), makes the thread call
 * fn(str, arg2) and return into a fault at address 0, puts back its
 * registers and lets it go.  The call's rax in *ret. */
static int call_in(pid_t pid, uintptr_t fn, const char *str, long arg2, int (*stopped)(void *), void *arg,
		   long *ret, char *err, size_t cap)
{
	struct user_regs_struct saved, regs;
	size_t len = str ? strlen(str) + 1 : 0;
	uintptr_t sp, at;
	int sig;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		return refused(errno, err, cap);
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || wait_stop(pid, &sig) < 0 ||
	    ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return fail(err, cap, "%s", "cannot stop it with ptrace");
	}
	if (stopped && stopped(arg) < 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return fail(err, cap, "%s", "nothing was done to it");
	}
	unblock_traps(pid);
	unblock_traps_everywhere(pid);
	/* the string below the red zone, then a 16-aligned call frame */
	sp = (saved.rsp - 256 - len) & ~(uintptr_t)15;
	at = sp;
	for (size_t i = 0; i < len; i += sizeof(long)) {
		long word = 0;

		memcpy(&word, str + i, len - i < sizeof(long) ? len - i : sizeof(long));
		if (ptrace(PTRACE_POKEDATA, pid, at + i, word) < 0)
			goto restore;
	}
	sp = (at - 64) & ~(uintptr_t)15;
	sp -= 8; /* the return address slot: at entry rsp + 8 is 16-aligned */
	if (ptrace(PTRACE_POKEDATA, pid, sp, 0) < 0)
		goto restore;
	regs = saved;
	regs.rip = fn;
	regs.rdi = str ? at : 0;
	regs.rsi = (unsigned long)arg2;
	regs.rsp = sp;
	regs.rax = 0;
	regs.orig_rax = (unsigned long)-1; /* not inside a system call any more */
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0 || ptrace(PTRACE_CONT, pid, 0, 0) < 0)
		goto restore;
	/* The call returns to address 0: the fault stops it.  Other signals
	 * arriving meanwhile are delivered — SIGTRAP too: the thread meets
	 * the int3 of the agent's first batches (a function it calls being
	 * hooked), which the engine's handler emulates.  Only ptrace's own
	 * stops (group stops, events) are not signals. */
	for (;;) {
		int event;

		if (wait_stop_event(pid, &sig, &event) < 0)
			return fail(err, cap, "%s", "the process ended during the call");
		if (sig == SIGSEGV && !event)
			break;
		ptrace(PTRACE_CONT, pid, 0, event || sig == SIGSTOP ? 0 : sig);
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0 || regs.rip != 0) {
		ptrace(PTRACE_SETREGS, pid, 0, &saved);
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return fail(err, cap, "%s", "it faulted during the call (registers put back)");
	}
	restart_interrupted(pid, &saved);
	ptrace(PTRACE_SETREGS, pid, 0, &saved);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	*ret = (long)regs.rax;
	return 0;
restore:
	ptrace(PTRACE_SETREGS, pid, 0, &saved);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return fail(err, cap, "%s", "cannot write into its memory");
}

int inject_dlopen(pid_t pid, const char *lib, int (*stopped)(void *), void *arg, char *err, size_t cap)
{
	void *self_dlopen = dlsym(RTLD_DEFAULT, "dlopen");
	uintptr_t target_libc;
	Dl_info di;
	long handle;

	if (!self_dlopen || !dladdr(self_dlopen, &di) || !di.dli_fname)
		return fail(err, cap, "%s", "cannot locate dlopen in this process");
	target_libc = module_base(pid, di.dli_fname);
	if (!target_libc)
		return fail(err, cap, "it has not loaded %s (a static or non-glibc program cannot be attached)",
			    di.dli_fname);
	if (call_in(pid, target_libc + ((uintptr_t)self_dlopen - (uintptr_t)di.dli_fbase), lib, RTLD_NOW, stopped,
		    arg, &handle, err, cap) < 0)
		return -1;
	if (!handle)
		return fail(err, cap, "dlopen(\"%s\") failed in the process", lib);
	return 0;
}

/* A function's address relative to the file's load base (core's ELF scan). */
static uintptr_t symbol_offset(const char *file, const char *name)
{
	const struct es_sym *sym;
	struct es_file f;
	uintptr_t off;

	if (es_open(file, &f) < 0)
		return 0;
	off = (sym = es_symbol_named(&f, name)) ? sym->vaddr : 0;
	es_close(&f);
	return off;
}

int inject_call_int(pid_t pid, const char *lib, const char *fn, int (*stopped)(void *), void *arg, long *ret,
		    char *err, size_t cap)
{
	uintptr_t base = module_base(pid, lib), off = symbol_offset(lib, fn);

	if (!base || !off)
		return fail(err, cap, "cannot find %s in it", fn);
	return call_in(pid, base + off, NULL, 0, stopped, arg, ret, err, cap);
}
