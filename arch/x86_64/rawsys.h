/* System calls issued inline, for signal handlers that must not call into
 * libc (whose functions could be patch sites, and are not all
 * async-signal-safe). Each returns the kernel's value: >= 0 or -errno. */
#ifndef PT_ARCH_RAWSYS_H
#define PT_ARCH_RAWSYS_H

#include <sys/syscall.h>

static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long raw_gettid(void)
{
	return raw_syscall4(SYS_gettid, 0, 0, 0, 0);
}

static inline long raw_getpid(void)
{
	return raw_syscall4(SYS_getpid, 0, 0, 0, 0);
}

static inline long raw_tgkill(long pid, long tid, int sig)
{
	return raw_syscall4(SYS_tgkill, pid, tid, sig, 0);
}

/* Anonymous read-write memory, for the tracer's slow paths (a buffer grown
 * from a signal handler must not call malloc). */
static inline void *raw_mmap_anon(unsigned long len)
{
	long r = raw_syscall6(SYS_mmap, 0, (long)len, 3 /* PROT_READ|PROT_WRITE */,
			      0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);

	return r < 0 && r > -4096 ? (void *)0 : (void *)r;
}

struct raw_timespec {
	long tv_sec, tv_nsec;
};

/* Sleeps while *word == val, at most timeout_ns (0: no limit).  Private
 * futex: only this process's threads wait or wake. */
static inline long raw_futex_wait(const void *word, unsigned val, long timeout_ns)
{
	struct raw_timespec ts = { timeout_ns / 1000000000L, timeout_ns % 1000000000L };

	return raw_syscall4(SYS_futex, (long)word, 0 | 128 /* FUTEX_WAIT_PRIVATE */, val,
			    timeout_ns ? (long)&ts : 0);
}

static inline long raw_futex_wake(const void *word, int n)
{
	return raw_syscall4(SYS_futex, (long)word, 1 | 128 /* FUTEX_WAKE_PRIVATE */, n, 0);
}

/* The kernel's struct sigaction layout for rt_sigaction. */
struct raw_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

/* Resets sig to its default action; needs no restorer. */
static inline long raw_sig_default(int sig)
{
	struct raw_kernel_sigaction ka = { 0 };

	return raw_syscall4(SYS_rt_sigaction, sig, (long)&ka, 0, 8);
}

static inline long raw_sigprocmask(int how, const void *set, void *old)
{
	return raw_syscall4(SYS_rt_sigprocmask, how, (long)set, (long)old, 8);
}

/* CPUID serializes the executing core: no instruction after it was fetched
 * before it. Used where membarrier SYNC_CORE cannot be relied on. */
static inline void cpu_serialize(void)
{
	unsigned a = 0, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

/* Keeps sanitizers out of code that runs in the SIGTRAP path. */
#define PT_NOSANITIZE __attribute__((no_sanitize("address", "undefined")))

#endif
