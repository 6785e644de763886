/* The public link API: attach and detach fentry/fexit/fmod_ret/replace
 * handlers, any number at once, each call one batch. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/poke.h"
#include "base/error.h"
#include "base/ptrset.h"
#include "core/engine.h"
#include "core/hooks.h"
#include "core/patch.h"
#include "core/reclaim.h"

static uint64_t link_seq;
static struct ptrset live; /* attached links: detaching anything else is refused */

static const char *kind_name(enum poketrace_link_kind k)
{
	switch (k) {
	case POKETRACE_FENTRY:
		return "fentry";
	case POKETRACE_FEXIT:
		return "fexit";
	case POKETRACE_FMOD_RET:
		return "fmod_ret";
	case POKETRACE_REPLACE:
		return "replace";
	}
	return "?";
}

/* "name" or "module:name"; module matches a path or file name glob. */
static int find_by_name(const char *spec, uintptr_t *site)
{
	const char *colon = strrchr(spec, ':'), *name = colon ? colon + 1 : spec;
	char *mod = colon ? strndup(spec, (size_t)(colon - spec)) : NULL;
	const char *first_mod = NULL;
	int found = 0;

	if (colon && !mod)
		return pt_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		if (mod && fnmatch(mod, m->path, 0) && fnmatch(mod, m->name, 0))
			continue;
		for (size_t j = 0; j < m->nsites; j++) {
			if (!m->sites[j].symbol || strcmp(m->sites[j].symbol, name))
				continue;
			if (found++ == 0) {
				*site = m->sites[j].addr;
				first_mod = m->name;
			} else {
				int r = pt_error(EEXIST, "'%s' is ambiguous: it is in %s and %s; say "
						 "MODULE:%s", name, first_mod, m->name, name);

				free(mod);
				return r;
			}
		}
	}
	/* no compiler site: a function of that name (a site is relocated) */
	for (size_t i = 0; !found && i < sites_nmodules(); i++) {
		struct pt_module *m = sites_module(i);

		if (mod && fnmatch(mod, m->path, 0) && fnmatch(mod, m->name, 0))
			continue;
		for (size_t j = 0; j < m->elf.nsyms; j++) {
			if (!m->elf.syms[j].name || strcmp(m->elf.syms[j].name, name) || !m->elf.syms[j].size)
				continue;
			if (found++ == 0) {
				*site = m->bias + m->elf.syms[j].vaddr;
				first_mod = m->name;
			} else if (strcmp(first_mod, m->name)) {
				int r = pt_error(EEXIST, "'%s' is ambiguous: it is in %s and %s; say "
						 "MODULE:%s", name, first_mod, m->name, name);

				free(mod);
				return r;
			} else {
				found--; /* an alias in the same module */
			}
		}
	}
	free(mod);
	if (!found)
		return pt_error(ENOENT, "no function '%s' is loaded%s", spec,
				colon ? "" : " (poketrace sites -p PID lists them)");
	return 0;
}

static int link_cmp(const struct poketrace_link *a, const struct poketrace_link *b)
{
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	return a->seq < b->seq ? -1 : 1;
}

static void insert(struct hook *h, struct poketrace_link *l)
{
	struct poketrace_link **p = &h->links;

	while (*p && link_cmp(*p, l) < 0)
		p = &(*p)->next;
	l->next = *p;
	*p = l;
	l->hook = h;
}

