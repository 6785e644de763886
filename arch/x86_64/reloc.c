/* Relocating a function's entry (see reloc.h).  Zydis decodes; its encoder
 * re-encodes each instruction for its new address from an absolute view of
 * its relative operands (RIP-relative memory, branch targets), choosing the
 * branch width anew (a jcc rel8 that no longer reaches becomes rel32). */
#include "arch/x86_64/reloc.h"

#include <Zydis/Zydis.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define JMP_LEN 5

struct insn {
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

static const ZydisDecoder *decoder(void)
{
	static ZydisDecoder dec;
	static bool ready;

	if (!ready) {
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
		ready = true;
	}
	return &dec;
}

static bool decode(const uint8_t *b, size_t len, struct insn *x)
{
	return ZYAN_SUCCESS(ZydisDecoderDecodeFull(decoder(), b, len, &x->in, x->ops));
}

/* Without operands (most of a decode's work): enough to walk a function
 * and see its branches. */
static bool decode_lite(const uint8_t *b, size_t len, ZydisDecodedInstruction *in)
{
	return ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(decoder(), NULL, b, len, in));
}

/* The target of a relative branch (or of a RIP-relative operand): true if
 * it has one. */
static bool relative_target(const struct insn *x, uintptr_t at, uintptr_t *target)
{
	if (!(x->in.attributes & ZYDIS_ATTRIB_IS_RELATIVE))
		return false;
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		const ZydisDecodedOperand *o = &x->ops[i];
		ZyanU64 a;

		if ((o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && o->imm.is_relative) ||
		    (o->type == ZYDIS_OPERAND_TYPE_MEMORY && o->mem.base == ZYDIS_REGISTER_RIP)) {
			if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&x->in, o, at, &a)))
				return false;
			*target = (uintptr_t)a;
			return true;
		}
	}
	return false;
}

static bool is_branch(const ZydisDecodedInstruction *in)
{
	ZydisInstructionCategory c = in->meta.category;

	return c == ZYDIS_CATEGORY_COND_BR || c == ZYDIS_CATEGORY_UNCOND_BR || c == ZYDIS_CATEGORY_CALL;
}

/* Instructions that must not be moved: they enter the kernel, trap, stop, or
 * begin a transaction whose abort address is relative. */
static bool is_system(const struct insn *x)
{
	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_SYSCALL:
	case ZYDIS_MNEMONIC_SYSENTER:
	case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT1:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_INTO:
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_XBEGIN:
	case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_IRETD:
		return true;
	default:
		return false;
	}
}

/* The DWARF number of a callee-saved register (rbx rbp r12-r15), or -1. */
static int callee_saved(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_RBX: return RELOC_DWREG_RBX;
	case ZYDIS_REGISTER_RBP: return RELOC_DWREG_RBP;
	case ZYDIS_REGISTER_R12: return 12;
	case ZYDIS_REGISTER_R13: return 13;
	case ZYDIS_REGISTER_R14: return 14;
	case ZYDIS_REGISTER_R15: return 15;
	default: return -1;
	}
}

/* The stack as unwinding sees it after x, from what it was before: push
 * (a callee-saved register's first push is where unwinding finds the
 * caller's value), pop, sub/add rsp,imm, lea rsp,[rsp+d], mov rbp,rsp.
 * False for any other write of rsp (or of rbp once it is the frame base),
 * and for a pop of a pushed callee-saved register: the copy's CFI could
 * not describe it.  rbp pushed and then written is an ordinary register
 * (gcc at -O2): its caller's value is where the push put it. */
