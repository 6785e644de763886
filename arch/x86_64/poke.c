/* The breakpoint protocol, one batch at a time:
 *
 *   0. every thread able to take the trap (sync_begin: SIGTRAP deliverable
 *      in each, our handler installed), the batch published
 *   1. int3 over the first byte of every site          -> sync
 *   2. bytes 1-4 of every site                           -> sync
 *   3. the new first byte of every site                  -> sync
 *   4. wait until no SIGTRAP handler still reads the batch table
 *
 * Between the syncs after steps 1 and 3 no core can decode a site from its
 * first byte without trapping, so the tail can be written non-atomically; the
 * only writes a running thread can observe are the two single-byte stores.
 * A thread that traps meanwhile is made to execute the OLD instruction until
 * the sync after step 1 has made every site trap, the NEW one from then on
 * (trap.c): every thread sees either the old instruction or the new one —
 * never a mix and never something else — and the whole batch changes at
 * one instant (the flip), not site by site as the int3s are written: a
 * committer descheduled between two sites' int3s cannot leave a thread
 * running one new site and one old (fentry of one function and fexit of
 * another, or a filter's two functions, switched apart).
 *
 * All or nothing: if a write or a sync fails before the last first byte is
 * written, the batch is rolled back by the same protocol in reverse (int3
 * where a new instruction was already written, the old tails, the old first
 * bytes), and trapping threads are then made to execute the OLD instruction.
 * Both instructions stay valid throughout (the caller frees neither target
 * until no thread can be in it), so a thread that executed the new one
 * before the rollback is no worse off than one that ran before the batch.
 * Once every first byte is written the batch is complete: a failure of the
 * last sync leaves only stale int3s in some core's pipeline, which trap and
 * are handled (emulated, or re-executed once the table is withdrawn).
 *
 * The batch table is published through a global descriptor (never a stack
 * object: a late handler could read reused memory) whose reference count the
 * handler takes with inc-not-zero; step 4 waits for it to drain before the
 * caller frees the table.  A trap handled after that finds no entry and sees
 * the int3 gone; trap.c then restarts the thread at the site. */
#include "arch/x86_64/poke.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/execmem.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/reloc.h"
#include "arch/x86_64/sync.h"
#include "arch/x86_64/textwrite.h"
#include "base/error.h"

void (*poke_test_hook)(int step);
void (*poke_orphan_done)(struct poke_entry *v, size_t n, bool undone);

static pthread_mutex_t engine_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static _Atomic long lock_pid;        /* the process whose thread took the lock last */
static __thread bool committing;     /* this thread is inside poke_commit */
static __thread unsigned lock_depth; /* this thread's holds of engine_lock */

static struct {
	_Atomic long refs; /* 1 while a batch is in flight, +1 per handler inside */
	struct poke_entry *_Atomic vec;
	_Atomic size_t n;
	_Atomic uint64_t traps;
	_Atomic unsigned long gen;
	_Atomic int flipped; /* every site traps: trapping threads execute the new instruction */
	_Atomic int undoing; /* rolling back: trapping threads execute the old instruction */
} bp;

static _Atomic uint64_t cnt_batches, cnt_sites, cnt_syncs, cnt_trap[3];
static bool broken; /* a rollback could not write: int3s stay, the table stays published */
/* The session of the batch in flight: a child forked in the middle finds
 * there which pages are writable and what they were (see finish_orphan). */
static struct text_session *_Atomic cur_session;
static _Atomic int orphan_state; /* 0, 1: being finished, 2: finished (this process) */

static void finish_orphan(void);

void poke_lock(void)
{
	if (pthread_mutex_trylock(&engine_lock) != 0) {
		/* Held.  By a thread of a parent that _Fork()ed or forked raw
		 * (no atfork handler ran) while it held it?  That thread does
		 * not exist here: take the lock over and finish its batch. */
		if (atomic_load(&lock_pid) != raw_getpid()) {
			pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

			engine_lock = fresh;
			pthread_mutex_lock(&engine_lock);
			atomic_store(&lock_pid, raw_getpid());
			lock_depth = 1;
			finish_orphan();
			return;
		}
		pthread_mutex_lock(&engine_lock);
	}
	/* the outermost hold says whose it is (a system call: not on every
	 * one of the thousands of nested holds a batch takes) */
	if (lock_depth++ == 0)
		atomic_store(&lock_pid, raw_getpid());
}

