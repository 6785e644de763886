/* Reclaiming retired images without any cost on the hot path.
 *
 * Once a batch has retargeted its sites, no new call enters an old image.
 * What can still be in one:
 *   - a thread running its code: its program counter is inside;
 *   - a thread in a handler the image called: the guard (hooks.c) names the
 *     image (or, for a shared trampoline, the stub) while handlers run, and
 *     the return address lies on the stack the handler runs on;
 *   - a signal handler that interrupted the image's code: the interrupted
 *     pc lies in the signal frame, on the stack the handler runs on.
 * Not a body the image called: bodies return to landing pads (pad.c), never
 * freed, so a body asleep on a coroutine's stack, above a sigaltstack, on a
 * stack split by mlock or about to be unmapped holds nothing.
 *
 * Each other thread is observed once after the retirement:
 *   - not running: its sp and pc from /proc/self/task/TID/syscall, and the
 *     words from sp to the end of the run of mappings holding it, read with
 *     safe_read (the thread may exit and its stack be unmapped meanwhile);
 *     valid if it did not run meanwhile (the same context-switch counters
 *     and sp/pc before and after);
 *   - running: interrupted by the engine's signal (sync_observe), whose
 *     handler, on that thread, reads its pc, its guard and its stack, as
 *     RCU-tasks waits for each task to pass a point where it holds nothing.
 * A thread with no user context (an io_uring worker: sp and pc 0) holds
 * nothing.  A thread that cannot be observed (no descriptor left, the signal
 * blocked by a raw system call) keeps the round undecided: nothing is freed.
 *
 * Words are compared with the images' code conservatively (any value in
 * range counts), so a stale value only delays reclaiming.  A thread stopped
 * between a stub's `mov r11` and its shared trampoline storing r11 holds a
 * stub's address only in a register: a pc in that window keeps every stub
 * for the round.
 *
 * A blocked thread's guard is read too, through the registry of threads'
 * guards (guard.c: filled as pthread_create starts a thread, and as the
 * signal looks at a running one), so a handler blocked on a stack it
 * switched to (a coroutine, a sigaltstack) holds its image.  Not covered: a
 * thread that is neither (made before poketrace was loaded, or by a raw
 * clone, never seen running since) blocked in such a handler. */
#include "core/reclaim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/saferead.h"
#include "arch/x86_64/sync.h"
#include "base/maps.h"
#include "core/guard.h"

static struct image *retired;
static int nretired;

/* Kept by hooks.c: the shared trampolines (their r11 window, see top). */
struct image *const *reclaim_shared_tramps(size_t *n);


void reclaim_retire(struct image *im)
{
	im->next = retired;
	retired = im;
	nretired++;
	image_count_retired(1);
}

int reclaim_pending(void)
{
	return nretired;
}

/* ------------------------------------------------------------- a round */

struct range {
	uintptr_t lo, hi;
	int idx; /* in the retired list */
};

struct round {
	struct range *code; /* sorted */
	int ncode;
	struct image **img; /* by index */
	uint8_t *busy;      /* by index; set by observers in other threads too */
	struct maps maps;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int round_begin(struct round *r)
{
	int i = 0;

