/* Executable memory near a module.  A call written at a site reaches only
 * ±2 GiB, so trampolines live in chunks mapped into address-space gaps close
 * to the module; chunks are carved in 16-byte units with two bitmaps (used,
 * start-of-allocation) and never unmapped while they hold an allocation. */
#include "arch/x86_64/execmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/poke.h"
#include "arch/x86_64/textwrite.h"
#include "base/error.h"

#define UNIT 16UL
#define CHUNK (256UL * 1024)
#define MAX_CHUNK (4UL * 1024 * 1024)
#define PAGE 4096UL
#define UNITS (CHUNK / UNIT)

struct chunk {
	uintptr_t base;
	size_t size; /* bytes, a multiple of CHUNK */
	uint64_t *used, *start;
	size_t hint; /* every unit below it is used: first fit starts there */
	bool held;   /* writable until execmem_release (hold) */
	struct text_session session;
	struct chunk *next;
};

/* Guarded by the engine lock (poke_lock): allocation, freeing and writing,
 * whose window of writable pages must not overlap another writer's on the
 * same page (one would make it read-only under the other's feet). */
static struct chunk *chunks;
static bool holding;

static bool bit(const uint64_t *m, size_t i)
{
	return m[i / 64] >> (i % 64) & 1;
}

static void set_bit(uint64_t *m, size_t i, bool v)
{
	if (v)
		m[i / 64] |= 1ULL << (i % 64);
	else
		m[i / 64] &= ~(1ULL << (i % 64));
}

/* First fit, from the hint, a used word of 64 units skipped at once (a
 * scan from the start made 10,000 allocations quadratic). */
static long carve(struct chunk *c, size_t units)
{
	size_t total = c->size / UNIT, run = 0;

	for (size_t i = c->hint; i < total; i++) {
		if (i % 64 == 0 && c->used[i / 64] == ~0ULL) {
			run = 0;
			i += 63;
			continue;
		}
		run = bit(c->used, i) ? 0 : run + 1;
		if (run == units) {
			size_t first = i + 1 - units;

			for (size_t j = first; j <= i; j++)
				set_bit(c->used, j, true);
			set_bit(c->start, first, true);
			if (first == c->hint)
				for (c->hint = i + 1; c->hint < total && bit(c->used, c->hint); c->hint++)
					;
			return (long)first;
		}
	}
	return -1;
}

struct gap {
	uintptr_t lo, hi;
};

/* The unmapped holes of the address space, from /proc/self/maps. */
static int read_gaps(struct gap **out)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uintptr_t prev_end = PAGE * 16, s, e;
	struct gap *g = NULL;
	int n = 0, cap = 0;
	char line[512];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (s > prev_end) {
			if (n == cap) {
				struct gap *ng = realloc(g, sizeof(*g) * (cap = cap ? cap * 2 : 64));

				if (!ng) {
					free(g);
					fclose(f);
					return -ENOMEM;
				}
				g = ng;
			}
			g[n].lo = prev_end;
			g[n].hi = s;
			n++;
		}
		if (e > prev_end)
			prev_end = e;
	}
	fclose(f);
	*out = g;
	return n;
}