void poke_unlock(void)
{
	lock_depth--;
	pthread_mutex_unlock(&engine_lock);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&engine_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&engine_lock);
}

static void fork_child(void)
{
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	engine_lock = fresh;
	atomic_store(&lock_pid, raw_getpid());
	sync_atfork_child();
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void poke_atfork_install(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, atfork_register);
}

static int cmp_entry(const void *a, const void *b)
{
	uintptr_t x = ((const struct poke_entry *)a)->addr, y = ((const struct poke_entry *)b)->addr;

	return x < y ? -1 : x > y;
}

PT_NOSANITIZE bool poke_trap_lookup(uintptr_t site, uint8_t *kind, uintptr_t *target)
{
	long r = atomic_load(&bp.refs);
	const struct poke_entry *v;
	size_t lo = 0, hi;
	bool found = false;

	do {
		if (r == 0)
			return false; /* no batch in flight */
	} while (!atomic_compare_exchange_weak(&bp.refs, &r, r + 1));

	/* A child forked (raw, _Fork) while the batch was in flight: its
	 * committer is not here to finish it, so the first trap does. */
	if (atomic_load(&lock_pid) != raw_getpid() && atomic_load(&orphan_state) == 0) {
		atomic_fetch_sub(&bp.refs, 1);
		finish_orphan();
		return false; /* withdrawn: the site holds its final bytes */
	}
	v = atomic_load(&bp.vec);
	hi = atomic_load(&bp.n);
	while (v && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].addr == site) {
			bool undo = atomic_load(&bp.undoing) || !atomic_load(&bp.flipped);

			*kind = undo ? v[mid].old_kind : v[mid].kind;
			*target = undo ? v[mid].old_target : v[mid].target;
			found = true;
			break;
		}
		if (v[mid].addr < site)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (found)
		atomic_fetch_add(&bp.traps, 1);
	atomic_fetch_sub(&bp.refs, 1);
	return found;
}

PT_NOSANITIZE unsigned long poke_generation(void)
{
	return atomic_load(&bp.gen);
}

PT_NOSANITIZE void poke_count_trap(int what)
{
	atomic_fetch_add(&cnt_trap[what], 1);
}

void poke_get_counters(struct poke_counters *c)
{
	c->batches = atomic_load(&cnt_batches);
	c->sites = atomic_load(&cnt_sites);
	c->syncs = atomic_load(&cnt_syncs);
	c->emulated = atomic_load(&cnt_trap[0]);
	c->restarted = atomic_load(&cnt_trap[1]);
	c->chained = atomic_load(&cnt_trap[2]);
}

static void hex5(char out[16], const uint8_t b[INSN_SITE_LEN])
{
	snprintf(out, 16, "%02x %02x %02x %02x %02x", b[0], b[1], b[2], b[3], b[4]);
}

/* User-space shadow stacks (CET, Linux 6.6+, enabled by glibc 2.39+ when
 * the program and its libraries are built for them): an int3 emulating a
 * call pushes the return address on the stack but not on the shadow stack,
 * and the callee's ret would fault.  Read from this thread's status: glibc
 * enables them for every thread or none. */
