/* Functions without a compiler patch site: whether, and how, their entry can
 * be relocated (arch/x86_64/reloc.c) to make one — or why not. */
#ifndef PT_CORE_DYNSITE_H
#define PT_CORE_DYNSITE_H

#include "arch/x86_64/reloc.h"
#include "core/module.h"

enum dynsite_how {
	DYNSITE_COMPILER = 0,   /* it has a compiler site: that is used */
	DYNSITE_RELOCATABLE,    /* its first instructions can be relocated */
	DYNSITE_REFUSED,        /* why says why */
};

struct dynsite_verdict {
	enum dynsite_how how;
	enum reloc_refusal refusal; /* RELOC_OK unless refused by the analysis */
	bool own_import;            /* refused: poketrace itself calls it */
	char why[256];
	struct reloc_plan plan;     /* DYNSITE_RELOCATABLE */
};

/* Judges the function sym of m (its bytes through rd, at run-time
 * addresses).  0 (the verdict in *v) or -errno. */
int dynsite_judge(const struct pt_module *m, const struct es_sym *sym, module_read_fn rd, void *ctx,
		  struct dynsite_verdict *v);

#endif
