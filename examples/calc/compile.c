/* The compiler: recursive descent straight to stack-machine code.
 *   program := stmt*     stmt := let | assign | while | if | print | expr ';'
 *   expr := cmp (('&' | '|' | '^') cmp)*   cmp := shift (relop shift)?
 *   shift := sum (('<<'|'>>') sum)*   sum := term (('+'|'-') term)*
 *   term := unary (('*'|'/'|'%') unary)*   unary := ('-'|'!') unary | primary
 *   primary := NUM | IDENT | IDENT '(' args ')' | '(' expr ')' */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"
#include "mathx.h"

struct comp {
	struct lexer lx;
	struct program *p;
	int failed;
};

static void fail(struct comp *c, const char *what)
{
	if (!c->failed)
		snprintf(c->p->error, sizeof(c->p->error), "line %d: %s near '%s'", c->lx.line, what, c->lx.text);
	c->failed = 1;
}

static size_t emit(struct comp *c, enum op op, int64_t arg)
{
	struct program *p = c->p;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->code = realloc(p->code, p->cap * sizeof(*p->code));
	}
	p->code[p->n] = (struct insn){ (uint8_t)op, arg };
	return p->n++;
}

static void patch(struct comp *c, size_t at, size_t target)
{
	c->p->code[at].arg = (int64_t)target;
}

static int is_op(struct comp *c, const char *op)
{
	return c->lx.tok == T_OP && !strcmp(c->lx.text, op);
}

static void expect_op(struct comp *c, const char *op)
{
	if (!is_op(c, op))
		fail(c, "syntax error");
	lex_next(&c->lx);
}

static int var_slot(struct comp *c, const char *name, int create)
{
	struct program *p = c->p;

	for (int i = 0; i < p->nvars; i++)
		if (!strcmp(p->vars[i], name))
			return i;
	if (!create || p->nvars == 64) {
		fail(c, create ? "too many variables" : "unknown variable");
		return 0;
	}
	snprintf(p->vars[p->nvars], sizeof(p->vars[0]), "%s", name);
	return p->nvars++;
}

static int builtin_index(const char *name)
{
	for (int i = 0; mathx_builtins[i].name; i++)
		if (!strcmp(mathx_builtins[i].name, name))
			return i;
	return -1;
}

static void expr(struct comp *c);

static void call(struct comp *c, const char *name)
{
	int n = 0, b;

	lex_next(&c->lx);
	if (!strcmp(name, "put") || !strcmp(name, "get")) {
		int is_put = name[0] == 'p';

		if (c->lx.tok != T_STR) {
			fail(c, "a key string expected");
			return;
		}
		emit(c, OP_PUSH, (int64_t)kv_hash(c->lx.text));
		lex_next(&c->lx);
		if (is_put) {
			expect_op(c, ",");
			expr(c);
		}
		expect_op(c, ")");
		emit(c, is_put ? OP_KVPUT : OP_KVGET, 0);
		return;
	}
	if ((b = builtin_index(name)) < 0) {
		fail(c, "unknown function");
		return;
	}
	while (!is_op(c, ")") && !c->failed) {
		expr(c);
		n++;
		if (is_op(c, ","))
			lex_next(&c->lx);
	}
	expect_op(c, ")");
	if (n != mathx_builtins[b].nargs)
		fail(c, "wrong number of arguments");
	emit(c, OP_CALL, b);
}

static void primary(struct comp *c)
{
	char name[64];

	if (c->lx.tok == T_NUM) {
		emit(c, OP_PUSH, c->lx.num);
		lex_next(&c->lx);
	} else if (c->lx.tok == T_IDENT) {
		snprintf(name, sizeof(name), "%s", c->lx.text);
		lex_next(&c->lx);
		if (is_op(c, "("))
			call(c, name);
		else
			emit(c, OP_LOAD, var_slot(c, name, 0));
	} else if (is_op(c, "(")) {
		lex_next(&c->lx);
		expr(c);
		expect_op(c, ")");
	} else {
		fail(c, "an expression expected");
	}
}

static void unary(struct comp *c)
{
	if (is_op(c, "-") || is_op(c, "!")) {
		enum op op = c->lx.text[0] == '-' ? OP_NEG : OP_NOT;

		lex_next(&c->lx);
		unary(c);
		emit(c, op, 0);
		return;
	}
	primary(c);
}

