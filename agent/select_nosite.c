/* Functions without a patch site, for the agent's selection (select.c):
 * uftrace's -P (relocated entries of the functions a glob names) and
 * library calls (the functions the program imports). */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/select_int.h"
#include "base/names.h"
#include "core/dynrel.h"
#include "poketrace.h"

/* -P (uftrace's --patch): functions without a compiler site that a glob
 * matches get a relocated site (poketrace_site_make) and are then selected
 * as the others are.  A glob without "MODULE:" means the program's own
 * functions.  Functions that cannot be relocated are said once each (the
 * first few by name) and not tried again. */
static struct {
	uintptr_t *v;
	size_t n, cap;
} refused_fns, cands;
static size_t nrefused_said, said_none, said_made;
static bool matched_any;

static bool in_list(const uintptr_t *v, size_t n, uintptr_t a)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == a)
			return true;
	return false;
}

static int push(uintptr_t **v, size_t *n, size_t *cap, uintptr_t a)
{
	if (*n == *cap) {
		uintptr_t *nv = realloc(*v, (*cap = *cap ? *cap * 2 : 256) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	(*v)[(*n)++] = a;
	return 0;
}

bool select_patch_match(const struct agent_config *c, const char *module, const char *sym)
{
	static char exe[4096];

	if (!exe[0] && !realpath("/proc/self/exe", exe))
		snprintf(exe, sizeof(exe), "?");
	for (const char *g = c->patch; *g;) {
		size_t n = strcspn(g, ",");
		char pat[n + 1], mod[256];
		bool hit;

		memcpy(pat, g, n);
		pat[n] = '\0';
		g += n + (g[n] == ',');
		names_split_module(pat, mod, sizeof(mod));
		/* without a module: the program's own */
		if (!n || (!mod[0] && strcmp(module, exe)))
			continue;
		hit = select_match_names(pat, module, sym, false);
		if (hit)
			return true;
	}
	return false;
}

static int candidate(const struct poketrace_function *f, void *arg)
{
	if (f->has_site || !f->size || in_list(refused_fns.v, refused_fns.n, f->addr) ||
	    !select_patch_match(arg, f->module, f->symbol))
		return 0;
	return push(&cands.v, &cands.n, &cands.cap, f->addr) < 0 ? -ENOMEM : 0;
}

/* A message about the selection: to standard error, or, under record and
 * attach (whose command says it, once for all processes), as a "say" line
 * of poketrace/unmatched — not into the output of a program attached to. */
static void __attribute__((format(printf, 2, 3))) say(const struct agent_config *c, const char *fmt, ...)
{
	char path[4200], msg[1024];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/poketrace/unmatched", c->out);
	if (!c->defer_warnings || !(f = fopen(path, "ae"))) {
		fprintf(stderr, "poketrace: %s\n", msg);
		return;
	}
	fprintf(f, "say\t%s\n", msg);
	fclose(f);
}

/* The same as a line KIND\tMESSAGE the command weighs against the other
 * processes' (a -P glob that matched nothing here but did elsewhere is not
 * said); without a message, only the kind. */
static void __attribute__((format(printf, 3, 4))) say_structured(const struct agent_config *c, const char *kind, const char *fmt, ...)
{
	char path[4200], msg[1024] = "";
	va_list ap;
	FILE *f;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	snprintf(path, sizeof(path), "%s/poketrace/unmatched", c->out);
	if (!c->defer_warnings || !(f = fopen(path, "ae"))) {
		if (msg[0])
			fprintf(stderr, "poketrace: %s\n", msg);
		return;
	}
	fprintf(f, "%s\t%s\n", kind, msg);
	fclose(f);
}

void select_patch_functions(const struct agent_config *c, struct walk *w)
{
	size_t made = 0, refused = 0;

	if (!c->patch[0])
		return;
	cands.n = 0;
	if (poketrace_functions_foreach(NULL, NULL, candidate, (void *)c) < 0)
		return;
	for (size_t i = 0; i < cands.n; i++) {
		struct poketrace_site site;

		if (poketrace_site_make(cands.v[i], &site) == 0) {
			made++;
			select_visit(&site, w);
			continue;
		}
		refused++;
		push(&refused_fns.v, &refused_fns.n, &refused_fns.cap, cands.v[i]);
		if (nrefused_said++ < 5)
			say(c, "-P: %s", poketrace_last_error());
	}
	matched_any |= cands.n > 0; /* (made ones are no candidates the next time) */
	if (!matched_any && !said_none++)
		say_structured(c, "nopatch", "-P '%s' matches no function without a patch site (a glob without "
			       "'MODULE:' names the program's own; 'poketrace sites --all PROG' lists them)",
			       c->patch);
	if (made && !said_made++)
		say_structured(c, "patched", NULL);
	if (refused > 5 || (refused && made))
		say(c, "-P: %zu function%s relocated, %zu cannot be ('poketrace sites --all' says why for each)", made,
		    made == 1 ? "" : "s", refused);
}

/* Library calls (uftrace's default view): the functions the program
 * imports, where the dynamic linker finds them (their compiler sites, or
 * their entries relocated), traced when the program's own code calls them
 * (tracer_set_libcall) — calls through a dlsym'd pointer too, which PLT
 * hooks miss.  Not poketrace's own functions (its interposers) nor those
 * poketrace calls (refused by relsite), and only once the program has
 * traced functions of its own. */
static struct {
	char **names;
	size_t n, cap;
	bool *done; /* made or refused: not looked up again */
	struct poketrace_site *site; /* made (symbol 0 if not): visited again by each refresh */
	bool scanned;
} imp;

static void import_name(void *ctx, const char *name, uintptr_t slot)
{
	(void)ctx, (void)slot;
	for (size_t i = 0; i < imp.n; i++)
		if (!strcmp(imp.names[i], name))
			return;
	if (imp.n == imp.cap) {
		size_t cap = imp.cap ? imp.cap * 2 : 256;
		char **nv = realloc(imp.names, cap * sizeof(*nv));
		bool *nd = nv ? realloc(imp.done, cap * sizeof(*nd)) : NULL;
		struct poketrace_site *ns = nd ? realloc(imp.site, cap * sizeof(*ns)) : NULL;

		if (nv)
			imp.names = nv;
		if (nd)
			imp.done = nd;
		if (!ns)
			return;
		imp.site = ns;
		imp.cap = cap;
	}
	if ((imp.names[imp.n] = strdup(name))) {
		imp.site[imp.n].symbol = NULL;
		imp.done[imp.n++] = false;
	}
}

/* The program (the first object): its imports, and its code's ranges. */
struct program_scan {
	uintptr_t r[TRACER_LC_RANGES][2];
	const struct agent_config *c;
};

static int program_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct program_scan *p = ctx;
	uintptr_t (*r)[2] = p->r;
	int n = 0;

	(void)size;
	dynrel_imports(info, import_name, NULL);
	for (int i = 0; i < info->dlpi_phnum && n < TRACER_LC_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			r[n][0] = info->dlpi_addr + ph->p_vaddr;
			r[n][1] = r[n][0] + ph->p_memsz;
			n++;
		}
	}
	tracer_set_libcall((const uintptr_t (*)[2])r, n, p->c->libcall == 2);
	return 1;
}

