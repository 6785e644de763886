/* Judging a function without a compiler site (see dynsite.h).  Its bytes
 * are read whole (the analysis decodes the whole function: nothing may
 * branch into the bytes the jump overwrites).  The functions poketrace
 * itself imports (the engine calls them while it writes code, the tracer
 * while it records) are relocated only when its own calls can be kept off
 * them (relsite.c: its GOT slots then point at the relocated copy); those
 * it interposes (signal masks and handlers), which it calls through
 * pointers from dlsym, never. */
#include "core/dynsite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/sigguard.h"
#include "core/dynrel.h"

/* Beyond this a function is judged on its first bytes only: larger
 * functions' tails are not searched for branches back (said). */
#define MAX_FUNCTION (1u << 20)

/* Whether poketrace must not hook name: one of its imports when its own
 * calls cannot be diverted, or one it interposes. */
static bool own_refused(const char *name)
{
	return name && (sigguard_interposer(name) || (!dynrel_own_divertible() && dynrel_own_import(name)));
}

/* sym, or another name of the same function (__libc_calloc is calloc), is
 * one poketrace must not hook.  The symbols are sorted by address. */
static const char *own_name(const struct pt_module *m, const struct es_sym *sym)
{
	size_t lo = 0, hi = m->elf.nsyms;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->elf.syms[mid].vaddr < sym->vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->elf.nsyms && m->elf.syms[i].vaddr == sym->vaddr; i++)
		if (own_refused(m->elf.syms[i].name))
			return m->elf.syms[i].name;
	return own_refused(sym->name) ? sym->name : NULL;
}

/* What gcc knows as returns_twice (special_function_p), and libc's names
 * of them: an image calls its body through a landing pad and returns from
 * its own frame, which the second return finds reused. */
static bool returns_twice(const char *name)
{
	static const char *const names[] = { "setjmp", "_setjmp", "__setjmp", "sigsetjmp", "__sigsetjmp",
					     "savectx", "qsetjmp", "getcontext", "vfork", "__vfork" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

int dynsite_judge(const struct pt_module *m, const struct es_sym *sym, module_read_fn rd, void *ctx,
		  struct dynsite_verdict *v)
{
	uintptr_t at = sym->vaddr + m->bias;
	uint8_t *code;
	size_t size = sym->size;
	const char *own;

	memset(v, 0, sizeof(*v));
	if (module_site_find(m, at)) {
		v->how = DYNSITE_COMPILER;
		snprintf(v->why, sizeof(v->why), "a compiler site");
		return 0;
	}
	v->how = DYNSITE_REFUSED;
	if ((own = own_name(m, sym))) {
		v->own_import = true;
		if (sigguard_interposer(own))
			snprintf(v->why, sizeof(v->why), "poketrace interposes it (%s: signal masks and handlers are "
				 "poketrace's business)", own);
		else
			snprintf(v->why, sizeof(v->why), "poketrace itself calls it (%s is one of poketrace's imports, "
				 "and poketrace is linked into the program: its calls cannot be told apart)", own);
		return 0;
	}
	if (m->elf.entry && sym->vaddr == m->elf.entry) {
		/* _start: the kernel jumps there with no return address */
		v->refusal = RELOC_NOT_CALLED;
		snprintf(v->why, sizeof(v->why), "it is the program's entry point: the kernel jumps there, nothing "
			 "calls it");
		return 0;
	}
	if (sym->name && returns_twice(sym->name)) {
		v->refusal = RELOC_RETURNS_TWICE;
		snprintf(v->why, sizeof(v->why), "%s", reloc_refusal_text(RELOC_RETURNS_TWICE));
		return 0;
	}
	if (sym->name && strstr(sym->name, ".cold")) {
		/* gcc's cold part of a function: its hot part jumps there */
		v->refusal = RELOC_NOT_CALLED;
		snprintf(v->why, sizeof(v->why), "it is the cold part of a function (gcc's .cold): jumped to, not called");
		return 0;
	}
	if (!size) {
		v->refusal = RELOC_NO_SIZE;
		snprintf(v->why, sizeof(v->why), "%s", reloc_refusal_text(RELOC_NO_SIZE));
		return 0;
	}
	if (size > MAX_FUNCTION) {
		v->refusal = RELOC_UNDECODABLE;
		snprintf(v->why, sizeof(v->why), "it is %zu bytes long: too long to check every branch in it", size);
		return 0;
	}
	if (!(code = malloc(size)))
		return -ENOMEM;
	if (rd(ctx, at, code, size) < 0) {
		free(code);
		v->refusal = RELOC_UNDECODABLE;
		snprintf(v->why, sizeof(v->why), "its bytes cannot be read");
		return 0;
	}
	v->refusal = reloc_analyse(code, at, size, &v->plan, v->why, sizeof(v->why));
	free(code);
	if (v->refusal == RELOC_OK)
		v->how = DYNSITE_RELOCATABLE;
	return 0;
}