static bool stack_effect(const struct insn *x, struct reloc_cfa *c)
{
	const ZydisDecodedOperand *o = x->ops;
	int r;

	switch (x->in.mnemonic) {
	case ZYDIS_MNEMONIC_PUSH:
		c->cfa_off += x->in.operand_width / 8;
		if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && x->in.operand_width == 64 &&
		    (r = callee_saved(o[0].reg.value)) >= 0 && !c->saved[r] && c->cfa_off / 8 < 128 && !(c->cfa_off % 8))
			c->saved[r] = (uint8_t)(c->cfa_off / 8);
		return true;
	case ZYDIS_MNEMONIC_POP:
		if (c->rbp_based || c->cfa_off < 16)
			return false;
		for (int i = 0; i < 16; i++)
			if (c->saved[i] && c->saved[i] * 8 >= c->cfa_off)
				return false; /* its save goes back into the register */
		c->cfa_off -= x->in.operand_width / 8;
		return true;
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_ADD:
		if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[0].reg.value == ZYDIS_REGISTER_RSP) {
			if (o[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || o[1].imm.value.s < 0 || o[1].imm.value.s > 65536)
				return false;
			if (!c->rbp_based)
				c->cfa_off = (uint16_t)(c->cfa_off + (x->in.mnemonic == ZYDIS_MNEMONIC_SUB ? 1 : -1) *
								  (int)o[1].imm.value.s);
			for (int i = 0; i < 16; i++)
				if (c->saved[i] * 8 > c->cfa_off)
					return false; /* a save given up */
			return true;
		}
		break;
	case ZYDIS_MNEMONIC_LEA:
		if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[0].reg.value == ZYDIS_REGISTER_RSP) {
			if (o[1].mem.base != ZYDIS_REGISTER_RSP || o[1].mem.index != ZYDIS_REGISTER_NONE ||
			    o[1].mem.disp.value > 0 || o[1].mem.disp.value < -65536)
				return false;
			if (!c->rbp_based)
				c->cfa_off = (uint16_t)(c->cfa_off - o[1].mem.disp.value);
			return true;
		}
		break;
	case ZYDIS_MNEMONIC_MOV:
		if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[0].reg.value == ZYDIS_REGISTER_RBP &&
		    o[1].type == ZYDIS_OPERAND_TYPE_REGISTER && o[1].reg.value == ZYDIS_REGISTER_RSP) {
			if (c->saved[RELOC_DWREG_RBP] != 2 || c->cfa_off != 16)
				return false;
			c->rbp_based = true;
			return true;
		}
		break;
	default:
		break;
	}
	/* anything else must leave rsp alone (and rbp, once it is the base) */
	for (unsigned i = 0; i < x->in.operand_count; i++) {
		if (x->ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER || !(x->ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			continue;
		if (x->ops[i].reg.value == ZYDIS_REGISTER_RSP ||
		    (c->rbp_based && x->ops[i].reg.value == ZYDIS_REGISTER_RBP))
			return false;
	}
	return true;
}

static enum reloc_refusal refuse(enum reloc_refusal r, char *why, size_t cap, const char *fmt, uintptr_t off)
{
	snprintf(why, cap, fmt, (unsigned long)off);
	return r;
}

enum reloc_refusal reloc_analyse(const uint8_t *code, uintptr_t entry, size_t size, struct reloc_plan *p,
				 char *why, size_t cap)
{
	size_t skip = 0, off, limit;
	ZydisDecodedInstruction in;
	struct insn x;

	memset(p, 0, sizeof(*p));
	why[0] = '\0';
	if (!size)
		return refuse(RELOC_NO_SIZE, why, cap, "the symbol has no size%.0lu", 0);
	/* An endbr64 stays where it is: indirect calls must land on it. */
	if (size >= 4 && code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa)
		skip = 4;
	if (size < skip + JMP_LEN)
		return refuse(RELOC_TOO_SHORT, why, cap, "it is %lu bytes long: a 5-byte jump does not fit", size);
	p->start = entry + skip;
	p->cfa[0].cfa_off = 8; /* the return address */
	for (off = skip; off - skip < JMP_LEN; off += x.in.length) {
		unsigned i = p->ninsn;

		if (i == RELOC_MAX_INSN || !decode(code + off, size - off, &x))
			return refuse(RELOC_UNDECODABLE, why, cap, "the instruction at +%lu cannot be decoded", off);
		if (is_system(&x))
			return refuse(RELOC_SYSTEM, why, cap, "the instruction at +%lu must run where it is (a system "
				      "call, a trap, or a transaction)", off);
		if (p->last_is_call)
			return refuse(RELOC_CALL_NOT_LAST, why, cap, "the call before +%lu would return into the "
				      "overwritten bytes", off);
		p->last_is_call = x.in.meta.category == ZYDIS_CATEGORY_CALL;
		p->cfa[i + 1] = p->cfa[i];
		/* (a ret ends the copy: no boundary after it to describe) */
		if (!p->last_is_call && x.in.meta.category != ZYDIS_CATEGORY_RET && !stack_effect(&x, &p->cfa[i + 1]))
			return refuse(RELOC_STACK, why, cap, "the instruction at +%lu changes the stack in a way "
				      "the copy's unwind information could not describe", off);
		p->old_off[i] = (uint8_t)(off - skip);
		memcpy(p->insn[i], code + off, x.in.length);
		p->ninsn++;
		if ((x.in.meta.category == ZYDIS_CATEGORY_UNCOND_BR || x.in.meta.category == ZYDIS_CATEGORY_RET) &&
		    off + x.in.length - skip < JMP_LEN) {
			/* Nothing falls through: the bytes up to the jump's
			 * end are reached only by branches, refused below. */
			off = skip + JMP_LEN;
			break;
		}
	}
	p->len = (uint8_t)(off - skip);
	p->old_off[p->ninsn] = p->len;
	/* The whole function: nothing but the entry may lead into the
	 * region.  Decoding stops at bytes Zydis cannot read (data, padding
	 * of another kind): what follows is not this function's code. */
	limit = size;
	for (off = skip; off < limit; off += in.length) {
		uintptr_t t;

		if (!decode_lite(code + off, limit - off, &in))
			break;
		/* relative: a rel8/rel32 target, or a RIP-relative pointer
		 * (jmp [rip+x], a GOT slot: not into the function) */
		if (in.mnemonic == ZYDIS_MNEMONIC_JMP && !(in.attributes & ZYDIS_ATTRIB_IS_RELATIVE))
			return refuse(RELOC_INDIRECT_JUMP, why, cap, "the jump at +%lu goes through a register or a "
				      "table: it could land in the entry's bytes", off);
		if (!is_branch(&in) || !in.raw.imm[0].is_relative)
			continue;
		t = entry + off + in.length + (uintptr_t)in.raw.imm[0].value.s;
		if (t > p->start && t < p->start + p->len)
			return refuse(RELOC_BRANCH_INTO, why, cap, "the branch at +%lu jumps into the first bytes", off);
	}
	return RELOC_OK;
}

/* Encodes x (decoded for old) for address at, with its relative operand
 * made to point at target. */
static int encode_at(const struct insn *x, uintptr_t target, uintptr_t at, uint8_t *out, size_t cap)
{
	ZydisEncoderRequest req;
	ZyanUSize len = cap;

	if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&x->in, x->ops, x->in.operand_count_visible,
									 &req)))
		return -EINVAL;
	if (x->in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
		for (unsigned i = 0; i < req.operand_count; i++) {
			if (req.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY && req.operands[i].mem.base == ZYDIS_REGISTER_RIP)
				req.operands[i].mem.displacement = (ZyanI64)target;
			else if (req.operands[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && is_branch(&x->in))
				req.operands[i].imm.u = target;
		}
		req.branch_width = ZYDIS_BRANCH_WIDTH_NONE; /* rel8 widens when it must */
		req.branch_type = ZYDIS_BRANCH_TYPE_NONE;
	}
	if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(&req, out, &len, at)))
		return -ERANGE;
	return (int)len;
}

