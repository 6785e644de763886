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

/* The folder's own function per operator (each shows in a trace). */
#define FOLD(name, expr)                                  \
	static int64_t fold_##name(int64_t a, int64_t b)  \
	{                                                 \
		return (expr);                            \
	}
BINOPS(FOLD)

typedef int64_t (*fold_fn)(int64_t, int64_t);

static fold_fn folder(uint8_t op)
{
	switch (op) {
#define X(name, expr) \
	case OP_##name: \
		return fold_##name;
		BINOPS(X)
#undef X
	default:
		return NULL;
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

		if (!f || a->op != OP_PUSH || b->op != OP_PUSH || is_jump_target(p, i + 1) ||
		    is_jump_target(p, i + 2))
			continue;
		*a = (struct insn){ OP_PUSH, f(a->arg, b->arg) };
		*b = (struct insn){ OP_PUSH, 0 };
		*op = (struct insn){ OP_POP, 0 };
		folded++;
	}
	return folded;
}
