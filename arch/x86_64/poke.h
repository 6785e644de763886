/* The breakpoint batch protocol (the kernel's text_poke_bp_batch) and the
 * engine lock that makes batches one at a time. */
#ifndef PT_ARCH_POKE_H
#define PT_ARCH_POKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/insn.h"

struct reloc_plan;

/* A relocated entry (a function without a compiler site): one side of the
 * change is the function's own first bytes, which are no instruction the
 * emulation knows; a thread trapping on that side runs their copy. */
enum poke_orig {
	POKE_ORIG_NONE = 0,
	POKE_ORIG_OLD,       /* installing: old is the original code, new `jmp image` */
	POKE_ORIG_NEW,       /* removing: new is the original code */
};

struct poke_entry {
	uintptr_t addr;
	uint8_t old[INSN_SITE_LEN]; /* expected now */
	uint8_t new[INSN_SITE_LEN]; /* to write */
	uint8_t orig;               /* enum poke_orig */
	uintptr_t copy;             /* orig: the relocated copy of the original instructions */
	const struct reloc_plan *plan; /* orig: where each instruction of the region went */
	/* filled by poke_commit: what a trapping thread executes, the new
	 * instruction (writing) or the old one (rolling back) */
	uint8_t kind, old_kind;     /* enum insn_kind */
	uintptr_t target, old_target; /* where each continues: call/jmp target or addr+5 */
	void *cookie;               /* the caller's, carried along */
};

struct poke_result {
	size_t sites;
	unsigned syncs, ranges, mprotects;
	uint64_t traps, ns;
	uint64_t moved;  /* threads moved out of a relocated region before its tail was written */
	/* An int3 was written: threads may have executed the new instructions
	 * (emulated), even if the commit then rolled back.  Whatever they
	 * lead to must not be freed before no thread can be in it. */
	bool began;
};

struct poke_counters {
	uint64_t batches, sites, syncs, emulated, restarted, chained;
};

/* The engine lock (recursive): held around every batch and every use of the
 * site table; fork() waits for it, so a child never inherits a half-done
 * batch.  A child made by _Fork() or a raw fork while another thread held
 * it finishes that thread's batch at its first poke_lock (see poke.c). */
void poke_lock(void);
void poke_unlock(void);
/* This process was forked in the middle of a parent thread's batch (which it
 * has finished): the loader's lock may be held by a thread that does not
 * exist here, so poketrace must not use dl_iterate_phdr in it any more. */
bool poke_orphaned(void);
void poke_atfork_install(void);

/* Commits a batch with the caller holding poke_lock.  Sorts v by address,
 * validates every new instruction, verifies every old one; an error before
 * writing writes nothing.  Either every site ends with its new bytes (0) or
 * every site ends with its old bytes (< 0): a failure once writing began
 * (a write, a sync) rolls the batch back.  -EDEADLK when called while this
 * thread is committing already (from a signal handler).  v must stay valid
 * until it returns. */
int poke_commit(struct poke_entry *v, size_t n, struct poke_result *res);

/* For the SIGTRAP handler: if site is in the batch in flight, the kind and
 * target of the instruction being written there.  Lock-free. */
bool poke_trap_lookup(uintptr_t site, uint8_t *kind, uintptr_t *target);
/* Threads moved out of relocated regions so far (poke_region.c). */
uint64_t poke_moved(void);
/* A region about to be installed is recorded (false: no room); the engine's
 * signal moves a thread stopped inside one (sync_ip_fixup). */
bool poke_region_note(const struct poke_entry *e);
void poke_region_move_out(void *rip);
/* Whether poketrace ever wrote an int3 at a (lock-free, for the handler). */
bool poke_ever_written(uintptr_t a);
/* Changes whenever a batch is published or withdrawn: a handler that found
 * no batch and then sees an int3 tells a new batch's from the program's. */
unsigned long poke_generation(void);
void poke_count_trap(int what); /* 0 emulated, 1 restarted, 2 chained */
void poke_get_counters(struct poke_counters *c);

/* Called (engine lock held) once a child has finished an orphaned batch
 * (see poke_lock): the caller's records of the sites can follow. */
extern void (*poke_orphan_done)(struct poke_entry *v, size_t n, bool undone);

/* Test hook, called after each of the three protocol steps (1: int3 written
 * and synced, the batch flipped, 2: tails written and synced, 3: first bytes
 * written and synced), and in step 1 after the first site's int3 only. */
#define POKE_STEP_FIRST_INT3 10
extern void (*poke_test_hook)(int step);

#endif
