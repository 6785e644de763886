/* Between the agent's selection (select.c) and its functions without a
 * patch site (select_nosite.c). */
#ifndef PT_AGENT_SELECT_INT_H
#define PT_AGENT_SELECT_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "agent/agent.h"
#include "poketrace.h"

/* One refresh's walk over the functions (select.c). */
struct walk {
	FILE *funcs;
	size_t sites; /* with a symbol, patchable (library calls not counted) */
	int err;
	bool visited;
	bool libcall; /* visiting the library functions the program calls */
	bool table;   /* visiting the site table */
	unsigned generation;
};

/* Marks a function selected if the filters take it (a poketrace_sites_foreach
 * callback; arg is the walk). */
int select_visit(const struct poketrace_site *s, void *arg);
/* "a,b*" (globs, each may name its module: "libkv.so:kv_*") against a
 * function's mangled, full and simple names; an empty list: empty. */
bool select_match_names(const char *list, const char *module, const char *sym, bool empty);

/* -P: whether its globs name the function; making the relocated entries of
 * those that have no site, and visiting them. */
bool select_patch_match(const struct agent_config *c, const char *module, const char *sym);
void select_patch_functions(const struct agent_config *c, struct walk *w);
/* The program's imports, where the dynamic linker finds them, visited as
 * library calls. */
void select_libcall_functions(const struct agent_config *c, struct walk *w);

#endif
