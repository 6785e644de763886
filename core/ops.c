/* The public ops API: filters decide which sites an ops is attached to;
 * every change patches exactly the sites whose set of ops changes. */
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/poke.h"
#include "base/error.h"
#include "base/ptrset.h"
#include "core/engine.h"
#include "core/hooks.h"
#include "core/relsite.h"

static uint64_t ops_seq;
static struct ptrset live;

static void globs_free(char **g)
{
	for (char **p = g; p && *p; p++)
		free(*p);
	free(g);
}

/* "a,b*,c" -> {"a","b*","c",NULL}; NULL or "" -> NULL (no restriction). */
static int globs_parse(const char *s, char ***out)
{
	size_t n = 1, k = 0;
	char **g;

	*out = NULL;
	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	g = calloc(n + 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");

		if (len && !(g[k++] = strndup(p, len))) {
			globs_free(g);
			return -ENOMEM;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = g;
	return 0;
}

static bool any(char **g, const char *a, const char *b)
{
	for (char **p = g; p && *p; p++)
		if (!fnmatch(*p, a, 0) || (b && !fnmatch(*p, b, 0)))
			return true;
	return false;
}

struct filters {
	char **filter, **modules, **notrace;
};

static bool matches(const struct filters *f, const struct pt_module *m, const struct pt_site *s)
{
	const char *sym = s->symbol ? s->symbol : "";

	if (s->flags & POKETRACE_SITE_UNPATCHABLE)
		return false;
	if ((s->flags & POKETRACE_SITE_PATCHED) && !(s->flags & SITE_HOOKED))
		return false; /* the raw patch API's */
	if (f->modules && !any(f->modules, m->path, m->name))
		return false;
	if (f->filter && !any(f->filter, sym, NULL))
		return false;
	return !any(f->notrace, sym, NULL);
}

/* POKETRACE_OPS_RELOCATE: sites made for the functions without one that
 * the filters name (one symbol per address; refusals left alone). */
static void relocate_named(const struct filters *f)
{
	for (size_t i = 0; i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		if (f->modules && !any(f->modules, m->path, m->name))
			continue;
		for (size_t j = 0; j < m->elf.nsyms; j++) {
			const struct es_sym *e = &m->elf.syms[j];
			uintptr_t a = m->bias + e->vaddr;
			struct pt_site *s;

			if (!e->name || !e->size || (j && m->elf.syms[j - 1].vaddr == e->vaddr))
				continue;
			if ((f->filter && !any(f->filter, e->name, NULL)) || any(f->notrace, e->name, NULL))
				continue;
			if (!module_site_find(m, a))
				relsite_make(m, a, &s);
		}
	}
}

static int collect(const struct filters *f, uintptr_t **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		return 0;
	for (size_t i = 0; i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		for (size_t j = 0; j < m->nsites; j++) {
			if (!matches(f, m, &m->sites[j]))
				continue;
			if (*n == cap) {
				uintptr_t *nv = realloc(*out, sizeof(*nv) * (cap = cap ? cap * 2 : 256));

				if (!nv)
					return -ENOMEM;
				*out = nv;
			}
			(*out)[(*n)++] = m->sites[j].addr;
		}
	}
	return 0;
}

static int hook_add_ops(struct hook *h, struct poketrace_ops *o)
{
	size_t i;

	if (h->nops == h->capops) {
		size_t cap = h->capops ? h->capops * 2 : 2;
		struct poketrace_ops **nv = realloc(h->ops, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		h->ops = nv;
		h->capops = cap;
	}
	for (i = h->nops; i > 0 && h->ops[i - 1]->seq > o->seq; i--)
		h->ops[i] = h->ops[i - 1];
	h->ops[i] = o;
	h->nops++;
	return 0;
}

static void hook_del_ops(struct hook *h, struct poketrace_ops *o)
{
	for (size_t i = 0; i < h->nops; i++) {
		if (h->ops[i] == o) {
			memmove(&h->ops[i], &h->ops[i + 1], (h->nops - i - 1) * sizeof(*h->ops));
			h->nops--;
			return;
		}
	}
}

/* Moves o from its current sites to `want` (sorted) in one batch. */
static int retarget(struct poketrace_ops *o, uintptr_t *want, size_t nwant)
{
	struct touched t = { 0 };
	size_t i = 0, j = 0, w = 0;
	int r = 0;

	/* hooks_sync zeroes sites of unloaded modules: drop them. */
	for (size_t k = 0; k < o->nsites; k++)
		if (o->sites[k])
			o->sites[w++] = o->sites[k];
	o->nsites = w;
	while (r == 0 && (i < o->nsites || j < nwant)) {
		bool del = j == nwant || (i < o->nsites && o->sites[i] < want[j]);
		bool add = i == o->nsites || (j < nwant && want[j] < o->sites[i]);
		struct hook *h;

		if (!del && !add) {
			i++, j++;
			continue;
		}
		h = hooks_get(del ? o->sites[i++] : want[j++], add);
		if (!h)
			continue;
		if ((r = touched_add(&t, h)) < 0)
			break;
		if (del)
			hook_del_ops(h, o);
		else if ((r = hook_add_ops(h, o)) < 0)
			break;
	}
	if (r == 0)
		r = hooks_apply(t.v, t.n);
	if (r < 0) {
		/* Undo the list edits; nothing was written. */
		for (size_t k = 0; k < t.n; k++) {
			struct hook *h = t.v[k];
			bool was = false, now = false;

			for (size_t m = 0; m < o->nsites; m++)
				was |= o->sites[m] == h->site;
			for (size_t m = 0; m < h->nops; m++)
				now |= h->ops[m] == o;
			if (now && !was)
				hook_del_ops(h, o);
			else if (was && !now)
				hook_add_ops(h, o);
		}
		for (size_t k = 0; k < t.n; k++) {
			t.v[k]->touched = false;
			hooks_drop_if_empty(t.v[k]);
			t.v[k] = NULL;
		}
	}
	touched_clear(&t);
	return r;
}

static int change(struct poketrace_ops *o, const char *filter, const char *modules, const char *notrace,
		  bool detach)
{
	struct filters f = { 0 };
	uintptr_t *want = NULL;
	size_t nwant = 0;
	int r;

	if (globs_parse(filter, &f.filter) < 0 || globs_parse(modules, &f.modules) < 0 ||
	    globs_parse(notrace, &f.notrace) < 0) {
		r = pt_error(ENOMEM, "out of memory");
		goto out;
	}
	if ((r = engine_enter_change()) < 0)
		goto out;
	hooks_sync();
	if (!detach && o->relocate)
		relocate_named(&f);
	if (!detach && collect(&f, &want, &nwant) < 0)
		r = pt_error(ENOMEM, "out of memory");
	if (r == 0)
		r = retarget(o, want, nwant);
	if (r == 0) {
		free(o->sites);
		o->sites = want;
		o->nsites = nwant;
		want = NULL;
		globs_free(o->filter);
		globs_free(o->modules);
		globs_free(o->notrace);
		o->filter = f.filter;
		o->modules = f.modules;
		o->notrace = f.notrace;
		memset(&f, 0, sizeof(f));
	}
	engine_leave();
out:
	free(want);
	globs_free(f.filter);
	globs_free(f.modules);
	globs_free(f.notrace);
	return r;
}

POKETRACE_API int poketrace_ops_register(poketrace_ops_fn fn, const struct poketrace_ops_opts *opts,
					 struct poketrace_ops **out)
{
	struct poketrace_ops *o;
	int r;

	if (!fn || !out)
		return pt_error(EINVAL, "poketrace_ops_register: fn and out must not be NULL");
	if (opts && opts->sz != sizeof(*opts) && opts->sz != offsetof(struct poketrace_ops_opts, flags))
		return pt_error(EINVAL, "opts->sz is %zu; set it to sizeof(struct poketrace_ops_opts)",
				opts->sz);
	if (opts && opts->sz == sizeof(*opts) && (opts->flags & ~POKETRACE_OPS_RELOCATE))
		return pt_error(EINVAL, "opts->flags %#x: unknown flags", opts->flags);
	o = calloc(1, sizeof(*o));
	if (!o)
		return pt_error(ENOMEM, "out of memory");
	o->fn = fn;
	o->relocate = opts && opts->sz == sizeof(*opts) && (opts->flags & POKETRACE_OPS_RELOCATE);
	o->data = opts ? opts->data : NULL;
	o->seq = __atomic_add_fetch(&ops_seq, 1, __ATOMIC_RELAXED);
	r = change(o, opts ? opts->filter : NULL, opts ? opts->modules : NULL, opts ? opts->notrace : NULL,
		   false);
	if (r < 0) {
		free(o);
		return r;
	}
	poke_lock();
	r = ptrset_add(&live, o);
	poke_unlock();
	if (r < 0) {
		change(o, NULL, NULL, NULL, true);
		free(o);
		return pt_error(ENOMEM, "out of memory");
	}
	*out = o;
	return 0;
}

static int check_live(const struct poketrace_ops *o)
{
	bool ok;

	if (!o)
		return pt_error(EINVAL, "ops is NULL");
	poke_lock();
	ok = ptrset_has(&live, o);
	poke_unlock();
	return ok ? 0 : pt_error(ENOENT, "%p is not a registered ops (unregistered already?)", (void *)o);
}

POKETRACE_API int poketrace_ops_set_filter(struct poketrace_ops *o, const char *filter, const char *modules,
					   const char *notrace)
{
	int r = check_live(o);

	return r < 0 ? r : change(o, filter, modules, notrace, false);
}

POKETRACE_API int poketrace_ops_unregister(struct poketrace_ops *o)
{
	int r = check_live(o);

	if (r < 0 || (r = change(o, NULL, NULL, NULL, true)) < 0)
		return r;
	poke_lock();
	ptrset_del(&live, o);
	hooks_forget_ops(o);
	poke_unlock();
	globs_free(o->filter);
	globs_free(o->modules);
	globs_free(o->notrace);
	free(o->sites);
	free(o);
	return 0;
}

POKETRACE_API long poketrace_ops_nsites(const struct poketrace_ops *o)
{
	long r = check_live(o);

	return r < 0 ? r : (long)o->nsites;
}