static bool shadow_stack_on(void)
{
	static int on = -1;
	char buf[8192];
	ssize_t n;
	int fd;

	if (on >= 0)
		return on;
	on = 0;
	if ((fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		const char *l;

		buf[n] = '\0';
		if ((l = strstr(buf, "x86_Thread_features:")))
			on = strstr(l, "shstk") && strstr(l, "shstk") < strchr(l, '\n');
	}
	return on;
}

static int validate(struct poke_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uintptr_t t, ot;
		enum insn_kind k = insn_decode(v[i].new, v[i].addr, &t);
		enum insn_kind ok = insn_decode(v[i].old, v[i].addr, &ot);
		char h[16];

		/* the original code's side: a trapping thread runs its copy */
		if (v[i].orig && (!v[i].copy || !v[i].plan))
			return pt_error(EINVAL, "site %#lx: a relocated entry without its copy", (unsigned long)v[i].addr);
		if (v[i].orig == POKE_ORIG_OLD)
			ok = INSN_JMP, ot = v[i].copy;
		else if (v[i].orig == POKE_ORIG_NEW)
			k = INSN_JMP, t = v[i].copy;

		if (k == INSN_INVALID || ok == INSN_INVALID) {
			hex5(h, k == INSN_INVALID ? v[i].new : v[i].old);
			return pt_error(EINVAL, "site %#lx: %s bytes %s are not a 5-byte nop, call "
					"rel32 or jmp rel32", (unsigned long)v[i].addr,
					k == INSN_INVALID ? "new" : "expected", h);
		}
		if ((k == INSN_CALL || ok == INSN_CALL) && shadow_stack_on())
			return pt_error(EOPNOTSUPP, "site %#lx: this process runs with user-space shadow stacks "
					"(CET), under which a thread meeting the site mid-batch cannot be made to "
					"execute a call; only jmp and nop can be written", (unsigned long)v[i].addr);
		v[i].kind = (uint8_t)k;
		v[i].target = t;
		v[i].old_kind = (uint8_t)ok;
		v[i].old_target = ot;
		if (i && v[i - 1].addr + INSN_SITE_LEN > v[i].addr)
			return pt_error(EINVAL, "sites %#lx and %#lx overlap (a site listed twice?)",
					(unsigned long)v[i - 1].addr, (unsigned long)v[i].addr);
	}
	for (size_t i = 0; i < n; i++) {
		if (memcmp((const void *)v[i].addr, v[i].old, INSN_SITE_LEN) != 0) {
			char want[16], have[16];

			hex5(want, v[i].old);
			hex5(have, (const uint8_t *)v[i].addr);
			return pt_error(EBUSY, "site %#lx holds %s, expected %s: the code was changed "
					"by someone else; nothing was written",
					(unsigned long)v[i].addr, have, want);
		}
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ the steps */

struct protocol {
	struct text_session *s;
	struct poke_entry *v;
	size_t n;
	struct poke_result *res;
};

static int sync_step(struct protocol *p, int step)
{
	int r = sync_cores();

	p->res->syncs++;
	if (poke_test_hook && step)
		poke_test_hook(step);
	return r;
}

/* One write, tried twice: a failure (only /proc/self/mem writes can fail)
 * rolls the batch back, which is worth a second try first. */
static int put(struct protocol *p, uintptr_t addr, const uint8_t *b, size_t len)
{
	int r = text_write(p->s, addr, b, len);

	return r < 0 ? text_write(p->s, addr, b, len) : r;
}

static const uint8_t int3 = INSN_INT3;

/* Writes, for sites [from, to): the first byte (int3, new or old) or the
 * tail (new or old).  The index of the first site that failed, or to. */
enum what { INT3, NEW_TAIL, NEW_HEAD, OLD_TAIL, OLD_HEAD };

static size_t put_all(struct protocol *p, enum what w, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct poke_entry *e = &p->v[i];
		int r = w == INT3       ? put(p, e->addr, &int3, 1)
			: w == NEW_TAIL ? put(p, e->addr + 1, e->new + 1, INSN_SITE_LEN - 1)
			: w == NEW_HEAD ? put(p, e->addr, e->new, 1)
			: w == OLD_TAIL ? put(p, e->addr + 1, e->old + 1, INSN_SITE_LEN - 1)
					: put(p, e->addr, e->old, 1);

		if (r < 0)
			return i;
	}
	return to;
}

/* Every site holds int3, [0, tails) possibly a new tail: back to the old
 * bytes.  Trapping threads now execute the old instruction. */
static void roll_back(struct protocol *p, size_t tails)
{
	atomic_store(&bp.undoing, 1);
	if (put_all(p, OLD_TAIL, 0, tails) < tails)
		broken = true;
	sync_step(p, 0);
	if (put_all(p, OLD_HEAD, 0, p->n) < p->n)
		broken = true;
	sync_step(p, 0);
}

/* Steps 1-3; the session is open and the batch published.  0: every site
 * has its new bytes; < 0: every site has its old bytes again. */
static int run_protocol(struct protocol *p)
{
	bool relocating = false;
	size_t k;
	int r;

	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].orig != POKE_ORIG_OLD)
			continue;
		if (!poke_region_note(&p->v[i]))
			return pt_error(ENOMEM, "out of memory for the relocated entries' records");
		relocating = true;
	}

	/* step 1 (the test hook after the first site stands for a committer
	 * descheduled between two int3s) */
	k = put_all(p, INT3, 0, 1);
	if (k == 1 && poke_test_hook)
		poke_test_hook(POKE_STEP_FIRST_INT3);
	if (k == 1)
		k = put_all(p, INT3, 1, p->n);
	p->res->began = k > 0;
	if (k < p->n) {
		r = pt_error_ctx(-EIO, "writing int3 at %#lx", (unsigned long)p->v[k].addr);
		atomic_store(&bp.undoing, 1);
		if (put_all(p, OLD_HEAD, 0, k) < k)
			broken = true;
		sync_step(p, 0);
		return r;
	}
	if ((r = sync_step(p, 0)) < 0) {
		roll_back(p, 0);
		return r;
	}
	/* Relocated entries: before their tail is written, no thread may be
	 * between their first byte and the jump's end (the kernel waits for
	 * a grace period of RCU-tasks here; a thread's registers can be read
	 * and moved directly in user space).  No thread can get there again:
	 * the first byte traps, and nothing branches into the region. */
	if (relocating) {
		uint64_t m0 = poke_moved();

		/* (for good: a thread may take the signal after the batch) */
		atomic_store(&sync_ip_fixup, poke_region_move_out);
		r = sync_interrupt_all();
		p->res->moved = poke_moved() - m0;
		if (r < 0) {
			roll_back(p, 0);
			return r;
		}
	}
	/* the flip: every site traps, so from this store on every thread
	 * meets the new instruction at every site, and none met one before */
	atomic_store(&bp.flipped, 1);
	if (poke_test_hook)
		poke_test_hook(1);
	/* step 2 */
	if ((k = put_all(p, NEW_TAIL, 0, p->n)) < p->n) {
		r = pt_error_ctx(-EIO, "writing the tail at %#lx", (unsigned long)p->v[k].addr);
		roll_back(p, k + 1); /* the one that failed may be half written */
		return r;
	}
	if ((r = sync_step(p, 2)) < 0) {
		roll_back(p, p->n);
		return r;
	}
	/* step 3 */
	if ((k = put_all(p, NEW_HEAD, 0, p->n)) < p->n) {
		/* [0, k) run their new instruction already: trap them again
		 * before their tails go back */
		r = pt_error_ctx(-EIO, "writing the first byte at %#lx", (unsigned long)p->v[k].addr);
		atomic_store(&bp.undoing, 1);
		if (put_all(p, INT3, 0, k) < k)
			broken = true;
		sync_step(p, 0);
		roll_back(p, p->n);
		return r;
	}
	sync_step(p, 3); /* complete whatever it says: see the top */
	return 0;
}

