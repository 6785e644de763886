/* Demangling with libiberty's demangler (the one binutils uses): the full
 * form is its usual output; the simple form comes from its component tree,
 * where template nodes are replaced by their name and the parameter list
 * (with the method's cv-qualifiers) by the function's name, then printed by
 * the same library.  No parsing of demangled text. */
#include "base/names.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#define OPTS (DMGL_ANSI | DMGL_RET_DROP)

/* Strips templates and parameters along the name's own chain (scopes and
 * local names), not inside a lambda's or an operator's own text. */
static void simplify(struct demangle_component *c)
{
	for (int guard = 0; c && guard < 256; guard++) {
		switch (c->type) {
		case DEMANGLE_COMPONENT_TEMPLATE:
		case DEMANGLE_COMPONENT_TYPED_NAME:
		case DEMANGLE_COMPONENT_CONST_THIS:
		case DEMANGLE_COMPONENT_VOLATILE_THIS:
		case DEMANGLE_COMPONENT_RESTRICT_THIS:
		case DEMANGLE_COMPONENT_REFERENCE_THIS:
		case DEMANGLE_COMPONENT_RVALUE_REFERENCE_THIS:
			*c = *c->u.s_binary.left; /* the node becomes its name */
			continue;
		case DEMANGLE_COMPONENT_QUAL_NAME:
		case DEMANGLE_COMPONENT_LOCAL_NAME:
			simplify(c->u.s_binary.left);
			c = c->u.s_binary.right;
			continue;
		case DEMANGLE_COMPONENT_CLONE:
			c = c->u.s_binary.left; /* keeps " [clone .cold]": another piece of code */
			continue;
		default:
			return;
		}
	}
}

static char *simple_form(const char *sym)
{
	void *mem = NULL;
	size_t n;
	struct demangle_component *c = cplus_demangle_v3_components(sym, OPTS | DMGL_PARAMS, &mem);
	char *s = NULL;

	if (c) {
		simplify(c);
		s = cplus_demangle_print(OPTS, c, 64, &n);
	}
	free(mem);
	return s;
}

void names_make(const char *sym, char *name[3])
{
	char *full = NULL, *simple = NULL;

	if (sym[0] == '_' && sym[1] == 'Z') {
		full = cplus_demangle(sym, DMGL_ANSI | DMGL_PARAMS);
		simple = full ? simple_form(sym) : NULL;
	}
	name[NAME_MANGLED] = strdup(sym);
	name[NAME_FULL] = full ? full : name[NAME_MANGLED];
	name[NAME_SIMPLE] = simple ? simple : name[NAME_FULL];
}

void names_free(char *name[3])
{
	if (name[NAME_SIMPLE] != name[NAME_FULL])
		free(name[NAME_SIMPLE]);
	if (name[NAME_FULL] != name[NAME_MANGLED])
		free(name[NAME_FULL]);
	free(name[NAME_MANGLED]);
}

int names_form(const char *arg)
{
	if (!strcmp(arg, "full"))
		return NAME_FULL;
	if (!strcmp(arg, "simple"))
		return NAME_SIMPLE;
	if (!strcmp(arg, "no") || !strcmp(arg, "none"))
		return NAME_MANGLED;
	return -1;
}

bool names_match(char *const name[3], const char *glob)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(glob, name[i]) || !fnmatch(glob, name[i], 0))
			return true;
	return false;
}

const char *names_split_module(const char *glob, char *mod, size_t cap)
{
	for (const char *p = glob; *p; p++) {
		if (p[0] != ':')
			continue;
		if (p[1] == ':') {
			p++; /* a C++ scope */
			continue;
		}
		if (p == glob)
			break;
		snprintf(mod, cap, "%.*s", (int)(p - glob), glob);
		return p + 1;
	}
	if (cap)
		mod[0] = '\0';
	return glob;
}

bool names_module_match(const char *modglob, const char *module)
{
	const char *base = strrchr(module, '/') ? strrchr(module, '/') + 1 : module;

	return !modglob[0] || !fnmatch(modglob, base, 0) || !fnmatch(modglob, module, 0);
}

bool names_match_in(char *const name[3], const char *module, const char *glob)
{
	char mod[256];
	const char *fn = names_split_module(glob, mod, sizeof(mod));

	return names_module_match(mod, module) && names_match(name, fn);
}
