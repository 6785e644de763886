/* calc: a small language (integers, variables, while/if, builtins from
 * libmathx, a key-value store from libkv) compiled to a stack machine. */
#ifndef CALC_H
#define CALC_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"

enum tok { T_EOF, T_NUM, T_IDENT, T_STR, T_LET, T_WHILE, T_IF, T_ELSE, T_PRINT, T_OP };

struct lexer {
	const char *src, *p;
	enum tok tok;
	int64_t num;
	char text[64];
	int line;
};

#define OPS(X)                                                                     \
	X(HALT) X(PUSH) X(LOAD) X(STORE) X(POP) X(DUP) X(SWAP)                     \
	X(ADD) X(SUB) X(MUL) X(DIV) X(MOD) X(NEG)                                  \
	X(BAND) X(BOR) X(BXOR) X(SHL) X(SHR)                                      \
	X(EQ) X(NE) X(LT) X(LE) X(GT) X(GE) X(NOT)                                \
	X(JMP) X(JZ) X(CALL) X(PRINT) X(KVPUT) X(KVGET)

/* The binary operators and the value of (a OP b): one definition for the
 * VM and the constant folder alike (division by zero gives 0). */
#define BINOPS(X)                                                                  \
	X(ADD, a + b) X(SUB, a - b) X(MUL, a * b)                                  \
	X(DIV, b ? a / b : 0) X(MOD, b ? a % b : 0)                                \
	X(BAND, a & b) X(BOR, a | b) X(BXOR, a ^ b)                                \
	X(SHL, (int64_t)((uint64_t)a << (b & 63))) X(SHR, a >> (b & 63))          \
	X(EQ, a == b) X(NE, a != b) X(LT, a < b) X(LE, a <= b) X(GT, a > b) X(GE, a >= b)

enum op {
#define X(name) OP_##name,
	OPS(X)
#undef X
	OP_COUNT
};

struct insn {
	uint8_t op;
	int64_t arg;
};

struct program {
	struct insn *code;
	size_t n, cap;
	char vars[64][64];
	int nvars;
	char error[128];
};

struct vm {
	const struct program *prog;
	int64_t stack[256];
	int sp;
	size_t pc;
	int64_t vars[64];
	struct kv *kv;
	uint64_t checksum; /* of everything printed */
	int64_t printed[64]; /* the first values printed, for the report */
	int nprinted;
	long steps;
};

struct stats {
	size_t n;
	int64_t min, max, median, mean, spread;
};

/* stats.c, fmt.c: the end-of-run report */
int stats_summary(const int64_t *values, size_t n, struct stats *out);
size_t fmt_words(char *out, size_t cap, int64_t v);
size_t fmt_roman(char *out, size_t cap, int64_t v);
size_t fmt_base(char *out, size_t cap, uint64_t v, int base);
size_t fmt_grouped(char *out, size_t cap, int64_t v);
uint64_t fmt_hash(const char *s);

uint64_t program_listing_hash(const struct program *p);
int program_optimize(struct program *p);

void lex_init(struct lexer *l, const char *src);
void lex_next(struct lexer *l);
int compile(const char *src, struct program *p);
void program_free(struct program *p);
int vm_run(struct vm *vm, const struct program *p, long max_steps);

#endif