void select_libcall_functions(const struct agent_config *c, struct walk *w)
{
	static void *self;
	Dl_info me, where;
	void *own;

	if (!c->libcall || (!w->sites && !cands.n))
		return;
	if (!imp.scanned) {
		struct program_scan p = { .c = c };

		imp.scanned = true;
		dl_iterate_phdr(program_object, &p);
	}
	if (!dladdr((void *)select_libcall_functions, &me))
		return;
	/* (the agent itself: what it defines it interposes — signal masks and
	 * handlers, exec — and glibc's own of those, which a late load finds
	 * first, is poketrace's business, never hooked) */
	if (!self) {
		/* glibc's dlopen, not the agent's (which would run a module
		 * refresh: this is one, under sel.lock) */
		void *(*open_real)(const char *, int) = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");

		self = open_real ? open_real(me.dli_fname, RTLD_LAZY | RTLD_NOLOAD) : NULL;
	}
	w->libcall = true;
	for (size_t i = 0; i < imp.n; i++) {
		void *a;
		struct poketrace_site site;

		if (imp.done[i] && imp.site[i].symbol) {
			/* made: selected again, by its name (if its module is
			 * still loaded: the strings are the table's) */
			if (poketrace_site_lookup(imp.site[i].addr, &site) == 0 && site.func == imp.site[i].func) {
				site.symbol = imp.names[i];
				select_visit(&site, w);
			} else {
				imp.site[i].symbol = NULL;
				imp.done[i] = false; /* (it may come back) */
			}
		}
		/* (__libc_start_main calls main and never returns) */
		if (imp.done[i] || !strncmp(imp.names[i], "__libc_start_main", 17))
			continue;
		/* an import the program has no definition for yet stays to try
		 * after the next dlopen */
		if (!(a = dlsym(RTLD_DEFAULT, imp.names[i])))
			continue;
		imp.done[i] = true;
		if (!dladdr(a, &where) || where.dli_fbase == me.dli_fbase)
			continue; /* poketrace's own (an interposer) */
		if (self && (own = dlsym(self, imp.names[i])) && dladdr(own, &where) && where.dli_fbase == me.dli_fbase)
			continue; /* glibc's of a function poketrace interposes */
		if (poketrace_site_make((uintptr_t)a, &site) == 0) {
			site.symbol = imp.names[i]; /* the name the program calls, not an alias */
			imp.site[i] = site;
			select_visit(&site, w);
		}
	}
	w->libcall = false;
}