static void unlink_from(struct hook *h, struct poketrace_link *l)
{
	for (struct poketrace_link **p = &h->links; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	l->next = NULL;
	l->hook = NULL;
}

static void link_free(struct poketrace_link *l)
{
	ptrset_del(&live, l);
	free(l->symbol);
	free(l->module);
	free(l);
}

static int check_spec(const struct poketrace_link_spec *s)
{
	if (s->kind < POKETRACE_FENTRY || s->kind > POKETRACE_REPLACE)
		return pt_error(EINVAL, "unknown link kind %d", (int)s->kind);
	if (!s->handler)
		return pt_error(EINVAL, "%s link: the handler is NULL", kind_name(s->kind));
	if (!s->func && !s->addr)
		return pt_error(EINVAL, "%s link: give a function name or an address", kind_name(s->kind));
	if (s->opts.sz && s->opts.sz != sizeof(s->opts))
		return pt_error(EINVAL, "opts.sz is %zu; set it to sizeof(struct poketrace_link_opts)",
				s->opts.sz);
	if ((s->opts.flags & POKETRACE_LINK_TYPED) && s->kind != POKETRACE_FENTRY)
		return pt_error(EINVAL, "POKETRACE_LINK_TYPED is for fentry links only");
	if ((s->opts.flags & POKETRACE_LINK_RAW) && s->kind != POKETRACE_FENTRY && s->kind != POKETRACE_FEXIT)
		return pt_error(EINVAL, "POKETRACE_LINK_RAW is for fentry and fexit links only");
	if ((s->opts.flags & POKETRACE_LINK_RAW) && (s->opts.flags & POKETRACE_LINK_TYPED))
		return pt_error(EINVAL, "a link is typed or raw, not both");
	return 0;
}

static struct poketrace_link *make_link(const struct poketrace_link_spec *sp, struct hook *h)
{
	struct poketrace_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->kind = sp->kind;
	l->handler = sp->handler;
	l->data = sp->opts.data;
	l->priority = sp->opts.priority;
	l->flags = sp->opts.flags;
	l->seq = ++link_seq;
	l->symbol = strdup(h->symbol);
	l->module = strdup(h->module);
	if (!l->symbol || !l->module) {
		link_free(l);
		return NULL;
	}
	l->fn.addr = h->func;
	l->fn.site = h->site;
	l->body = h->body;
	l->fn.symbol = l->symbol;
	l->fn.module = l->module;
	return l;
}

static bool has_replace(const struct hook *h)
{
	for (const struct poketrace_link *l = h->links; l; l = l->next)
		if (l->kind == POKETRACE_REPLACE)
			return true;
	return false;
}

static void undo(struct poketrace_link_spec *specs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct poketrace_link *l = specs[i].link;
		struct hook *h = l ? l->hook : NULL;

		if (!l)
			continue;
		if (h)
			unlink_from(h, l);
		hooks_drop_if_empty(h);
		link_free(l);
		specs[i].link = NULL;
	}
}

/* Detaches links[] and attaches specs[] in one batch; all or nothing. */
/* out, for one spec: where the caller keeps the link, written before the
 * batch makes it live, so that its handler, running at once in another
 * thread, finds it there (a replacement's poketrace_link_original). */