/* An instruction of our own, from its request: mnemonic with one operand. */
static int encode_one(ZydisMnemonic m, const ZydisEncoderOperand *op, uintptr_t at, uint8_t *out, size_t cap)
{
	ZydisEncoderRequest req;
	ZyanUSize len = cap;

	memset(&req, 0, sizeof(req));
	req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	req.mnemonic = m;
	req.operand_count = 1;
	req.operands[0] = *op;
	if (m == ZYDIS_MNEMONIC_JMP && op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		req.branch_width = ZYDIS_BRANCH_WIDTH_32;
	if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(&req, out, &len, at)))
		return -ERANGE;
	return (int)len;
}

/* jmp rel32 (e9): the encoder's general path costs a microsecond. */
static int encode_jmp(uintptr_t target, uintptr_t at, uint8_t *out, size_t cap)
{
	int64_t rel = (int64_t)(target - (at + JMP_LEN));

	if (cap < JMP_LEN || rel != (int32_t)rel)
		return -ERANGE;
	out[0] = 0xe9;
	memcpy(out + 1, &(int32_t){ (int32_t)rel }, 4);
	return JMP_LEN;
}

/* One pass over the region at `at`; new_off from the previous pass gives
 * the addresses of branch targets inside it.  Total bytes, or -ERANGE. */
