/* The few x86-64 instructions poketrace writes or recognizes at a site. */
#ifndef PT_ARCH_INSN_H
#define PT_ARCH_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSN_SITE_LEN 5
#define INSN_INT3 0xcc

enum insn_kind {
	INSN_NOP5 = 0,
	INSN_CALL,
	INSN_JMP,
	INSN_INVALID,
};

/* The 5-byte nops a site can hold (the forms the kernel and compilers use). */
extern const uint8_t insn_nop5[INSN_SITE_LEN];       /* 0f 1f 44 00 00 */
extern const uint8_t insn_nop5_clang[INSN_SITE_LEN]; /* 0f 1f 44 00 08 */
extern const uint8_t insn_nop1x5[INSN_SITE_LEN];     /* 90 90 90 90 90: five instructions */

/* `call|jmp target` at site, or the nop; -ERANGE beyond rel32 reach. */
int insn_encode(enum insn_kind kind, uintptr_t site, uintptr_t target,
		uint8_t out[INSN_SITE_LEN]);

/* What a 5-byte site holds: one 5-byte nop, call rel32 or jmp rel32 (with its
 * target); anything else, gcc's five 1-byte nops included, is INSN_INVALID. */
enum insn_kind insn_decode(const uint8_t b[INSN_SITE_LEN], uintptr_t site, uintptr_t *target);

bool insn_is_nop5(const uint8_t b[INSN_SITE_LEN]);
bool insn_is_endbr64(const uint8_t *b);

/* True if target is reachable by a rel32 from an instruction ending at from. */
bool insn_rel32_reach(uintptr_t from, uintptr_t target);

#endif
