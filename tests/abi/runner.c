/* Runs a generated corpus (gen.c) untraced, then under each hook kind,
 * and compares every function's results: what it folded its arguments
 * into, the fold of what it returned, and for typed handlers what they
 * folded theirs into.  Handlers clobber every register the ABI lets them
 * (clobber.h).  Prints one line per mismatch and a summary; exits 1 if
 * anything differed.
 *
 *   abi_run [KIND...]     kinds: typed ctx fexit modret replace ops stack (default: all)
 *
 * Every site of a corpus function is hooked (gcc's clones too: f_3.isra.0,
 * f_7.constprop.0, f_9.part.0); typed handlers and replacements, which
 * need the source prototype, only on functions of external linkage, whose
 * ABI no compiler may change. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/corpus.h"
#include "clobber.h"
#include "poketrace.h"

struct site {
	uintptr_t addr;
	int fn;          /* its abi_fns index */
	bool exact_name; /* "f_N" itself, not a clone */
};

static struct site *sites;
static int nsites;
static unsigned long long *want_seen, *want_ret;
static bool *typed_on; /* a typed handler is attached to the function */
static unsigned long hits, mismatches, calls, refused;

static void die(const char *what)
{
	fprintf(stderr, "abi_run: %s: %s\n", what, poketrace_last_error());
	exit(2);
}

static int add_site(const struct poketrace_site *s, void *ctx)
{
	char *end;
	long n;

	const char *name = s->symbol;
	char id[32];

	(void)ctx;
	/* clang++ mangles a static extern "C" function: _ZL3f_1P2S9... */
	if (!strncmp(name, "_ZL", 3)) {
		long len = strtol(name + 3, &end, 10);

		if (len <= 0 || len >= (long)sizeof(id))
			return 0;
		snprintf(id, sizeof(id), "%.*s", (int)len, end);
		name = id;
	}
	if (strncmp(name, "f_", 2) || (s->flags & POKETRACE_SITE_UNPATCHABLE))
		return 0;
	n = strtol(name + 2, &end, 10);
	if (end == name + 2 || n < 0 || n >= abi_nfns)
		return 0;
	sites = realloc(sites, sizeof(*sites) * (size_t)(nsites + 1));
	sites[nsites++] = (struct site){ s->addr, (int)n, *end == '\0' && name == s->symbol };
	return 0;
}

/* ------------------------------------------------------------- handlers */

static unsigned long exact_calls;

static void h_ctx(struct poketrace_ctx *c)
{
	hits++;
	exact_calls += (c->fn->flags & POKETRACE_FN_EXACT) != 0;
	if (getenv("ABI_DEBUG"))
		printf("  %s flags %#x nargs %d nfargs %d\n", c->fn->symbol, c->fn->flags, c->fn->nargs, c->fn->nfargs);
	clobber_all();
}

static int h_modret(struct poketrace_ctx *c)
{
	(void)c;
	hits++;
	clobber_all();
	return 0;
}

static void h_raw(void *data, const void *stack)
{
	(void)data;
	(void)stack;
	hits++;
	clobber_all();
}

static void h_ops(struct poketrace_ctx *c)
{
	(void)c;
	hits++;
	clobber_all();
}

/* -------------------------------------------------------------- compare */

static void run_all(const char *kind, bool typed)
{
	for (int i = 0; i < abi_nfns; i++) {
		unsigned long long seen, ret;

		abi_typed_seen = 0;
		abi_fns[i].call(&seen, &ret);
		calls++;
		if (seen != want_seen[i] || ret != want_ret[i]) {
			mismatches++;
			printf("MISMATCH %s %s: folded %#llx (want %#llx), returned %#llx (want %#llx)\n", kind,
			       abi_fns[i].name, seen, want_seen[i], ret, want_ret[i]);
		}
		if (typed && typed_on[i] && abi_typed_seen != want_seen[i]) {
			mismatches++;
			printf("MISMATCH %s %s: the typed handler folded %#llx (want %#llx)\n", kind, abi_fns[i].name,
			       abi_typed_seen, want_seen[i]);
		}
	}
}

/* ------------------------------------------------------------- the kinds */

struct specs {
	struct poketrace_link_spec *v;
	size_t n;
};

