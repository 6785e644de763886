/* The public site queries: count, lookup by address, walk by globs. */
#include <errno.h>
#include <fnmatch.h>

#include "core/image.h"
#include "base/error.h"
#include "core/engine.h"
#include "core/relsite.h"
#include "core/sites.h"
#include "poketrace.h"

POKETRACE_API long poketrace_site_count(void)
{
	long n = 0;
	int r = engine_enter();

	if (r < 0)
		return r;
	for (size_t i = 0; i < sites_nmodules(); i++)
		n += (long)sites_module(i)->nsites;
	engine_leave();
	return n;
}

POKETRACE_API int poketrace_site_lookup(uintptr_t addr, struct poketrace_site *out)
{
	struct pt_module *m;
	struct pt_site *s;
	int r;

	if (!out)
		return pt_error(EINVAL, "poketrace_site_lookup: out must not be NULL");
	if ((r = engine_enter()) < 0)
		return r;
	s = sites_find(addr, &m);
	if (s)
		module_site_public(m, s, out);
	else if (m)
		r = pt_error(ENOENT, "%#lx is not a patch site (it is in %s, which has %zu sites; "
			     "give a function's address)", (unsigned long)addr, m->path, m->nsites);
	else if (sites_unreadable_at(addr))
		r = pt_error(ENOENT, "%#lx: %s", (unsigned long)addr, sites_unreadable_at(addr));
	else
		r = pt_error(ENOENT, "%#lx is not in any loaded module", (unsigned long)addr);
	engine_leave();
	return r;
}

static bool match_module(const struct pt_module *m, const char *glob)
{
	return !glob || fnmatch(glob, m->path, 0) == 0 || fnmatch(glob, m->name, 0) == 0;
}

POKETRACE_API long poketrace_sites_foreach(const char *sym_glob, const char *mod_glob,
					   poketrace_site_cb cb, void *ctx)
{
	long visited = 0;
	int r;

	if (!cb)
		return pt_error(EINVAL, "poketrace_sites_foreach: cb must not be NULL");
	if ((r = engine_enter()) < 0)
		return r;
	for (size_t i = 0; i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		if (!match_module(m, mod_glob))
			continue;
		for (size_t j = 0; j < m->nsites; j++) {
			struct pt_site *s = &m->sites[j];
			struct poketrace_site pub;
			int ret;

			if (sym_glob && (!s->symbol || fnmatch(sym_glob, s->symbol, 0) != 0))
				continue;
			module_site_public(m, s, &pub);
			visited++;
			if ((ret = cb(&pub, ctx)) != 0) {
				engine_leave();
				return ret;
			}
		}
	}
	engine_leave();
	return visited;
}

POKETRACE_API int poketrace_site_make(uintptr_t func, struct poketrace_site *out)
{
	struct pt_module *m;
	struct pt_site *s;
	int r;

	if (!out)
		return pt_error(EINVAL, "poketrace_site_make: out must not be NULL");
	if ((r = engine_enter_change()) < 0)
		return r;
	s = sites_find(func, &m);
	if (!s && !m)
		r = pt_error(ENOENT, "%#lx is not in any loaded module", (unsigned long)func);
	else if (!s)
		r = relsite_make(m, func, &s);
	if (r == 0 && (r = image_settle()) == 0) /* (the copy's chunk R-X again, its unwind info) */
		module_site_public(m, s, out);
	engine_leave();
	return r;
}

POKETRACE_API long poketrace_functions_foreach(const char *sym_glob, const char *mod_glob,
					       poketrace_function_cb cb, void *ctx)
{
	long visited = 0;
	int r;

	if (!cb)
		return pt_error(EINVAL, "poketrace_functions_foreach: cb must not be NULL");
	if ((r = engine_enter()) < 0)
		return r;
	for (size_t i = 0; i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		if (!match_module(m, mod_glob))
			continue;
		for (size_t j = 0; j < m->elf.nsyms; j++) {
			const struct es_sym *e = &m->elf.syms[j];
			struct poketrace_function f = { m->bias + e->vaddr, e->size, e->name, m->path, false };
			int ret;

			if (!e->name || (sym_glob && fnmatch(sym_glob, e->name, 0) != 0))
				continue;
			if (j && m->elf.syms[j - 1].vaddr == e->vaddr)
				continue; /* an alias: the first name stands for all */
			f.has_site = module_site_find(m, f.addr) != NULL;
			visited++;
			if ((ret = cb(&f, ctx)) != 0) {
				engine_leave();
				return ret;
			}
		}
	}
	engine_leave();
	return visited;
}