/* A level of left-associative binary operators. */
static void binary(struct comp *c, void (*next)(struct comp *), const char *const *ops, const enum op *codes)
{
	next(c);
	for (;;) {
		int k = -1;

		for (int i = 0; ops[i]; i++)
			if (is_op(c, ops[i]))
				k = i;
		if (k < 0 || c->failed)
			return;
		lex_next(&c->lx);
		next(c);
		emit(c, codes[k], 0);
	}
}

static void term(struct comp *c)
{
	static const char *const ops[] = { "*", "/", "%", 0 };
	static const enum op codes[] = { OP_MUL, OP_DIV, OP_MOD };

	binary(c, unary, ops, codes);
}

static void sum(struct comp *c)
{
	static const char *const ops[] = { "+", "-", 0 };
	static const enum op codes[] = { OP_ADD, OP_SUB };

	binary(c, term, ops, codes);
}

static void shift(struct comp *c)
{
	static const char *const ops[] = { "<<", ">>", 0 };
	static const enum op codes[] = { OP_SHL, OP_SHR };

	binary(c, sum, ops, codes);
}

static void comparison(struct comp *c)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=", 0 };
	static const enum op codes[] = { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

	binary(c, shift, ops, codes);
}

static void expr(struct comp *c)
{
	static const char *const ops[] = { "&", "|", "^", 0 };
	static const enum op codes[] = { OP_BAND, OP_BOR, OP_BXOR };

	binary(c, comparison, ops, codes);
}

static void statement(struct comp *c);

static void block(struct comp *c)
{
	expect_op(c, "{");
	while (!is_op(c, "}") && c->lx.tok != T_EOF && !c->failed)
		statement(c);
	expect_op(c, "}");
}

/* "KEYWORD ( expr )": the condition, then a jump past what follows when it
 * is false; returns that jump, to patch. */
static size_t condition(struct comp *c)
{
	lex_next(&c->lx);
	expect_op(c, "(");
	expr(c);
	expect_op(c, ")");
	return emit(c, OP_JZ, 0);
}

static void while_stmt(struct comp *c)
{
	size_t top = c->p->n, jz = condition(c);

	block(c);
	emit(c, OP_JMP, (int64_t)top);
	patch(c, jz, c->p->n);
}

static void if_stmt(struct comp *c)
{
	size_t jz = condition(c), jmp;

	block(c);
	if (c->lx.tok == T_ELSE) {
		lex_next(&c->lx);
		jmp = emit(c, OP_JMP, 0);
		patch(c, jz, c->p->n);
		block(c);
		patch(c, jmp, c->p->n);
	} else {
		patch(c, jz, c->p->n);
	}
}

static void assignment(struct comp *c, int create)
{
	char name[64];

	if (create)
		lex_next(&c->lx);
	snprintf(name, sizeof(name), "%s", c->lx.text);
	lex_next(&c->lx);
	expect_op(c, "=");
	expr(c);
	emit(c, OP_STORE, var_slot(c, name, create));
	expect_op(c, ";");
}

static void statement(struct comp *c)
{
	switch (c->lx.tok) {
	case T_LET:
		assignment(c, 1);
		break;
	case T_WHILE:
		while_stmt(c);
		break;
	case T_IF:
		if_stmt(c);
		break;
	case T_PRINT:
		lex_next(&c->lx);
		expr(c);
		emit(c, OP_PRINT, 0);
		expect_op(c, ";");
		break;
	case T_IDENT:
		if (c->lx.p[0] == ' ' || c->lx.p[0] == '=') {
			const char *q = c->lx.p;

			while (*q == ' ')
				q++;
			if (q[0] == '=' && q[1] != '=') {
				assignment(c, 0);
				break;
			}
		}
		__attribute__((fallthrough)); /* an expression statement */
	default:
		expr(c);
		emit(c, OP_POP, 0);
		expect_op(c, ";");
	}
}

int compile(const char *src, struct program *p)
{
	struct comp c = { .p = p };

	memset(p, 0, sizeof(*p));
	lex_init(&c.lx, src);
	while (c.lx.tok != T_EOF && !c.failed)
		statement(&c);
	emit(&c, OP_HALT, 0);
	return c.failed ? -1 : 0;
}

void program_free(struct program *p)
{
	free(p->code);
	p->code = NULL;
}
