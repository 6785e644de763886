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
	long steps;
};

void lex_init(struct lexer *l, const char *src);
void lex_next(struct lexer *l);
int compile(const char *src, struct program *p);
void program_free(struct program *p);
int vm_run(struct vm *vm, const struct program *p, long max_steps);

#endif
