/* poketrace sites --all: how every function of a module can be hooked. */
#ifndef PT_CLI_SITES_ALL_H
#define PT_CLI_SITES_ALL_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/x86_64/reloc.h"
#include "core/module.h"

struct sites_all_totals {
	size_t functions, modules, compiler, relocatable, own;
	size_t refused[RELOC_NREASONS]; /* by the analysis' reason */
};

/* Lists (unless quiet) and counts the functions of m matching glob (NULL:
 * all), their bytes read through rd.  0 or -errno. */
int sites_all_module(const struct pt_module *m, module_read_fn rd, void *ctx, const char *glob, bool quiet,
		     struct sites_all_totals *t);
void sites_all_summary(const struct sites_all_totals *t);

#endif
