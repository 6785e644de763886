/* Sites made for functions that have no compiler patch site: their first
 * instructions are relocated (arch/x86_64/reloc.c) into a copy next to the
 * module, and the site is the entry itself, whose first 5 bytes become a
 * `jmp image` while links are attached.  Made when a link asks for such a
 * function; then an ordinary site of the table (kind POKETRACE_SITE_RELOC)
 * whose "nop" is the function's own bytes and whose body is the copy. */
#ifndef PT_CORE_RELSITE_H
#define PT_CORE_RELSITE_H

#include "arch/x86_64/reloc.h"
#include "core/module.h"

/* Never freed, like the copy; its plan only up to RELOC_PLAN_KEPT (10,000
 * of them are made in a batch: the rest of a plan is 400 bytes). */
struct relsite {
	uintptr_t copy;          /* the relocated instructions, then a jmp to start+len */
	struct reloc_plan plan;  /* (up to RELOC_PLAN_KEPT) */
};

/* The site for the function at addr (its entry, or after its endbr64) of m,
 * made now, with the engine lock held: 0 and *out, or -errno (said: why
 * the function cannot be relocated). */
int relsite_make(struct pt_module *m, uintptr_t addr, struct pt_site **out);
/* The function's body as a call of it sees it: the copy, or site+5. */
uintptr_t relsite_body(const struct pt_site *s);

#endif