static int map_chunk(uintptr_t lo, uintptr_t hi, size_t size, struct chunk **out)
{
	struct gap *g = NULL;
	uintptr_t mid = lo / 2 + hi / 2;
	int n = read_gaps(&g);

	if (n < 0)
		return n;
	/* Try the gaps nearest the middle of the allowed window first. */
	for (int tries = 0; tries < n; tries++) {
		int best = -1;
		uintptr_t best_at = 0, best_d = UINTPTR_MAX;

		for (int i = 0; i < n; i++) {
			uintptr_t a = g[i].lo > lo ? g[i].lo : lo;
			uintptr_t b = g[i].hi < hi ? g[i].hi : hi, at, d;

			a = (a + PAGE - 1) & ~(PAGE - 1);
			if (b <= a || b - a < size)
				continue;
			/* Inside the gap, as close to mid as possible. */
			at = mid < a ? a : (mid + size > b ? b - size : mid);
			at &= ~(PAGE - 1);
			if (at < a)
				at = a;
			d = at > mid ? at - mid : mid - at;
			if (d < best_d) {
				best = i, best_at = at, best_d = d;
			}
		}
		if (best < 0)
			break;
		/* populated: the int3 fill touches every page anyway, and one
		 * call faults them in for far less than a fault each */
		void *p = mmap((void *)best_at, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED || (uintptr_t)p != best_at) {
			if (p != MAP_FAILED)
				munmap(p, size);
			g[best].hi = g[best].lo; /* taken meanwhile: drop that gap */
			continue;
		}
		memset(p, INSN_INT3, size);
		mprotect(p, size, PROT_READ | PROT_EXEC);
		free(g);
		struct chunk *c = calloc(1, sizeof(*c));
		size_t words = (size / UNIT + 63) / 64;

		if (!c || !(c->used = calloc(words, 8)) || !(c->start = calloc(words, 8))) {
			if (c) {
				free(c->used);
				free(c);
			}
			munmap(p, size);
			return -ENOMEM;
		}
		c->base = (uintptr_t)p;
		c->size = size;
		*out = c;
		return 0;
	}
	free(g);
	return -ENOSPC;
}

int execmem_alloc(uintptr_t lo, uintptr_t hi, size_t size, void **out)
{
	size_t units = (size + UNIT - 1) / UNIT, want, grow = CHUNK;
	struct chunk *c;
	long at;
	int r;

	if (!out || size == 0)
		return pt_error(EINVAL, "execmem: size must be > 0 and out non-NULL");
	poke_lock();
	for (c = chunks; c; c = c->next) {
		if (c->base < lo || c->base + c->size > hi)
			continue;
		if ((at = carve(c, units)) >= 0)
			goto done;
		if (grow < MAX_CHUNK)
			grow *= 2;
	}
	/* Twice as large for each full chunk of this window, up to MAX_CHUNK:
	 * a batch of 10,000 images fills megabytes, and each mapping reads
	 * /proc/self/maps. */
	want = ((units * UNIT + CHUNK - 1) / CHUNK) * CHUNK;
	r = map_chunk(lo, hi, want > grow ? want : grow, &c);
	if (r == -ENOSPC && want < grow) /* a tight window: what is needed */
		r = map_chunk(lo, hi, want, &c);
	if (r < 0) {
		poke_unlock();
		return pt_error(-r, "no free address space for %zu bytes of code within "
				"[%#lx, %#lx) (rel32 reach of the module)", size, lo, hi);
	}
	c->next = chunks;
	chunks = c;
	at = carve(c, units);
done:
	*out = (void *)(c->base + (uintptr_t)at * UNIT);
	poke_unlock();
	return 0;
}

static struct chunk *find(uintptr_t p)
{
	for (struct chunk *c = chunks; c; c = c->next)
		if (p >= c->base && p < c->base + c->size)
			return c;
	return NULL;
}

/* The chunk and first unit of allocation p; NULL if p is none (poke_lock held). */
static struct chunk *allocation(void *p, size_t *unit)
{
	struct chunk *c = find((uintptr_t)p);

	if (!c || ((uintptr_t)p - c->base) % UNIT || !bit(c->start, ((uintptr_t)p - c->base) / UNIT))
		return NULL;
	*unit = ((uintptr_t)p - c->base) / UNIT;
	return c;
}

/* Frees the units of the allocation at `first` from first+keep on (its
 * used units end where the next allocation starts). */
