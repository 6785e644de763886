/* Encoding and recognizing the 5-byte instructions written at sites. */
#include "arch/x86_64/insn.h"

#include <errno.h>
#include <string.h>

const uint8_t insn_nop5[INSN_SITE_LEN] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
const uint8_t insn_nop5_clang[INSN_SITE_LEN] = { 0x0f, 0x1f, 0x44, 0x00, 0x08 };
const uint8_t insn_nop1x5[INSN_SITE_LEN] = { 0x90, 0x90, 0x90, 0x90, 0x90 };

enum { OP_CALL_REL32 = 0xe8, OP_JMP_REL32 = 0xe9 };

bool insn_rel32_reach(uintptr_t from, uintptr_t target)
{
	int64_t d = (int64_t)(target - from);

	return d >= INT32_MIN && d <= INT32_MAX;
}

int insn_encode(enum insn_kind kind, uintptr_t site, uintptr_t target, uint8_t out[INSN_SITE_LEN])
{
	int32_t rel;

	switch (kind) {
	case INSN_NOP5:
		memcpy(out, insn_nop5, INSN_SITE_LEN);
		return 0;
	case INSN_CALL:
	case INSN_JMP:
		if (!insn_rel32_reach(site + INSN_SITE_LEN, target))
			return -ERANGE;
		rel = (int32_t)(target - (site + INSN_SITE_LEN));
		out[0] = kind == INSN_CALL ? OP_CALL_REL32 : OP_JMP_REL32;
		memcpy(out + 1, &rel, sizeof(rel));
		return 0;
	default:
		return -EINVAL;
	}
}

bool insn_is_nop5(const uint8_t b[INSN_SITE_LEN])
{
	/* nopl 0x0(%rax,%rax,1) with any disp8: clang uses 0x08, the kernel 0x00. */
	return b[0] == 0x0f && b[1] == 0x1f && b[2] == 0x44 && b[3] == 0x00;
}

enum insn_kind insn_decode(const uint8_t b[INSN_SITE_LEN], uintptr_t site, uintptr_t *target)
{
	int32_t rel;

	if (insn_is_nop5(b)) {
		*target = site + INSN_SITE_LEN;
		return INSN_NOP5;
	}
	if (b[0] != OP_CALL_REL32 && b[0] != OP_JMP_REL32)
		return INSN_INVALID;
	memcpy(&rel, b + 1, sizeof(rel));
	*target = site + INSN_SITE_LEN + (intptr_t)rel;
	return b[0] == OP_CALL_REL32 ? INSN_CALL : INSN_JMP;
}

bool insn_is_endbr64(const uint8_t *b)
{
	return b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa;
}
