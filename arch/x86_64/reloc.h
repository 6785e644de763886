/* Relocating a function's first instructions (Zydis), for functions that have
 * no compiler patch site: the whole instructions covering the first N >= 5
 * bytes of the entry (after an endbr64, which stays) are copied, re-encoded
 * for another address, into a trampoline image; the entry then becomes a
 * `jmp image`, and "the original" is the copy followed by a jump back to
 * entry+N.  The rules are the kernel's optprobes' (can_optimize): the whole
 * function is decoded, and it is refused, with the reason, if anything could
 * reach the bytes the jump overwrites other than through the entry. */
#ifndef PT_ARCH_RELOC_H
#define PT_ARCH_RELOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELOC_MAX_INSN 16   /* instructions in a region */
#define RELOC_MAX_COPY 256  /* bytes of a relocated region (with its way back) */

enum reloc_refusal {
	RELOC_OK = 0,
	RELOC_NO_SIZE,           /* the symbol gives no size */
	RELOC_TOO_SHORT,         /* fewer than 5 bytes (after an endbr64) */
	RELOC_UNDECODABLE,       /* Zydis cannot decode an instruction of it */
	RELOC_BRANCH_INTO,       /* a branch of the function targets the region */
	RELOC_INDIRECT_JUMP,     /* a jump through a register or a table could */
	RELOC_CALL_NOT_LAST,     /* a call in the region is not its last instruction */
	RELOC_SYSTEM,            /* syscall, int, ud2, hlt, xbegin ... in the region */
	RELOC_UNREACHABLE_OPERAND, /* a RIP-relative operand or branch cannot be re-encoded there */
	RELOC_STACK,             /* the region changes the stack in a way the copy's CFI cannot say */
	RELOC_NOT_CALLED,        /* entered by a jump, not a call (the entry point, a .cold part) */
	RELOC_RETURNS_TWICE,     /* setjmp, vfork, getcontext: returns again after its frame is gone */
	RELOC_NREASONS
};

/* What unwinding needs at an instruction boundary of the copy: the CFA is
 * rsp + cfa_off, or rbp + 16 once the frame pointer is set up; and where
 * the callee-saved registers pushed so far are. */
#define RELOC_DWREG_RBX 3
#define RELOC_DWREG_RBP 6
struct reloc_cfa {
	uint16_t cfa_off;
	bool rbp_based;
	uint8_t saved[16];       /* by DWARF number: pushed at CFA - 8 * saved[r] (0: not) */
};

struct reloc_plan {
	uintptr_t start;         /* where the jump goes: the entry, or after its endbr64 */
	uint8_t len;             /* N: bytes of whole instructions replaced (>= 5) */
	uint8_t ninsn;
	bool last_is_call;       /* the copy's call returns to start+len, in the original */
	uint8_t old_off[RELOC_MAX_INSN + 1];  /* instruction boundaries in the region (old_off[ninsn] = len) */
	uint8_t new_off[RELOC_MAX_INSN + 1];  /* the same in the copy (filled by reloc_emit) */
	uint8_t call_jmp;        /* last_is_call: the copy's jump to the callee, after its push */
	/* RELOC_PLAN_KEPT: what is read once the copy is made (where a thread
	 * in the region continues); what follows makes the copy */
	struct reloc_cfa cfa[RELOC_MAX_INSN + 1]; /* before each instruction, and after the last */
	uint8_t insn[RELOC_MAX_INSN][15];     /* the instructions' bytes */
};

#define RELOC_PLAN_KEPT offsetof(struct reloc_plan, cfa)

/* Decides whether the function at entry, size bytes whose contents are
 * code[0..size), can have its entry relocated, and plans it.  RELOC_OK, or
 * the refusal (with *why: a sentence naming the instruction and offset). */
enum reloc_refusal reloc_analyse(const uint8_t *code, uintptr_t entry, size_t size, struct reloc_plan *p,
				 char *why, size_t whycap);
/* The region's copy for running at `at`, then a jump back to start+len:
 * bytes written to out (cap >= RELOC_MAX_COPY), or -ERANGE when an operand
 * cannot reach from there.  Fills p->new_off. */
int reloc_emit(struct reloc_plan *p, uintptr_t at, uint8_t *out, size_t cap);
/* The bytes the copy takes (n from reloc_emit): its code, and after it the
 * return address its call pushes (8-aligned), if it has one. */
size_t reloc_copy_size(const struct reloc_plan *p, int n);
/* Where a thread at old address a (start <= a < start+len, an instruction
 * boundary) continues in the copy placed at `at`; 0 if a is no boundary. */
uintptr_t reloc_map_ip(const struct reloc_plan *p, uintptr_t at, uintptr_t a);
const char *reloc_refusal_text(enum reloc_refusal r);
/* .eh_frame (CIE, FDE, terminator) for a copy of code_len bytes at `at`
 * made by reloc_emit: its CFA at every instruction as p->cfa says (in
 * tramp_cfi.c), written to out: the length, or 0 if cap (TRAMP_EH_MAX will
 * do) is too small. */
size_t reloc_eh_frame(uintptr_t at, size_t code_len, const struct reloc_plan *p, uint8_t *out, size_t cap);

#endif
