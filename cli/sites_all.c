/* poketrace sites --all: every function of a module and how it can be
 * hooked — through its compiler site, by relocating its first instructions,
 * or not at all (the analysis' reason).  The verdicts are core/dynsite's,
 * the same the library reaches for a function without a site. */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/names.h"
#include "cli/sites_all.h"
#include "core/dynrel.h"
#include "core/dynsite.h"

static const char *how_name(const struct dynsite_verdict *v)
{
	switch (v->how) {
	case DYNSITE_COMPILER:
		return "site";
	case DYNSITE_RELOCATABLE:
		return "reloc";
	case DYNSITE_REFUSED:
		break;
	}
	return "refused";
}

static void count(struct sites_all_totals *t, const struct dynsite_verdict *v)
{
	t->functions++;
	if (v->how == DYNSITE_COMPILER)
		t->compiler++;
	else if (v->how == DYNSITE_RELOCATABLE)
		t->relocatable++;
	else if (v->own_import)
		t->own++;
	else
		t->refused[v->refusal]++;
}

int sites_all_module(const struct pt_module *m, module_read_fn rd, void *ctx, const char *glob, bool quiet,
		     struct sites_all_totals *t)
{
	size_t before = t->functions;
	uint64_t last = UINT64_MAX;
	char mod[256];

	dynrel_judge_for_agent(); /* what record and attach can hook */
	if (glob) { /* "MODULE:GLOB": that module only */
		glob = names_split_module(glob, mod, sizeof(mod));
		if (!names_module_match(mod, m->name))
			return 0;
	}

	for (size_t i = 0; i < m->elf.nsyms; i++) {
		const struct es_sym *s = &m->elf.syms[i];
		struct dynsite_verdict v;
		int r;

		if (glob && (!s->name || fnmatch(glob, s->name, 0)))
			continue;
		/* aliases (versioned names, weak and strong) share an address:
		 * the first listed stands for all */
		if (s->vaddr == last)
			continue;
		last = s->vaddr;
		if ((r = dynsite_judge(m, s, rd, ctx, &v)) < 0)
			return pt_error(r, "%s: %s: cannot judge it", m->name, s->name ? s->name : "?");
		count(t, &v);
		if (quiet)
			continue;
		printf("%-24s %#14lx  %-7s %s", m->name, (unsigned long)(s->vaddr + m->bias), how_name(&v),
		       s->name ? s->name : "?");
		if (v.how == DYNSITE_RELOCATABLE)
			printf("  [%u bytes]", v.plan.len);
		else if (v.how == DYNSITE_REFUSED)
			printf("  why: %s", v.why);
		putchar('\n');
	}
	if (t->functions > before)
		t->modules++;
	return 0;
}

void sites_all_summary(const struct sites_all_totals *t)
{
	size_t refused = t->own;

	for (int i = 0; i < RELOC_NREASONS; i++)
		refused += t->refused[i];
	printf("%zu functions in %zu module%s: %zu with a compiler site, %zu relocatable, %zu refused", t->functions,
	       t->modules, t->modules == 1 ? "" : "s", t->compiler, t->relocatable, refused);
	if (refused) {
		const char *sep = " (";

		for (int i = 0; i < RELOC_NREASONS; i++) {
			if (t->refused[i]) {
				printf("%s%zu: %s", sep, t->refused[i], reloc_refusal_text((enum reloc_refusal)i));
				sep = "; ";
			}
		}
		if (t->own)
			printf("%s%zu: poketrace interposes them", sep, t->own);
		putchar(')');
	}
	putchar('\n');
}