static void free_units(struct chunk *c, size_t first, size_t keep)
{
	size_t total = c->size / UNIT;

	for (size_t i = first + 1; i < first + keep; i++)
		if (i >= total || !bit(c->used, i) || bit(c->start, i))
			return; /* keeps all it has (and not the next one's) */
	if (first + keep < c->hint)
		c->hint = first + keep;
	if (!keep)
		set_bit(c->start, first, false);
	for (size_t i = first + keep; i < total && bit(c->used, i) && (i == first || !bit(c->start, i)); i++)
		set_bit(c->used, i, false);
}

int execmem_free(void *p)
{
	struct chunk *c;
	size_t first;

	poke_lock();
	if (!(c = allocation(p, &first))) {
		poke_unlock();
		return pt_error(EINVAL, "execmem_free: %p was not returned by poketrace_execmem_alloc "
				"(or was freed already)", p);
	}
	free_units(c, first, 0);
	poke_unlock();
	return 0;
}

int execmem_shrink(void *p, size_t size)
{
	struct chunk *c;
	size_t first;

	poke_lock();
	if (!(c = allocation(p, &first)) || !size) {
		poke_unlock();
		return pt_error(EINVAL, "execmem_shrink: %p is no allocation (or the size is 0)", p);
	}
	free_units(c, first, (size + UNIT - 1) / UNIT);
	poke_unlock();
	return 0;
}

/* One write, through the chunk's held session when it has one (opened at
 * its first write of a hold: one mprotect pair per chunk and batch instead
 * of one per image, each a TLB shootdown of every core running us). */
static int write_in(struct chunk *c, uintptr_t d, const void *src, size_t len)
{
	struct text_session s;
	int r, rc;

	/* (not through /proc/self/mem: a descriptor kept open for a whole
	 * change is one a program closing descriptors it does not know could
	 * close and reuse for a file of its own; those writes cost no
	 * shootdown anyway) */
	if (holding && !c->held && text_mode() == TEXT_MPROTECT &&
	    text_open_known(&c->session, c->base, c->size, PROT_READ | PROT_EXEC) == 0) {
		if (c->session.mode == TEXT_PROCMEM) /* W+X refused just now */
			text_close(&c->session);
		else
			c->held = true;
	}
	if (c->held)
		return text_write(&c->session, d, src, len);
	if ((r = text_open_known(&s, d, len, PROT_READ | PROT_EXEC)) < 0) /* every chunk is R-X */
		return r;
	r = text_write(&s, d, src, len);
	rc = text_close(&s);
	return r ? r : rc;
}

int execmem_write(void *dst, const void *src, size_t len)
{
	uintptr_t d = (uintptr_t)dst;
	struct chunk *c;
	int r;

	poke_lock();
	c = find(d);
	if (!c || d + len > c->base + c->size || !bit(c->used, (d - c->base) / UNIT) ||
	    !bit(c->used, (d + len - 1 - c->base) / UNIT)) {
		poke_unlock();
		return pt_error(EINVAL, "execmem_write: [%p, +%zu) is not allocated executable memory",
				dst, len);
	}
	r = write_in(c, d, src, len);
	poke_unlock();
	return r;
}

void execmem_hold(void)
{
	poke_lock();
	holding = true;
	poke_unlock();
}

int execmem_release(void)
{
	int r = 0;

	poke_lock();
	holding = false;
	for (struct chunk *c = chunks; c; c = c->next) {
		int rc;

		if (!c->held)
			continue;
		c->held = false;
		if ((rc = text_close(&c->session)) < 0 && r == 0)
			r = rc;
	}
	poke_unlock();
	return r;
}

bool execmem_holding(void)
{
	return holding;
}

void execmem_orphan_restore(void)
{
	holding = false;
	for (struct chunk *c = chunks; c; c = c->next) {
		/* (a procmem session's descriptor is the parent's memory: never
		 * written here; its spans stay allocated) */
		if (c->held && c->session.memfd >= 0)
			close(c->session.memfd);
		c->held = false;
		mprotect((void *)c->base, c->size, PROT_READ | PROT_EXEC);
	}
}
