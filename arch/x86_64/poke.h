/* The breakpoint batch protocol (the kernel's text_poke_bp_batch) and the
 * engine lock that makes batches one at a time. */
#ifndef PT_ARCH_POKE_H
#define PT_ARCH_POKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/insn.h"

struct poke_entry {
	uintptr_t addr;
	uint8_t old[INSN_SITE_LEN]; /* expected now */
	uint8_t new[INSN_SITE_LEN]; /* to write */
	uint8_t kind;               /* enum insn_kind of new, filled by poke_commit */
	uintptr_t target;           /* where new continues: call/jmp target or addr+5 */
	void *cookie;               /* the caller's, carried along */
};

struct poke_result {
	size_t sites;
	unsigned syncs, ranges, mprotects;
	uint64_t traps, ns;
};

struct poke_counters {
	uint64_t batches, sites, syncs, emulated, restarted, chained;
};

/* The engine lock (recursive): held around every batch and every use of the
 * site table; fork() waits for it, so a child never inherits a half-done batch. */
void poke_lock(void);
void poke_unlock(void);
void poke_atfork_install(void);

/* Commits a batch with the caller holding poke_lock.  Sorts v by address,
 * validates every new instruction, verifies every old one; any error writes
 * nothing.  v must stay valid until it returns. */
int poke_commit(struct poke_entry *v, size_t n, struct poke_result *res);

/* For the SIGTRAP handler: if site is in the batch in flight, the kind and
 * target of the instruction being written there.  Lock-free. */
bool poke_trap_lookup(uintptr_t site, uint8_t *kind, uintptr_t *target);
void poke_count_trap(int what); /* 0 emulated, 1 restarted, 2 chained */
void poke_get_counters(struct poke_counters *c);

/* Test hook, called after each of the three protocol steps (1: int3 written
 * and synced, 2: tails written and synced, 3: first bytes written and synced). */
extern void (*poke_test_hook)(int step);

#endif
