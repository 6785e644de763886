/* A loaded (or, for the CLI, on-disk) module and its patch sites. */
#ifndef PT_CORE_MODULE_H
#define PT_CORE_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/insn.h"
#include "core/elfscan.h"
#include "poketrace.h"

/* Internal flag: gcc's 90 x5 not yet decided (normalized or unpatchable). */
#define SITE_NEEDS_NORMALIZE (1u << 8)

struct pt_site {
	uintptr_t addr, func;
	const char *symbol;
	uint8_t kind;   /* enum poketrace_site_kind */
	uint8_t reason; /* enum poketrace_site_reason */
	uint16_t flags; /* enum poketrace_site_flags | SITE_NEEDS_NORMALIZE */
	uint8_t nop[INSN_SITE_LEN]; /* what "nop" means at this site (a relocated one: its own bytes) */
	uint8_t cur[INSN_SITE_LEN]; /* the bytes there now */
	struct relsite *rel;        /* POKETRACE_SITE_RELOC: its relocation (core/relsite.h) */
};

struct pt_module {
	char *path;
	const char *name; /* file name part of path */
	uintptr_t bias;
	uintptr_t lo, hi;           /* every loadable segment */
	uintptr_t text_lo, text_hi; /* executable segments */
	struct es_file elf;         /* symbols and segments; the file is closed */
	struct pt_site *sites;      /* sorted by addr */
	size_t nsites;
	size_t site_cap;            /* room in sites */
	size_t nbad;                /* listed, but no nop we know */
	bool seen;                  /* still loaded (table refresh) */
};

/* Reads n bytes of the module image at a run-time address. 0 or -errno. */
typedef int (*module_read_fn)(void *ctx, uintptr_t addr, void *buf, size_t n);

/* Builds m from a scanned file loaded at bias, classifying every listed site
 * from the bytes rd returns.  Takes the file's symbols (f is consumed). */
int module_build(struct pt_module *m, struct es_file *f, uintptr_t bias,
		 module_read_fn rd, void *ctx);
void module_free(struct pt_module *m);

struct pt_site *module_site_find(const struct pt_module *m, uintptr_t addr);
/* The index of the first site at or after addr (nsites: none). */
size_t module_site_lower(const struct pt_module *m, uintptr_t addr);
void module_site_public(const struct pt_module *m, const struct pt_site *s,
			struct poketrace_site *out);

const char *site_kind_name(int kind);
const char *site_reason_text(int reason);

#endif