static void add(struct specs *s, enum poketrace_link_kind k, uintptr_t site, void *h, unsigned flags)
{
	s->v = realloc(s->v, sizeof(*s->v) * (s->n + 1));
	memset(&s->v[s->n], 0, sizeof(*s->v));
	s->v[s->n].kind = k;
	s->v[s->n].addr = site;
	s->v[s->n].handler = h;
	s->v[s->n].opts.sz = sizeof(s->v[s->n].opts);
	s->v[s->n].opts.flags = flags;
	s->n++;
}

static void mark_typed(const struct specs *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		for (int k = 0; (s->v[i].opts.flags & POKETRACE_LINK_TYPED) && k < nsites; k++)
			if (sites[k].addr == s->v[i].addr)
				typed_on[sites[k].fn] = true;
}

/* Attaches s in one batch; if it is refused, site by site, leaving out the
 * sites refused for a reason the library documents (fmod_ret on a function
 * returning a long double in st0).  Returns the links to detach. */
static struct poketrace_link **attach_all(const char *kind, struct specs *s, size_t *nl)
{
	struct poketrace_link **links = calloc(s->n + 1, sizeof(*links));

	*nl = 0;
	memset(typed_on, 0, sizeof(*typed_on) * (size_t)abi_nfns);
	if (poketrace_links_attach(s->v, s->n) == 0) {
		for (size_t i = 0; i < s->n; i++)
			links[(*nl)++] = s->v[i].link;
		mark_typed(s, 0, s->n);
		return links;
	}
	for (size_t i = 0, j; i < s->n; i = j) {
		for (j = i; j < s->n && s->v[j].addr == s->v[i].addr; j++)
			;
		if (poketrace_links_attach(s->v + i, j - i) == 0) {
			for (size_t k = i; k < j; k++)
				links[(*nl)++] = s->v[k].link;
			mark_typed(s, i, j);
		} else if (strstr(poketrace_last_error(), "long double")) {
			refused++;
		} else {
			die(kind);
		}
	}
	return links;
}

static void run_links(const char *kind, struct specs *s, bool typed)
{
	unsigned long before = hits;
	size_t nl;
	struct poketrace_link **links = attach_all(kind, s, &nl);

	run_all(kind, typed);
	if (hits == before && strcmp(kind, "typed")) {
		mismatches++;
		printf("MISMATCH %s: no handler ran\n", kind);
	}
	if (poketrace_links_detach(links, nl) < 0)
		die(kind);
	poketrace_quiesce(1000);
	free(links);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void kind_links(const char *kind)
{
	struct specs s = { 0 };
	bool typed = !strcmp(kind, "typed");

	for (int i = 0; i < nsites; i++) {
		const struct abi_fn *f = &abi_fns[sites[i].fn];
		bool exact = sites[i].exact_name && f->global;

		if (typed && exact)
			add(&s, POKETRACE_FENTRY, sites[i].addr, f->typed, POKETRACE_LINK_TYPED);
		else if (!strcmp(kind, "ctx"))
			add(&s, POKETRACE_FENTRY, sites[i].addr, (void *)h_ctx, 0);
		else if (!strcmp(kind, "fexit"))
			add(&s, POKETRACE_FEXIT, sites[i].addr, (void *)h_ctx, 0);
		else if (!strcmp(kind, "modret"))
			add(&s, POKETRACE_FMOD_RET, sites[i].addr, (void *)h_modret, 0);
		else if (!strcmp(kind, "stack")) {
			/* every kind at once, as the tracer and a user may stack them */
			add(&s, POKETRACE_FENTRY, sites[i].addr, (void *)h_raw, POKETRACE_LINK_RAW);
			add(&s, POKETRACE_FENTRY, sites[i].addr, (void *)h_ctx, 0);
			if (exact)
				add(&s, POKETRACE_FENTRY, sites[i].addr, f->typed, POKETRACE_LINK_TYPED);
			add(&s, POKETRACE_FMOD_RET, sites[i].addr, (void *)h_modret, 0);
			add(&s, POKETRACE_FEXIT, sites[i].addr, (void *)h_raw, POKETRACE_LINK_RAW);
			add(&s, POKETRACE_FEXIT, sites[i].addr, (void *)h_ctx, 0);
		}
	}
	run_links(kind, &s, typed || !strcmp(kind, "stack"));
}

static void kind_replace(void)
{
	struct specs s = { 0 };
	unsigned long before = abi_repl_hits;
	int n = 0;

	for (int i = 0; i < nsites; i++) {
		const struct abi_fn *f = &abi_fns[sites[i].fn];

		if (sites[i].exact_name && f->global && f->repl) {
			add(&s, POKETRACE_REPLACE, sites[i].addr, f->repl, 0);
			add(&s, POKETRACE_FEXIT, sites[i].addr, (void *)h_ctx, 0); /* an image calls the replacement */
			n++;
		}
	}
	if (poketrace_links_attach(s.v, s.n) < 0)
		die("replace");
	for (size_t i = 0; i < s.n; i += 2) {
		int fn = -1;

		for (int k = 0; k < nsites; k++)
			if (sites[k].addr == s.v[i].addr)
				fn = sites[k].fn;
		abi_orig[fn] = poketrace_link_original(s.v[i].link);
	}
	run_all("replace", false);
	if (abi_repl_hits - before != (unsigned long)n) {
		mismatches++;
		printf("MISMATCH replace: %lu replacement calls, want %d\n", abi_repl_hits - before, n);
	}
	{
		struct poketrace_link **links = calloc(s.n, sizeof(*links));

		for (size_t i = 0; i < s.n; i++)
			links[i] = s.v[i].link;
		if (poketrace_links_detach(links, s.n) < 0)
			die("replace detach");
		free(links);
	}
	free(s.v);
	poketrace_quiesce(1000);
}

static void kind_ops(void)
{
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, "f_*,_ZL*f_*", NULL, NULL };
	struct poketrace_ops *o;
	unsigned long before = hits;

	if (poketrace_ops_register(h_ops, &oo, &o) < 0)
		die("ops");
	run_all("ops", false);
	if (hits == before) {
		mismatches++;
		printf("MISMATCH ops: no callback ran\n");
	}
	if (poketrace_ops_unregister(o) < 0)
		die("ops unregister");
	poketrace_quiesce(1000);
}

