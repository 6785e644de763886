/* Relocated regions (issue 16), for the batch protocol (poke.c): a thread
 * stopped inside the bytes a relocated entry's jump overwrites is moved to
 * the same instruction of the copy.
 *
 * Every region ever relocated, with where its instructions went in its
 * current copy.  The engine's signal may reach a thread long after the
 * batch that sent it (a thread stopped by a debugger takes it when it
 * resumes), so the move does not use the batch: a thread at an instruction
 * boundary past a region's first byte and before the jump's end is moved
 * to the copy whenever the region's first byte is an int3 (a batch on it)
 * or the jump to that copy; with the original byte back, the original
 * instructions are whole again and it stays.  Blocks of entries are only
 * ever added (read without locks by the handler); one writer.  Entries are
 * found through hash chains on the region's start (a batch notes thousands
 * and every interrupted thread looks one up). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "arch/x86_64/poke.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/reloc.h"

#define REGION_BLOCK 256
#define REGION_BLOCKS 1024
#define REGION_HASH_BITS 14

struct region {
	_Atomic uintptr_t start;
	_Atomic uintptr_t copy;
	uint32_t next; /* the chain's next entry, index + 1; 0 ends it */
	uint8_t ninsn;
	uint8_t old_off[RELOC_MAX_INSN], new_off[RELOC_MAX_INSN];
};

static struct region *_Atomic region_block[REGION_BLOCKS];
static _Atomic size_t nregions;
static _Atomic uint32_t chain[1u << REGION_HASH_BITS]; /* first entry, index + 1 */
static _Atomic uint64_t moved;

static struct region *region_at(size_t i)
{
	struct region *b = atomic_load(&region_block[i / REGION_BLOCK]);

	return b ? &b[i % REGION_BLOCK] : NULL;
}

static unsigned hash(uintptr_t start)
{
	return (unsigned)((start * 0x9e3779b97f4a7c15ull) >> (64 - REGION_HASH_BITS));
}

/* The entry of the region starting at start, or NULL. */
static struct region *find(uintptr_t start)
{
	for (uint32_t i = atomic_load(&chain[hash(start)]); i; i = region_at(i - 1)->next)
		if (atomic_load(&region_at(i - 1)->start) == start)
			return region_at(i - 1);
	return NULL;
}

/* Records (or updates) a region about to be installed; false if full. */
bool poke_region_note(const struct poke_entry *e)
{
	size_t n = atomic_load(&nregions);
	struct region *r = find(e->addr);
	bool fresh = !r;

	if (fresh) {
		struct region *b;

		if (n == REGION_BLOCK * REGION_BLOCKS)
			return false;
		if (!(b = atomic_load(&region_block[n / REGION_BLOCK]))) {
			if (!(b = calloc(REGION_BLOCK, sizeof(*b))))
				return false;
			atomic_store(&region_block[n / REGION_BLOCK], b);
		}
		r = &b[n % REGION_BLOCK];
	}
	/* the offsets first, the copy's address last: a reader that sees the
	 * new copy sees its offsets (the old copy stays valid meanwhile) */
	atomic_store(&r->copy, 0);
	r->ninsn = e->plan->ninsn;
	memcpy(r->old_off, e->plan->old_off, sizeof(r->old_off));
	memcpy(r->new_off, e->plan->new_off, sizeof(r->new_off));
	atomic_store(&r->copy, e->copy);
	if (fresh) { /* complete before its chain shows it */
		unsigned h = hash(e->addr);

		r->next = atomic_load(&chain[h]);
		atomic_store(&r->start, e->addr);
		atomic_store(&chain[h], (uint32_t)n + 1);
		atomic_store(&nregions, n + 1);
	}
	return true;
}

/* In every other thread, from the engine's signal (sync_interrupt_all). */
PT_NOSANITIZE void poke_region_move_out(void *ripv)
{
	greg_t *rip = ripv;
	uintptr_t a = (uintptr_t)*rip;

	/* inside a region: past its first byte, before the jump's end */
	for (uintptr_t start = a - 1; start > a - INSN_SITE_LEN && start < a; start--) {
		struct region *r = find(start);
		uintptr_t copy = r ? atomic_load(&r->copy) : 0;
		const uint8_t *b = (const uint8_t *)start;
		int32_t rel;

		if (!copy)
			continue;
		memcpy(&rel, b + 1, 4);
		if (b[0] != INSN_INT3 && !(b[0] == 0xe9 && start + INSN_SITE_LEN + (uintptr_t)(intptr_t)rel == copy))
			return; /* the original code is back, whole */
		for (unsigned k = 0; k < r->ninsn; k++) {
			if (start + r->old_off[k] == a) {
				*rip = (greg_t)(copy + r->new_off[k]);
				atomic_fetch_add(&moved, 1);
			}
		}
		return;
	}
}

uint64_t poke_moved(void)
{
	return atomic_load(&moved);
}