static int links_change(struct poketrace_link **links, size_t nd, struct poketrace_link_spec *specs,
			size_t n, struct poketrace_link **out)
{
	struct touched t = { 0 };
	struct ptrset seen = { 0 };
	struct hook **owner;
	int r = 0;

	if ((!specs && n) || (!links && nd))
		return pt_error(EINVAL, "poketrace_links_update: NULL array");
	for (size_t i = 0; i < nd; i++)
		if (!links[i])
			return pt_error(EINVAL, "poketrace_links_update: link %zu is NULL", i);
	for (size_t i = 0; i < n; i++) {
		specs[i].link = NULL;
		if ((r = check_spec(&specs[i])) < 0)
			return r;
	}
	if ((r = engine_enter_change()) < 0)
		return r;
	/* a set, not a pairwise check: detaching a whole selection lists
	 * tens of thousands of links */
	for (size_t i = 0; i < nd && r == 0; i++) {
		if (ptrset_has(&seen, links[i]))
			r = pt_error(EINVAL, "link %zu is listed twice", i);
		else if (!ptrset_has(&live, links[i]))
			r = pt_error(ENOENT, "link %zu (%p) is not attached (detached already?)", i,
				     (void *)links[i]);
		else if (ptrset_add(&seen, links[i]) < 0)
			r = pt_error(ENOMEM, "out of memory");
	}
	free(seen.slot);
	if (r < 0) {
		engine_leave();
		return r;
	}
	hooks_sync();
	owner = calloc(nd ? nd : 1, sizeof(*owner));
	if (!owner) {
		engine_leave();
		return pt_error(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nd && r == 0; i++) {
		struct hook *h = links[i]->hook;

		owner[i] = h;
		if (h) {
			r = touched_add(&t, h);
			unlink_from(h, links[i]);
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct poketrace_link_spec *sp = &specs[i];
		uintptr_t site = sp->addr;
		struct pt_site *s;
		struct hook *h;

		if (sp->func && (r = find_by_name(sp->func, &site)) < 0)
			break;
		if ((r = patch_resolve(site, true, &s)) < 0)
			break;
		if (!(h = hooks_get(s->addr, true))) {
			r = pt_error(ENOMEM, "out of memory");
			break;
		}
		if (sp->kind == POKETRACE_REPLACE && has_replace(h)) {
			r = pt_error(EBUSY, "%s is replaced already: detach that replace link first",
				     h->symbol);
			hooks_drop_if_empty(h);
			break;
		}
		if (!(sp->link = make_link(sp, h)) || touched_add(&t, h) < 0 ||
		    ptrset_add(&live, sp->link) < 0) {
			r = pt_error(ENOMEM, "out of memory");
			hooks_drop_if_empty(h);
			break;
		}
		insert(h, sp->link);
	}
	if (out)
		__atomic_store_n(out, r == 0 ? specs[0].link : NULL, __ATOMIC_RELEASE);
	if (r == 0)
		r = hooks_apply(t.v, t.n);
	touched_clear(&t); /* before undo, which may free hooks */
	if (r < 0) {
		if (out)
			*out = NULL;
		undo(specs, n);
		/* Nothing changed: put the detached links back. */
		for (size_t i = 0; i < nd; i++)
			if (owner[i] && !links[i]->hook)
				insert(owner[i], links[i]);
	} else {
		for (size_t i = 0; i < nd; i++)
			link_free(links[i]);
	}
	free(owner);
	engine_leave();
	return r;
}

POKETRACE_API int poketrace_links_update(struct poketrace_link **links, size_t nd,
					 struct poketrace_link_spec *specs, size_t n)
{
	return links_change(links, nd, specs, n, NULL);
}

POKETRACE_API int poketrace_links_attach(struct poketrace_link_spec *specs, size_t n)
{
	return links_change(NULL, 0, specs, n, NULL);
}

POKETRACE_API int poketrace_links_detach(struct poketrace_link **links, size_t n)
{
	if (!links && n)
		return pt_error(EINVAL, "poketrace_links_detach: links is NULL");
	return poketrace_links_update(links, n, NULL, 0);
}

POKETRACE_API int poketrace_link_attach_addr(enum poketrace_link_kind kind, uintptr_t addr, void *handler,
					     const struct poketrace_link_opts *opts,
					     struct poketrace_link **out)
{
	struct poketrace_link_spec s = { kind, NULL, addr, handler, { 0 }, NULL };
	int r;

	if (!out)
		return pt_error(EINVAL, "poketrace_link_attach: out is NULL");
	if (opts)
		s.opts = *opts;
	if (!addr)
		return pt_error(EINVAL, "%s link: address 0", kind_name(kind));
	if ((r = links_change(NULL, 0, &s, 1, out)) < 0)
		*out = NULL;
	return r;
}

POKETRACE_API int poketrace_link_attach(enum poketrace_link_kind kind, const char *func, void *handler,
					const struct poketrace_link_opts *opts, struct poketrace_link **out)
{
	struct poketrace_link_spec s = { kind, func, 0, handler, { 0 }, NULL };
	int r;

	if (!out)
		return pt_error(EINVAL, "poketrace_link_attach: out is NULL");
	if (!func)
		return pt_error(EINVAL, "poketrace_link_attach: the function name is NULL");
	if (opts)
		s.opts = *opts;
	if ((r = links_change(NULL, 0, &s, 1, out)) < 0)
		*out = NULL;
	return r;
}

POKETRACE_API int poketrace_link_detach(struct poketrace_link *link)
{
	if (!link)
		return pt_error(EINVAL, "poketrace_link_detach: link is NULL");
	return poketrace_links_detach(&link, 1);
}

POKETRACE_API void *poketrace_link_original(const struct poketrace_link *link)
{
	return link ? (void *)link->body : NULL;
}

POKETRACE_API const struct poketrace_fn *poketrace_link_fn(const struct poketrace_link *link)
{
	return link ? &link->fn : NULL;
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

POKETRACE_API int poketrace_quiesce(int timeout_ms)
{
	struct timespec pause = { 0, 1000000 };
	/* by the clock: one look at every thread's stack may take long */
	long long end = ms_now() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		int left, r = engine_enter_change();

		if (r < 0)
			return r;
		left = reclaim_try(true);
		engine_leave();
		if (!left)
			return 0;
		if (timeout_ms >= 0 && ms_now() >= end)
			return pt_error(ETIMEDOUT, "%d retired trampoline(s) may still be in use: a thread "
					"is inside one (or running, so it could not be checked)", left);
		nanosleep(&pause, NULL);
	}
}
