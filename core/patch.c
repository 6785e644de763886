/* Changing sites: the public batch API on top of the poke engine.  Every
 * site must be one the table knows and may patch; the batch is committed
 * while the modules are pinned (sites_pinned), and the table records what
 * was written so the next change knows what to expect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/poke.h"
#include "base/error.h"
#include "core/engine.h"
#include "core/hooks.h"
#include "core/patch.h"
#include "core/relsite.h"
#include "core/sites.h"
#include "poketrace.h"

struct poketrace_batch {
	struct poke_entry *v;
	size_t n, cap;
};

POKETRACE_API int poketrace_encode(enum poketrace_insn_kind insn, uintptr_t site,
				   const void *target, uint8_t out[5])
{
	enum insn_kind k = insn == POKETRACE_INSN_CALL ? INSN_CALL
			   : insn == POKETRACE_INSN_JMP ? INSN_JMP
			   : insn == POKETRACE_INSN_NOP ? INSN_NOP5 : INSN_INVALID;
	int r;

	if (!out || k == INSN_INVALID || (k != INSN_NOP5 && !target))
		return pt_error(EINVAL, "poketrace_encode: bad instruction kind, or NULL target/out");
	r = insn_encode(k, site, (uintptr_t)target, out);
	if (r == -ERANGE)
		return pt_error(ERANGE, "target %p is out of rel32 reach (±2 GiB) of site %#lx: "
				"allocate it with poketrace_execmem_alloc(site, ...)", target,
				(unsigned long)site);
	return r;
}

int patch_resolve(uintptr_t addr, bool hooks_ok, struct pt_site **out)
{
	struct pt_module *m;
	struct pt_site *s = sites_find(addr, &m);

	/* links and ops (not direct patching) make a site where none is */
	if (!s && m && hooks_ok && m->elf.nsyms)
		return relsite_make(m, addr, out);
	if (!s) {
		if (m)
			return pt_error(ENOENT, "%#lx is not a patch site: %s has %s", (unsigned long)addr,
					m->path, m->nsites ? "no site there (give a function's address)"
							   : "no patch sites (build it with clang "
							     "-fpatchable-function-entry=5 or gcc -pg "
							     "-mfentry -mnop-mcount -mrecord-mcount)");
		if (sites_unreadable_at(addr))
			return pt_error(ENOENT, "%#lx is not a known patch site: %s", (unsigned long)addr,
					sites_unreadable_at(addr));
		return pt_error(ENOENT, "%#lx is not a patch site: it is in no loaded module "
				"(was its module unloaded?)", (unsigned long)addr);
	}
	if (s->flags & POKETRACE_SITE_UNPATCHABLE)
		return pt_error(EPERM, "site %#lx (%s) cannot be patched: %s", (unsigned long)s->addr,
				s->symbol ? s->symbol : "?", site_reason_text(s->reason));
	if (!hooks_ok && (s->flags & SITE_HOOKED))
		return pt_error(EBUSY, "site %#lx (%s) belongs to poketrace links or ops: detach "
				"them before patching it directly", (unsigned long)s->addr,
				s->symbol ? s->symbol : "?");
	*out = s;
	return 0;
}

struct commit_ctx {
	struct poke_entry *v;
	size_t n;
	struct poke_result res;
};

static int commit_pinned(void *arg)
{
	struct commit_ctx *c = arg;

	return poke_commit(c->v, c->n, &c->res);
}

/* The table follows what a batch wrote (or put back). */
static void record_written(struct poke_entry *v, size_t n, bool undone)
{
	for (size_t i = 0; i < n; i++) {
		struct pt_site *s = v[i].cookie; /* resolved under this lock hold */
		const uint8_t *b = undone ? v[i].old : v[i].new;

		if (!s)
			continue; /* not a site: code inside an image */
		memcpy(s->cur, b, INSN_SITE_LEN);
		if (insn_is_nop5(b))
			s->flags &= ~POKETRACE_SITE_PATCHED;
		else
			s->flags |= POKETRACE_SITE_PATCHED;
	}
}

void patch_init(void)
{
	poke_orphan_done = record_written;
}

int patch_commit_entries(struct poke_entry *v, size_t n, struct poketrace_batch_stats *stats, bool *began)
{
	struct commit_ctx c = { v, n, { 0 } };
	int r = sites_pinned(commit_pinned, &c);

	if (began)
		*began = c.res.began;
	if (r == -EAGAIN)
		return pt_error(EAGAIN, "modules were loaded or unloaded while the batch was "
				"prepared; nothing was written, try again");
	if (r == 0)
		record_written(v, n, false);
	if (stats) {
		memset(stats, 0, sizeof(*stats));
		stats->sites = c.res.sites;
		stats->syncs = c.res.syncs;
		stats->ranges = c.res.ranges;
		stats->mprotects = c.res.mprotects;
		stats->traps = c.res.traps;
		stats->ns = c.res.ns;
	}
	return r;
}