	memset(r, 0, sizeof(*r));
	r->code = calloc((size_t)nretired, sizeof(*r->code));
	r->img = calloc((size_t)nretired, sizeof(*r->img));
	r->busy = calloc((size_t)nretired, 1);
	if (!r->code || !r->img || !r->busy || maps_read(&r->maps) < 0) {
		free(r->code);
		free(r->img);
		free(r->busy);
		return -1;
	}
	for (struct image *im = retired; im; im = im->next, i++) {
		r->img[i] = im;
		r->code[i] = (struct range){ im->code, im->code + im->size, i };
	}
	r->ncode = i;
	qsort(r->code, (size_t)r->ncode, sizeof(*r->code), range_cmp);
	return 0;
}

static void round_end(struct round *r)
{
	free(r->code);
	free(r->img);
	free(r->busy);
	maps_free(&r->maps);
}

/* Async-signal-safe from here to observe(): observers run in signal
 * handlers of other threads. */
static void mark_word(struct round *r, uintptr_t v)
{
	int lo = 0, hi = r->ncode;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (r->code[mid].hi <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->ncode && r->code[lo].lo <= v)
		r->busy[r->code[lo].idx] = 1;
}

static void mark_pc(struct round *r, uintptr_t pc)
{
	size_t n;
	struct image *const *shared = reclaim_shared_tramps(&n);

	mark_word(r, pc);
	for (size_t i = 0; i < n; i++)
		if (pc >= shared[i]->code && pc < shared[i]->r11_end)
			for (int k = 0; k < r->ncode; k++)
				if (r->img[k]->is_stub)
					r->busy[k] = 1; /* see top */
}

/* The guard: an image's id, or a stub's info (a shared trampoline's
 * handler runs: the retired shared trampolines are kept too). */
static void mark_guard(struct round *r, uint64_t g)
{
	if (!g)
		return;
	for (int k = 0; k < r->ncode; k++) {
		struct image *im = r->img[k];

		if (im->id == g || image_contains(im, (uintptr_t)g) || im->r11_end)
			r->busy[k] = 1;
	}
}

static bool anon(const struct maps_entry *e)
{
	return !e->path[0] || !strcmp(e->path, "[stack]");
}

/* The end of the stack holding a: its mapping, and the anonymous ones of
 * the same protection just above it (mlock or mprotect of a part split a
 * stack into several), not the unrelated ones that happen to follow. */
static uintptr_t run_end(const struct maps *m, uintptr_t a)
{
	const struct maps_entry *e = maps_find(m, a);

	if (!e || !(e->prot & PROT_READ))
		return 0;
	while (anon(e) && e + 1 < m->v + m->n && e[1].start == e->end && e[1].prot == e->prot && anon(&e[1]))
		e++;
	return e->end;
}

/* This thread's own stack: plain loads (its redzones included). */
PT_NOSANITIZE static void scan_local(struct round *r, uintptr_t sp, uintptr_t end)
{
	for (uintptr_t p = sp & ~7UL; p + 8 <= end; p += 8)
		mark_word(r, *(const uintptr_t *)p);
}

static void observe(void *ucv, void *arg)
{
	struct round *r = arg;
	const ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];

	mark_pc(r, pc);
	mark_guard(r, guard_self());
	scan_local(r, sp, run_end(&r->maps, sp));
	guard_register_signal(); /* made before poketrace was: known from now on */
}

/* Another thread's stack, which may be unmapped as it is read. */
static void scan_remote(struct round *r, uintptr_t sp, uintptr_t end)
{
	static uintptr_t buf[SAFE_READ_MAX / 8]; /* rounds hold the engine lock */

	for (uintptr_t p = sp & ~7UL; p < end;) {
		size_t want = end - p < SAFE_READ_MAX ? end - p : SAFE_READ_MAX;
		size_t got = safe_read(buf, p, want) / 8;

		for (size_t i = 0; i < got; i++)
			mark_word(r, buf[i]);
		if (got * 8 < want)
			return; /* gone: the thread exited, the counters will say */
		p += want;
	}
}

/* ------------------------------------------------------------ threads */

/* A /proc file read whole (status is longer than a page for a user in
 * many groups).  -errno if it cannot be opened. */