static int emit_pass(struct reloc_plan *p, uintptr_t at, uint8_t *out, size_t cap, uintptr_t slot)
{
	size_t pos = 0;
	int n;

	for (unsigned i = 0; i < p->ninsn; i++) {
		uintptr_t old = p->start + p->old_off[i], t = 0;
		struct insn x;

		p->new_off[i] = (uint8_t)pos;
		/* nothing to re-aim: the bytes as they were (operands are
		 * decoded only for what is re-encoded) */
		if (!decode_lite(p->insn[i], sizeof(p->insn[i]), &x.in))
			return -ERANGE;
		if (!(x.in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) && x.in.meta.category != ZYDIS_CATEGORY_CALL) {
			if (pos + x.in.length > cap)
				return -ERANGE;
			memcpy(out + pos, p->insn[i], x.in.length);
			pos += x.in.length;
			continue;
		}
		decode(p->insn[i], sizeof(p->insn[i]), &x);
		if (relative_target(&x, old, &t) && is_branch(&x.in) && t >= p->start && t < p->start + p->len) {
			for (unsigned k = 0; k <= p->ninsn; k++)
				if (p->start + p->old_off[k] == t)
					t = at + p->new_off[k]; /* a branch inside the region */
		}
		if (x.in.meta.category == ZYDIS_CATEGORY_CALL && relative_target(&x, old, &t)) {
			/* push the original return address (start + len, in
			 * the function), then jump: the callee never returns
			 * into the copy.  call [rip+x] (gcc -fno-plt): t is
			 * the pointer's address, jumped through */
			ZydisEncoderOperand mem = { .type = ZYDIS_OPERAND_TYPE_MEMORY }, ptr = mem;

			mem.mem.base = ZYDIS_REGISTER_RIP;
			mem.mem.displacement = (ZyanI64)slot;
			mem.mem.size = 8;
			if ((n = encode_one(ZYDIS_MNEMONIC_PUSH, &mem, at + pos, out + pos, cap - pos)) < 0)
				return n;
			pos += (size_t)n;
			p->call_jmp = (uint8_t)pos;
			ptr.mem = mem.mem;
			ptr.mem.displacement = (ZyanI64)t;
			if (x.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
				n = encode_one(ZYDIS_MNEMONIC_JMP, &ptr, at + pos, out + pos, cap - pos);
			else
				n = encode_jmp(t, at + pos, out + pos, cap - pos);
			if (n < 0)
				return n;
		} else if (x.in.meta.category == ZYDIS_CATEGORY_CALL) {
			return -ERANGE; /* an indirect call: its return address would be the copy */
		} else if ((n = encode_at(&x, t, at + pos, out + pos, cap - pos)) < 0) {
			return n;
		}
		pos += (size_t)n;
	}
	p->new_off[p->ninsn] = (uint8_t)pos;
	if ((n = encode_jmp(p->start + p->len, at + pos, out + pos, cap - pos)) < 0)
		return n;
	return (int)(pos + (size_t)n);
}

int reloc_emit(struct reloc_plan *p, uintptr_t at, uint8_t *out, size_t cap)
{
	uint8_t prev[RELOC_MAX_INSN + 1];
	uint64_t ret = p->start + p->len;
	size_t slot;
	int n = -ERANGE;

	if (cap < RELOC_MAX_COPY)
		return -ENOSPC;
	/* Offsets change as branches widen: until they stay.  A call's
	 * return address is read from a slot after the code, placed once the
	 * code's length is known (until then, at the end of the space). */
	for (int pass = 0; pass < 4; pass++) {
		memcpy(prev, p->new_off, sizeof(prev));
		if ((n = emit_pass(p, at, out, RELOC_MAX_COPY - 8, at + RELOC_MAX_COPY - 8)) < 0)
			return n;
		if (!memcmp(prev, p->new_off, sizeof(prev)))
			break;
	}
	if (!p->last_is_call)
		return n;
	/* push [rip+disp32] is as long wherever its slot is: the same length */
	slot = ((size_t)n + 7) & ~(size_t)7;
	if (emit_pass(p, at, out, RELOC_MAX_COPY - 8, at + slot) != n)
		return -ERANGE;
	memcpy(out + slot, &ret, 8);
	return n;
}

size_t reloc_copy_size(const struct reloc_plan *p, int n)
{
	return p->last_is_call ? (((size_t)n + 7) & ~(size_t)7) + 8 : (size_t)n;
}

uintptr_t reloc_map_ip(const struct reloc_plan *p, uintptr_t at, uintptr_t a)
{
	for (unsigned i = 0; i < p->ninsn; i++)
		if (p->start + p->old_off[i] == a)
			return at + p->new_off[i];
	return 0;
}

const char *reloc_refusal_text(enum reloc_refusal r)
{
	switch (r) {
	case RELOC_OK:
		return "relocatable";
	case RELOC_NO_SIZE:
		return "its symbol has no size";
	case RELOC_TOO_SHORT:
		return "shorter than the 5-byte jump";
	case RELOC_UNDECODABLE:
		return "an instruction of its entry cannot be decoded";
	case RELOC_BRANCH_INTO:
		return "a branch of the function jumps into its first bytes";
	case RELOC_INDIRECT_JUMP:
		return "an indirect jump (a jump table?) could land in its first bytes";
	case RELOC_CALL_NOT_LAST:
		return "a call in its first bytes would return into them";
	case RELOC_SYSTEM:
		return "its first bytes hold an instruction that must run where it is";
	case RELOC_UNREACHABLE_OPERAND:
		return "an operand of its first bytes cannot be reached from the trampoline";
	case RELOC_STACK:
		return "its first bytes change the stack in a way unwinding could not follow";
	case RELOC_RETURNS_TWICE:
		return "it returns twice (setjmp, vfork, getcontext): the second return would run a trampoline "
		       "whose frame is gone";
	case RELOC_NREASONS:
		break;
	case RELOC_NOT_CALLED:
		return "it is entered by a jump, not called (the program's entry point, a .cold part)";
	}
	return "?";
}