int main(int argc, char **argv)
{
	static const char *all[] = { "typed", "ctx", "fexit", "modret", "replace", "ops", "stack" };
	const char **kinds = argc > 1 ? (const char **)argv + 1 : all;
	int nk = argc > 1 ? argc - 1 : (int)(sizeof(all) / sizeof(all[0]));
	unsigned long long s2, r2;

	abi_init();
	want_seen = calloc((size_t)abi_nfns, sizeof(*want_seen));
	want_ret = calloc((size_t)abi_nfns, sizeof(*want_ret));
	typed_on = calloc((size_t)abi_nfns, sizeof(*typed_on));
	for (int i = 0; i < abi_nfns; i++) {
		abi_fns[i].call(&want_seen[i], &want_ret[i]);
		abi_fns[i].call(&s2, &r2);
		if (s2 != want_seen[i] || r2 != want_ret[i]) {
			printf("NONDETERMINISTIC %s (a generator bug, not poketrace's)\n", abi_fns[i].name);
			return 2;
		}
	}
	if (poketrace_init(NULL) < 0)
		die("init");
	poketrace_sites_foreach("f_*", NULL, add_site, NULL);
	poketrace_sites_foreach("_ZL*f_*", NULL, add_site, NULL);
	if (nsites < abi_nfns * 9 / 10) {
		printf("only %d sites for %d functions: built without patch sites?\n", nsites, abi_nfns);
		return 2;
	}
	for (int k = 0; k < nk; k++) {
		if (!strcmp(kinds[k], "replace"))
			kind_replace();
		else if (!strcmp(kinds[k], "ops"))
			kind_ops();
		else if (!strcmp(kinds[k], "typed") || !strcmp(kinds[k], "ctx") || !strcmp(kinds[k], "fexit") ||
			 !strcmp(kinds[k], "modret") || !strcmp(kinds[k], "stack"))
			kind_links(kinds[k]);
		else {
			fprintf(stderr, "abi_run: unknown kind '%s'\n", kinds[k]);
			return 2;
		}
	}
	printf("abi: %d functions, %d sites, %d kinds, %lu calls hooked, %lu handler calls (%lu with exact images), "
	       "%lu refused (fmod_ret on long double), %lu mismatches\n", abi_nfns, nsites, nk, calls, hits, exact_calls,
	       refused, mismatches);
	return mismatches ? 1 : 0;
}
