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
 * ever added (read without locks by the handler); one writer. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "arch/x86_64/poke.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/reloc.h"

#define REGION_BLOCK 256
#define REGION_BLOCKS 1024

struct region {
	_Atomic uintptr_t start;
	_Atomic uintptr_t copy;
	uint8_t ninsn;
	uint8_t old_off[RELOC_MAX_INSN], new_off[RELOC_MAX_INSN];
};

static struct region *_Atomic region_block[REGION_BLOCKS];
static _Atomic size_t nregions;
static _Atomic uint64_t moved;

static struct region *region_at(size_t i)
{
	struct region *b = atomic_load(&region_block[i / REGION_BLOCK]);

	return b ? &b[i % REGION_BLOCK] : NULL;
}

/* Records (or updates) a region about to be installed; false if full. */
bool poke_region_note(const struct poke_entry *e)
{
	size_t n = atomic_load(&nregions), i;
	struct region *r = NULL;

	for (i = 0; i < n && !r; i++)
		if (atomic_load(&region_at(i)->start) == e->addr)
			r = region_at(i);
	if (!r) {
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
	if (!atomic_load(&r->start)) {
		atomic_store(&r->start, e->addr);
		atomic_store(&nregions, n + 1);
	}
	return true;
}

/* In every other thread, from the engine's signal (sync_interrupt_all). */
PT_NOSANITIZE void poke_region_move_out(void *ripv)
{
	greg_t *rip = ripv;
	uintptr_t a = (uintptr_t)*rip;
	size_t n = atomic_load(&nregions);

	for (size_t i = 0; i < n; i++) {
		struct region *r = region_at(i);
		uintptr_t start = atomic_load(&r->start), copy = atomic_load(&r->copy);
		const uint8_t *b = (const uint8_t *)start;
		int32_t rel;

		if (a <= start || a >= start + INSN_SITE_LEN || !copy)
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