static int read_proc(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

/* Context switches so far (and the voluntary ones: sleeps); -ENOENT/-ESRCH
 * once it exited, another -errno if that cannot be known. */
static long switches(long tid, long *voluntary)
{
	static char buf[65536];
	char path[64];
	const char *v, *nv;
	int n;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	if ((n = read_proc(path, buf, sizeof(buf))) < 0)
		return n;
	if (n == 0)
		return -ESRCH;
	v = strstr(buf, "\nvoluntary_ctxt_switches:");
	nv = strstr(buf, "\nnonvoluntary_ctxt_switches:");
	if (!v || !nv)
		return -EIO;
	if (voluntary)
		*voluntary = atol(v + 25);
	return atol(v + 25) * 1000003L + atol(nv + 28);
}

enum { STOPPED, RUNNING, UNKNOWN };

/* sp and pc of a thread that is not running: "nr args... sp pc" (in a
 * system call) or "-1 sp pc" (blocked otherwise). */
static int stopped_at(long tid, uintptr_t *sp, uintptr_t *pc)
{
	char path[64], buf[512], *last, *prev;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", tid);
	if (read_proc(path, buf, sizeof(buf)) <= 0)
		return UNKNOWN;
	if (!strncmp(buf, "running", 7))
		return RUNNING;
	buf[strcspn(buf, "\n")] = '\0';
	if (!(last = strrchr(buf, ' ')))
		return UNKNOWN;
	*last = '\0';
	if (!(prev = strrchr(buf, ' ')))
		return UNKNOWN;
	*sp = strtoul(prev + 1, NULL, 16);
	*pc = strtoul(last + 1, NULL, 16);
	return STOPPED;
}

static bool observed(struct round *r, long tid)
{
	int o = sync_observe(tid, observe, r, 100);

	return o == 0 || o == -ESRCH; /* -ESRCH: it exited */
}

/* Whether tid runs each time it is looked at over about a millisecond and
 * did not sleep meanwhile: a CPU-bound thread, not one between two sleeps,
 * which a signal could catch entering the next (EINTR). */
static bool keeps_running(long tid)
{
	uintptr_t sp, pc;
	long v0, v1;

	if (switches(tid, &v0) < 0)
		return false;
	for (int i = 0; i < 8; i++) {
		nanosleep(&(struct timespec){ 0, 125000 }, NULL);
		if (stopped_at(tid, &sp, &pc) != RUNNING)
			return false;
	}
	return switches(tid, &v1) >= 0 && v1 == v0;
}

/* One thread: true if judged (busy[] updated).  A thread seen blocked is
 * read through /proc (again if it ran meanwhile); one that keeps running is
 * signalled when may_signal, and then interrupts user code, not a sleep. */
static bool judge(struct round *r, long tid, bool may_signal)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		uintptr_t sp, pc, sp2, pc2;
		const uint64_t *gp;
		long before = switches(tid, NULL);
		int st;

		if (before == -ENOENT || before == -ESRCH)
			return true; /* exited */
		if (before < 0)
			return false;
		st = stopped_at(tid, &sp, &pc);
		if (st == RUNNING && !(may_signal && keeps_running(tid)))
			continue;
		if (st == RUNNING)
			return observed(r, tid);
		if (st != STOPPED)
			return false;
		if (!sp && !pc)
			return true; /* no user context: a kernel worker (io_uring) */
		mark_pc(r, pc);
		scan_remote(r, sp, run_end(&r->maps, sp));
		if ((gp = guard_of(tid))) {
			/* the guard, wherever the handler's stack is: read safely
			 * (the thread may end and its TLS go meanwhile) */
			uint64_t g = 0;

			if (safe_read(&g, (uintptr_t)gp, sizeof(g)) == sizeof(g))
				mark_guard(r, g);
		}
		if (stopped_at(tid, &sp2, &pc2) == STOPPED && sp2 == sp && pc2 == pc && switches(tid, NULL) == before)
			return true;
	}
	return false;
}

int reclaim_try(bool may_signal)
{
	long self = raw_gettid();
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	bool undecided = false;
	struct round r;
	struct dirent *e;
	DIR *d;

	if (!retired)
		return 0;
	if (round_begin(&r) < 0)
		return nretired;
	if (!(d = opendir("/proc/self/task"))) {
		round_end(&r);
		return nretired;
	}
	/* This thread: from here up (it may be in a handler called from one). */
	mark_guard(&r, guard_self());
	scan_local(&r, here, run_end(&r.maps, here));
	while ((e = readdir(d))) {
		long tid = atol(e->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (!judge(&r, tid, may_signal))
			undecided = true;
	}
	closedir(d);
	if (!undecided) {
		struct image **pp = &retired;
		int i = 0;

		while (*pp) {
			struct image *im = *pp;

			if (!__atomic_load_n(&r.busy[i++], __ATOMIC_ACQUIRE)) {
				*pp = im->next;
				nretired--;
				image_free(im);
			} else {
				pp = &im->next;
			}
		}
	}
	round_end(&r);
	return nretired;
}