/* The table may be rebuilt between a batch's preparation and its commit
 * (dlopen/dlclose in another thread): prepare and commit under one hold of
 * the lock, and retry the pair if the module set changed in between. */
static int prepare_and_commit(int (*prepare)(const void *src, size_t n, struct poke_entry *v),
			      const void *src, size_t n, struct poketrace_batch_stats *stats)
{
	struct poke_entry *v;
	int r;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return pt_error(ENOMEM, "out of memory for %zu sites", n);
	if ((r = engine_enter_change()) < 0) {
		free(v);
		return r;
	}
	for (int tries = 0; tries < 8; tries++) {
		if ((r = prepare(src, n, v)) < 0)
			break;
		r = patch_commit_entries(v, n, stats, NULL);
		if (r != -EAGAIN || (r = sites_sync()) < 0)
			break;
		r = -EAGAIN;
	}
	engine_leave();
	free(v);
	return r;
}

static int prepare_patches(const void *src, size_t n, struct poke_entry *v)
{
	const struct poketrace_patch *p = src;

	for (size_t i = 0; i < n; i++) {
		struct pt_site *s;
		int r = patch_resolve(p[i].site, false, &s);

		if (r < 0)
			return r;
		if (p[i].insn == POKETRACE_INSN_NOP) {
			memcpy(v[i].new, s->nop, INSN_SITE_LEN);
		} else if ((r = poketrace_encode(p[i].insn, s->addr, p[i].target, v[i].new)) < 0) {
			return pt_error_ctx(r, "site %s", s->symbol ? s->symbol : "?");
		}
		v[i].addr = s->addr;
		v[i].cookie = s;
		memcpy(v[i].old, s->cur, INSN_SITE_LEN);
	}
	return 0;
}

POKETRACE_API int poketrace_patch(const struct poketrace_patch *patches, size_t n,
				  struct poketrace_batch_stats *stats)
{
	if (!patches && n)
		return pt_error(EINVAL, "poketrace_patch: patches is NULL");
	pt_error_clear();
	return prepare_and_commit(prepare_patches, patches, n, stats);
}

POKETRACE_API struct poketrace_batch *poketrace_batch_new(void)
{
	struct poketrace_batch *b = calloc(1, sizeof(*b));

	if (!b)
		pt_error(ENOMEM, "out of memory");
	return b;
}

POKETRACE_API int poketrace_batch_add(struct poketrace_batch *b, uintptr_t site,
				      const uint8_t expect[5], const uint8_t bytes[5])
{
	uintptr_t t;

	if (!b || !expect || !bytes)
		return pt_error(EINVAL, "poketrace_batch_add: NULL argument");
	if (insn_decode(bytes, site, &t) == INSN_INVALID)
		return pt_error(EINVAL, "poketrace_batch_add: the new bytes for %#lx are not a "
				"5-byte nop, call rel32 or jmp rel32", (unsigned long)site);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct poke_entry *nv = realloc(b->v, cap * sizeof(*nv));

		if (!nv)
			return pt_error(ENOMEM, "out of memory");
		b->v = nv;
		b->cap = cap;
	}
	memset(&b->v[b->n], 0, sizeof(b->v[b->n]));
	b->v[b->n].addr = site;
	memcpy(b->v[b->n].old, expect, INSN_SITE_LEN);
	memcpy(b->v[b->n].new, bytes, INSN_SITE_LEN);
	b->n++;
	return 0;
}

static int prepare_raw(const void *src, size_t n, struct poke_entry *v)
{
	const struct poke_entry *in = src;

	for (size_t i = 0; i < n; i++) {
		struct pt_site *s;
		int r = patch_resolve(in[i].addr, false, &s);

		if (r < 0)
			return r;
		if (s->addr != in[i].addr)
			return pt_error(EINVAL, "%#lx is a function address; the raw batch needs the "
					"site itself, %#lx", (unsigned long)in[i].addr,
					(unsigned long)s->addr);
		v[i] = in[i];
		v[i].cookie = s;
	}
	return 0;
}

POKETRACE_API int poketrace_batch_commit(struct poketrace_batch *b, struct poketrace_batch_stats *stats)
{
	if (!b)
		return pt_error(EINVAL, "poketrace_batch_commit: batch is NULL");
	pt_error_clear();
	return prepare_and_commit(prepare_raw, b->v, b->n, stats);
}

POKETRACE_API void poketrace_batch_free(struct poketrace_batch *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}
