/* A disassembler (one function per instruction, generated from the same
 * OPS list as the machine) and a peephole optimizer that folds constant
 * binary operations (one folding function per operator). */
#include <stdio.h>
#include <string.h>

#include "calc.h"

#define X(name)                                                                           \
	static size_t dis_##name(const struct insn *in, char *out, size_t cap)           \
	{                                                                                 \
		return (size_t)snprintf(out, cap, "%-6s %lld", #name, (long long)in->arg); \
	}
OPS(X)
#undef X

typedef size_t (*dis_fn)(const struct insn *, char *, size_t);

static const dis_fn disasm_table[OP_COUNT] = {
#define X(name) [OP_##name] = dis_##name,
	OPS(X)
#undef X
};

/* A hash of the program's listing (the report shows it). */
uint64_t program_listing_hash(const struct program *p)
{
	uint64_t h = 0;
	char line[64];

	for (size_t i = 0; i < p->n; i++) {
		disasm_table[p->code[i].op](&p->code[i], line, sizeof(line));
		h = (h * 31) ^ fmt_hash(line);
	}
	return h;
}

#define FOLD(name, expr)                                         \
	static int fold_##name(int64_t a, int64_t b, int64_t *out) \
	{                                                        \
		*out = (expr);                                   \
		return 1;                                        \
	}
FOLD(ADD, a + b)
FOLD(SUB, a - b)
FOLD(MUL, a * b)
FOLD(BAND, a & b)
FOLD(BOR, a | b)
FOLD(BXOR, a ^ b)
FOLD(EQ, a == b)
FOLD(NE, a != b)
FOLD(LT, a < b)
FOLD(LE, a <= b)
FOLD(GT, a > b)
FOLD(GE, a >= b)

static int fold_DIV(int64_t a, int64_t b, int64_t *out)
{
	if (!b)
		return 0;
	*out = a / b;
	return 1;
}

static int fold_MOD(int64_t a, int64_t b, int64_t *out)
{
	if (!b)
		return 0;
	*out = a % b;
	return 1;
}

typedef int (*fold_fn)(int64_t, int64_t, int64_t *);

static fold_fn folder(uint8_t op)
{
	switch (op) {
	case OP_ADD: return fold_ADD;
	case OP_SUB: return fold_SUB;
	case OP_MUL: return fold_MUL;
	case OP_DIV: return fold_DIV;
	case OP_MOD: return fold_MOD;
	case OP_BAND: return fold_BAND;
	case OP_BOR: return fold_BOR;
	case OP_BXOR: return fold_BXOR;
	case OP_EQ: return fold_EQ;
	case OP_NE: return fold_NE;
	case OP_LT: return fold_LT;
	case OP_LE: return fold_LE;
	case OP_GT: return fold_GT;
	case OP_GE: return fold_GE;
	default: return NULL;
	}
}

static int is_jump_target(const struct program *p, size_t at)
{
	for (size_t i = 0; i < p->n; i++)
		if ((p->code[i].op == OP_JMP || p->code[i].op == OP_JZ) && (size_t)p->code[i].arg == at)
			return 1;
	return 0;
}

/* PUSH a; PUSH b; OP -> PUSH (a OP b), NOP-padded so jump targets stay put.
 * Returns how many operations were folded. */
int program_optimize(struct program *p)
{
	int folded = 0;

	for (size_t i = 0; i + 2 < p->n; i++) {
		struct insn *a = &p->code[i], *b = &p->code[i + 1], *op = &p->code[i + 2];
		fold_fn f = folder(op->op);
		int64_t v;

		if (!f || a->op != OP_PUSH || b->op != OP_PUSH || is_jump_target(p, i + 1) ||
		    is_jump_target(p, i + 2) || !f(a->arg, b->arg, &v))
			continue;
		*a = (struct insn){ OP_PUSH, v };
		*b = (struct insn){ OP_PUSH, 0 };
		*op = (struct insn){ OP_POP, 0 };
		folded++;
	}
	return folded;
}
