/* The lexer: numbers, identifiers and keywords, strings, operators. */
#include <ctype.h>
#include <string.h>

#include "calc.h"

static void skip_space(struct lexer *l)
{
	for (;;) {
		while (isspace((unsigned char)*l->p))
			l->line += *l->p++ == '\n';
		if (l->p[0] != '#')
			return;
		while (*l->p && *l->p != '\n')
			l->p++;
	}
}

static void lex_number(struct lexer *l)
{
	l->num = 0;
	while (isdigit((unsigned char)*l->p))
		l->num = l->num * 10 + (*l->p++ - '0');
	l->tok = T_NUM;
}

static enum tok keyword(const char *s)
{
	static const struct { const char *w; enum tok t; } kw[] = {
		{ "let", T_LET }, { "while", T_WHILE }, { "if", T_IF }, { "else", T_ELSE }, { "print", T_PRINT },
	};

	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (!strcmp(s, kw[i].w))
			return kw[i].t;
	return T_IDENT;
}

static void lex_ident(struct lexer *l)
{
	size_t n = 0;

	while ((isalnum((unsigned char)*l->p) || *l->p == '_') && n < sizeof(l->text) - 1)
		l->text[n++] = *l->p++;
	l->text[n] = '\0';
	l->tok = keyword(l->text);
}

static void lex_string(struct lexer *l)
{
	size_t n = 0;

	l->p++;
	while (*l->p && *l->p != '"' && n < sizeof(l->text) - 1)
		l->text[n++] = *l->p++;
	l->text[n] = '\0';
	if (*l->p == '"')
		l->p++;
	l->tok = T_STR;
}

static void lex_op(struct lexer *l)
{
	static const char *const two[] = { "==", "!=", "<=", ">=", "<<", ">>", "&&", "||" };

	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
		if (!strncmp(l->p, two[i], 2)) {
			memcpy(l->text, two[i], 3);
			l->p += 2;
			l->tok = T_OP;
			return;
		}
	}
	l->text[0] = *l->p++;
	l->text[1] = '\0';
	l->tok = T_OP;
}

void lex_next(struct lexer *l)
{
	skip_space(l);
	if (!*l->p)
		l->tok = T_EOF;
	else if (isdigit((unsigned char)*l->p))
		lex_number(l);
	else if (isalpha((unsigned char)*l->p) || *l->p == '_')
		lex_ident(l);
	else if (*l->p == '"')
		lex_string(l);
	else
		lex_op(l);
}

void lex_init(struct lexer *l, const char *src)
{
	memset(l, 0, sizeof(*l));
	l->src = l->p = src;
	l->line = 1;
	lex_next(l);
}