/* ------------------------------------------------------------ written sites */

/* Every address poketrace has ever written an int3 at: a trap there whose
 * int3 is gone (the batch completed while the signal was pending, maybe
 * several batches ago) is re-executed, whatever the code there is now (a
 * relocated entry's original bytes are no instruction the emulation knows).
 * An open-addressing set, one writer (the committer, engine lock held),
 * read without locks by the handler; grown by replacing the table, the old
 * ones kept (a handler may be reading one): their sizes sum to less than
 * twice the last, which is sized by the distinct addresses (a site toggled
 * a million times is one). */
struct addr_set {
	struct addr_set *older; /* kept reachable: not a leak, see above */
	size_t cap;             /* a power of two */
	_Atomic uintptr_t slot[];
};

static struct addr_set *_Atomic written;
static size_t nwritten; /* distinct addresses in the set */

static size_t hash_addr(uintptr_t a, size_t cap)
{
	return (size_t)((a * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

/* Whether a was new. */
static bool set_put(struct addr_set *t, uintptr_t a)
{
	for (size_t i = hash_addr(a, t->cap);; i = (i + 1) & (t->cap - 1)) {
		uintptr_t cur = atomic_load_explicit(&t->slot[i], memory_order_relaxed);

		if (cur == a)
			return false;
		if (!cur) {
			atomic_store_explicit(&t->slot[i], a, memory_order_release);
			return true;
		}
	}
}

static bool remember(const struct poke_entry *v, size_t n)
{
	struct addr_set *t = atomic_load(&written);

	if (!t || (nwritten + n) * 2 > t->cap) {
		size_t cap = t ? t->cap : 1024;
		struct addr_set *nt;

		while ((nwritten + n) * 2 > cap)
			cap *= 2;
		if (!(nt = calloc(1, sizeof(*nt) + cap * sizeof(nt->slot[0]))))
			return false;
		nt->cap = cap;
		nt->older = t;
		for (size_t i = 0; t && i < t->cap; i++)
			if (atomic_load(&t->slot[i]))
				set_put(nt, atomic_load(&t->slot[i]));
		atomic_store(&written, nt); /* the old table is kept: see above */
	}
	t = atomic_load(&written);
	for (size_t i = 0; i < n; i++)
		nwritten += set_put(t, v[i].addr);
	return true;
}

PT_NOSANITIZE bool poke_ever_written(uintptr_t a)
{
	struct addr_set *t = atomic_load(&written);

	if (!t || !a)
		return false;
	for (size_t i = hash_addr(a, t->cap);; i = (i + 1) & (t->cap - 1)) {
		uintptr_t cur = atomic_load_explicit(&t->slot[i], memory_order_acquire);

		if (cur == a)
			return true;
		if (!cur)
			return false;
	}
}

/* Publishes the batch: from now on a trap at one of its sites is ours. */
static void publish(struct poke_entry *v, size_t n)
{
	atomic_store(&bp.vec, v);
	atomic_store(&bp.n, n);
	atomic_store(&bp.traps, 0);
	atomic_store(&bp.undoing, 0);
	atomic_store(&bp.flipped, 0);
	atomic_fetch_add(&bp.gen, 1);
	atomic_store(&bp.refs, 1);
}

/* Step 4: no handler may still be reading v when the caller gets it back.
 * A handler holds a reference for a few instructions; sleeping (not only
 * yielding) lets it run even under a real-time committer on its core. */
static void withdraw(void)
{
	if (atomic_fetch_sub(&bp.refs, 1) != 1) {
		for (int i = 0; atomic_load(&bp.refs) != 0; i++) {
			if (i < 100)
				sched_yield();
			else
				nanosleep(&(struct timespec){ 0, 50000 }, NULL);
		}
	}
	atomic_store(&bp.vec, NULL);
	atomic_store(&bp.n, 0);
	atomic_fetch_add(&bp.gen, 1);
}

int poke_commit(struct poke_entry *v, size_t n, struct poke_result *res)
{
	struct text_session s;
	struct poke_result local;
	struct protocol p = { &s, v, n, res ? res : &local };
	uintptr_t *addrs;
	uint64_t t0 = now_ns();
	int r;

	res = p.res;
	memset(res, 0, sizeof(*res));
	if (n == 0)
		return 0;
	if (broken)
		return pt_error(EIO, "an earlier batch could not be rolled back (its writes failed): the "
				"code it touched keeps int3 bytes, emulated; poketrace makes no more changes");
	if (committing)
		return pt_error(EDEADLK, "poketrace was called from a signal handler while this thread "
				"was committing a batch; call it outside the handler");
	for (size_t i = 1; i < n; i++) {
		if (v[i - 1].addr > v[i].addr) {
			/* Callers usually pass sites in address order already. */
			qsort(v, n, sizeof(*v), cmp_entry);
			break;
		}
	}
	if ((r = validate(v, n)) < 0)
		return r;
	addrs = malloc(n * sizeof(*addrs));
	if (!addrs)
		return pt_error(ENOMEM, "out of memory for a batch of %zu sites", n);
	for (size_t i = 0; i < n; i++)
		addrs[i] = v[i].addr;
	r = text_open(&s, addrs, n, INSN_SITE_LEN);
	free(addrs);
	if (r < 0)
		return r;
	/* Everything that can fail before the first int3: every thread able
	 * to take the trap, the syncs ready (nothing written yet). */
	if ((r = sync_begin()) < 0) {
		text_close(&s);
		return r;
	}
	if (!remember(v, n)) {
		sync_end();
		text_close(&s);
		return pt_error(ENOMEM, "out of memory for a batch of %zu sites", n);
	}
	committing = true;
	atomic_store(&cur_session, &s);
	publish(v, n);
	r = run_protocol(&p);
	withdraw();
	atomic_store(&cur_session, NULL);
	committing = false;
	sync_end();
	{
		size_t spans = s.nspans;
		int rc = text_close(&s);

		if (!r)
			r = rc;
		s.nspans = spans;
	}
	res->mprotects = s.mprotects;
	res->ranges = (unsigned)s.nspans;
	res->sites = n;
	res->traps = atomic_load(&bp.traps);
	res->ns = now_ns() - t0;
	atomic_fetch_add(&cnt_batches, 1);
	atomic_fetch_add(&cnt_sites, n);
	atomic_fetch_add(&cnt_syncs, res->syncs);
	if (broken)
		return pt_error(EIO, "a batch failed and could not be rolled back: its sites keep int3 "
				"bytes, which are emulated; poketrace makes no more changes");
	return r;
}

bool poke_orphaned(void)
{
	return atomic_load(&orphan_state) == 2 && atomic_load(&lock_pid) == raw_getpid();
}

/* In a child forked (_Fork, raw fork) while a parent thread was inside
 * poke_commit: the table the parent published is this process's copy, the
 * sites are somewhere in the protocol, and the committer does not exist
 * here.  Finish the batch in the direction it was going — every site its
 * new bytes, or its old ones if it was rolling back — by the same protocol.
 * Called from the SIGTRAP handler (the child's first trap at a site) or at
 * the child's first poketrace call, so only system calls and the memory of
 * the parent's session: its pages are writable in the child too (the
 * parent made them so before publishing), and its spans say what they
 * were; /proc/self/mem, if that is how it wrote, is opened anew (the
 * parent's descriptor is the parent's memory). */
/* membarrier is system calls only; the signal fallback is not safe in a
 * signal handler, so there only this thread serializes (the child has
 * just the threads it made since the fork, and usually none). */
static void orphan_sync(void)
{
	if (sync_mode() == SYNC_MEMBARRIER)
		sync_cores();
	else
		cpu_serialize();
}

static void finish_orphan(void)
{
	struct poke_entry *v = atomic_load(&bp.vec);
	struct text_session *ps = atomic_load(&cur_session), s;
	size_t n = atomic_load(&bp.n);
	bool undo = atomic_load(&bp.undoing);
	int zero = 0;
	struct poke_result res = { 0 };
	struct protocol p = { &s, v, n, &res };

	if (!atomic_compare_exchange_strong(&orphan_state, &zero, 1))
		return;
	committing = false;
	sync_atfork_child(); /* membarrier's registration is per process */
	if (v && n && ps && atomic_load(&bp.refs) > 0) {
		s = *ps;
		s.memfd = s.mode == TEXT_PROCMEM ? (int)raw_syscall4(SYS_open, (long)"/proc/self/mem", 02000002, 0, 0)
						 : -1;
		if (s.mode != TEXT_PROCMEM || s.memfd >= 0) {
			/* (a thread created since the fork may be past the
			 * first byte: int3 everywhere again, as step 1) */
			put_all(&p, INT3, 0, n);
			orphan_sync();
			put_all(&p, undo ? OLD_TAIL : NEW_TAIL, 0, n);
			orphan_sync();
			put_all(&p, undo ? OLD_HEAD : NEW_HEAD, 0, n);
			orphan_sync();
			for (size_t i = 0; s.mode == TEXT_MPROTECT && i < s.nspans; i++)
				raw_syscall4(SYS_mprotect, (long)s.spans[i].start, (long)(s.spans[i].end - s.spans[i].start),
					     s.spans[i].prot, 0);
			if (s.memfd >= 0)
				raw_syscall4(SYS_close, s.memfd, 0, 0, 0);
			atomic_store(&bp.refs, 1); /* the parent's handlers are not here */
			withdraw();
			if (poke_orphan_done)
				poke_orphan_done(v, n, undo);
		} else {
			broken = true; /* the int3s stay, emulated by the table left published */
		}
	}
	atomic_store(&cur_session, NULL);
	execmem_orphan_restore(); /* the parent's change may have held chunks of images writable */
	atomic_store(&orphan_state, 2);
}
