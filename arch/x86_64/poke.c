/* The breakpoint protocol, one batch at a time:
 *
 *   1. int3 over the first byte of every site          -> sync
 *   2. bytes 1-4 of every site                           -> sync
 *   3. the new first byte of every site                  -> sync
 *   4. wait until no SIGTRAP handler still reads the batch table
 *
 * Between the syncs after steps 1 and 3 no core can decode a site from its
 * first byte without trapping, so the tail can be written non-atomically; the
 * only writes a running thread can observe are the two single-byte stores.
 * A thread that traps meanwhile is made to execute the NEW instruction
 * (trap.c), so every thread sees either the old instruction (before the
 * int3) or the new one — never a mix and never something else.
 *
 * The batch table is published through a global descriptor (never a stack
 * object: a late handler could read reused memory) whose reference count the
 * handler takes with inc-not-zero; step 4 waits for it to drain before the
 * caller frees the table.  A trap handled after that finds no entry and sees
 * the int3 gone; trap.c then restarts the thread at the site. */
#include "arch/x86_64/poke.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/sync.h"
#include "arch/x86_64/textwrite.h"
#include "base/error.h"

void (*poke_test_hook)(int step);

static pthread_mutex_t engine_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static struct {
	_Atomic long refs; /* 1 while a batch is in flight, +1 per handler inside */
	struct poke_entry *_Atomic vec;
	_Atomic size_t n;
	_Atomic uint64_t traps;
} bp;

static _Atomic uint64_t cnt_batches, cnt_sites, cnt_syncs, cnt_trap[3];

void poke_lock(void)
{
	pthread_mutex_lock(&engine_lock);
}

void poke_unlock(void)
{
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

	v = atomic_load(&bp.vec);
	hi = atomic_load(&bp.n);
	while (v && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].addr == site) {
			*kind = v[mid].kind;
			*target = v[mid].target;
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

static int validate(struct poke_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uintptr_t t;
		enum insn_kind k = insn_decode(v[i].new, v[i].addr, &t);
		char h[16];

		if (k == INSN_INVALID) {
			hex5(h, v[i].new);
			return pt_error(EINVAL, "site %#lx: new bytes %s are not a 5-byte nop, call "
					"rel32 or jmp rel32", (unsigned long)v[i].addr, h);
		}
		v[i].kind = (uint8_t)k;
		v[i].target = t;
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

static void sync_step(struct poke_result *res, int step, int *err)
{
	int r = sync_cores();

	/* A failed sync does not stop the protocol: leaving int3 bytes behind
	 * would be worse than any error.  It is reported at the end. */
	if (r < 0 && !*err)
		*err = r;
	res->syncs++;
	if (poke_test_hook)
		poke_test_hook(step);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Steps 1-3; the session is open and the batch published.  Only step 1 can
 * be undone (nothing but int3 written yet); after it the batch is completed
 * whatever fails, so that no int3 stays behind. */
static int run_protocol(struct text_session *s, struct poke_entry *v, size_t n,
			struct poke_result *res)
{
	static const uint8_t int3 = INSN_INT3;
	int err = 0, r;

	for (size_t i = 0; i < n; i++) {
		if ((r = text_write(s, v[i].addr, &int3, 1)) < 0) {
			while (i-- > 0)
				text_write(s, v[i].addr, v[i].old, 1);
			sync_step(res, 1, &err);
			return r;
		}
	}
	sync_step(res, 1, &err);
	for (size_t i = 0; i < n; i++)
		if ((r = text_write(s, v[i].addr + 1, v[i].new + 1, INSN_SITE_LEN - 1)) < 0 && !err)
			err = r;
	sync_step(res, 2, &err);
	for (size_t i = 0; i < n; i++)
		if ((r = text_write(s, v[i].addr, v[i].new, 1)) < 0 && !err)
			err = r;
	sync_step(res, 3, &err);
	return err;
}

int poke_commit(struct poke_entry *v, size_t n, struct poke_result *res)
{
	struct text_session s;
	struct poke_result local;
	uintptr_t *addrs;
	uint64_t t0 = now_ns();
	int r;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (n == 0)
		return 0;
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

	atomic_store(&bp.vec, v);
	atomic_store(&bp.n, n);
	atomic_store(&bp.traps, 0);
	atomic_store_explicit(&bp.refs, 1, memory_order_release);

	r = run_protocol(&s, v, n, res);

	/* Step 4: no handler may still be reading v when we return it. */
	if (atomic_fetch_sub(&bp.refs, 1) != 1)
		while (atomic_load(&bp.refs) != 0)
			sched_yield();
	atomic_store(&bp.vec, NULL);
	atomic_store(&bp.n, 0);

	res->ranges = (unsigned)s.nranges;
	{
		int rc = text_close(&s);

		if (!r)
			r = rc;
	}
	res->mprotects = s.mprotects;
	res->sites = n;
	res->traps = atomic_load(&bp.traps);
	res->ns = now_ns() - t0;
	atomic_fetch_add(&cnt_batches, 1);
	atomic_fetch_add(&cnt_sites, n);
	atomic_fetch_add(&cnt_syncs, res->syncs);
	return r;
}
