/* Hooked sites.  Each site with anything attached gets, per change, a new
 * target:
 *   only a REPLACE link         -> jmp replacement (no image)
 *   only ops, exactly one       -> call stub -> that ops' shared trampoline
 *   only ops, several           -> call stub -> the list trampoline, which
 *                                  walks the stub's immutable ops list
 *   any other link              -> call image (entry handlers only) or
 *                                  jmp image (the image calls the body)
 * Shared trampolines are per (ops, module), within rel32 reach of it.  Old
 * images and stubs are retired after their batch and reclaimed once no
 * thread can be in them (reclaim.c). */
#include "core/hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/insn.h"
#include "base/error.h"
#include "core/guard.h"
#include "core/pad.h"
#include "core/patch.h"
#include "core/reclaim.h"
#include "core/relsite.h"

static unsigned sites_gen;

/* ------------------------------------------------------- site -> hook map */

static struct {
	struct hook **slot; /* NULL empty, TOMB deleted */
	size_t cap, used, n;
} map;
#define TOMB ((struct hook *)1)

static size_t hash(uintptr_t a)
{
	return (size_t)((a * 0x9e3779b97f4a7c15ULL) >> 17);
}

static struct hook **map_find(uintptr_t site)
{
	if (!map.cap)
		return NULL;
	for (size_t i = hash(site) & (map.cap - 1);; i = (i + 1) & (map.cap - 1)) {
		struct hook *h = map.slot[i];

		if (!h)
			return NULL;
		if (h != TOMB && h->site == site)
			return &map.slot[i];
	}
}

static int map_put(struct hook *h)
{
	if ((map.used + 1) * 2 > map.cap) {
		size_t cap = map.cap ? map.cap * 2 : 256;
		struct hook **old = map.slot, **nv = calloc(cap, sizeof(*nv));
		size_t oldcap = map.cap;

		if (!nv)
			return -ENOMEM;
		map.slot = nv;
		map.cap = cap;
		map.used = map.n = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i] && old[i] != TOMB)
				map_put(old[i]);
		free(old);
	}
	for (size_t i = hash(h->site) & (map.cap - 1);; i = (i + 1) & (map.cap - 1)) {
		if (!map.slot[i] || map.slot[i] == TOMB) {
			map.used += !map.slot[i];
			map.slot[i] = h;
			map.n++;
			return 0;
		}
	}
}

/* ------------------------------------------------------------------ hooks */

int hooks_init(void)
{
	return guard_init();
}

uint64_t hooks_recursion_misses(void)
{
	return guard_misses();
}

struct hook *hooks_get(uintptr_t site, bool create)
{
	struct hook **p = map_find(site), *h;
	struct pt_module *m;
	struct pt_site *s;

	if (p)
		return *p;
	if (!create || !(s = sites_find(site, &m)))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->site = s->addr;
	h->func = s->func;
	h->body = relsite_body(s);
	h->symbol = strdup(s->symbol ? s->symbol : "?");
	h->module = strdup(m->path);
	h->module_vaddr = s->func - m->bias;
	memcpy(h->written, s->cur, INSN_SITE_LEN);
	if (!h->symbol || !h->module || map_put(h) < 0) {
		free(h->symbol);
		free(h->module);
		free(h);
		return NULL;
	}
	return h;
}

static bool empty(const struct hook *h)
{
	return !h->links && !h->nops;
}

static void image_release(struct image *im, bool published);

static void hook_free(struct hook *h)
{
	struct hook **p = map_find(h->site);

	if (p) {
		*p = TOMB;
		map.n--;
	}
	if (h->img)
		image_release(h->img, true);
	free(h->ops);
	free(h->symbol);
	free(h->module);
	free(h);
}

void hooks_drop_if_empty(struct hook *h)
{
	if (h && empty(h) && !h->img)
		hook_free(h);
}

/* A module was unloaded (or unloaded and loaded again at the same place):
 * its hooks are void.  Links stay valid objects, detached. */
void hooks_sync(void)
{
	unsigned gen = sites_generation();

	if (gen == sites_gen)
		return;
	sites_gen = gen;
	for (size_t i = 0; i < map.cap; i++) {
		struct hook *h = map.slot[i];
		struct pt_site *s;

		if (!h || h == TOMB)
			continue;
		s = sites_find(h->site, NULL);
		if (s && !memcmp(s->cur, h->written, INSN_SITE_LEN))
			continue;
		for (struct poketrace_link *l = h->links; l; l = l->next)
			l->hook = NULL;
		h->links = NULL;
		for (size_t k = 0; k < h->nops; k++) {
			struct poketrace_ops *o = h->ops[k];

			for (size_t j = 0; j < o->nsites; j++)
				if (o->sites[j] == h->site)
					o->sites[j] = 0; /* compacted by ops.c */
		}
		h->nops = 0;
		proto_forget(h->module);
		hook_free(h);
	}
}

int touched_add(struct touched *t, struct hook *h)
{
	if (h->touched)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct hook **nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	h->touched = true;
	t->v[t->n++] = h;
	return 0;
}

void touched_clear(struct touched *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]) /* NULL: freed by hooks_apply */
			t->v[i]->touched = false;
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------- shared ops trampolines */

struct shared {
	struct poketrace_ops *ops; /* NULL: the list trampoline */
	char *module;
	struct image *img;
	struct shared *next;
};

static struct shared *shared_list;
static struct image **shared_imgs;
static size_t nshared_imgs;

static void ops_list_walk(struct poketrace_ctx *ctx)
{
	const struct stub_info *si = (const struct stub_info *)ctx->fn;

	for (uint32_t i = 0; i < si->nops; i++) {
		ctx->data = si->ops[i].data;
		si->ops[i].fn(ctx);
	}
}

static void shared_index(void)
{
	size_t n = 0;

	for (struct shared *s = shared_list; s; s = s->next)
		n++;
	free(shared_imgs);
	shared_imgs = calloc(n ? n : 1, sizeof(*shared_imgs));
	nshared_imgs = 0;
	for (struct shared *s = shared_list; s && shared_imgs; s = s->next)
		shared_imgs[nshared_imgs++] = s->img;
}

struct image *const *reclaim_shared_tramps(size_t *n)
{
	*n = nshared_imgs;
	return shared_imgs;
}

static int shared_for(struct poketrace_ops *ops, const struct hook *h, uintptr_t *out)
{
	struct tramp_handler th = { ops ? (void *)ops->fn : (void *)ops_list_walk, ops ? ops->data : NULL,
				    TH_CTX };
	struct tramp_spec spec = { 0 };
	struct shared *s;
	int r;

	for (s = shared_list; s; s = s->next) {
		if (s->ops == ops && !strcmp(s->module, h->module)) {
			*out = s->img->code;
			return 0;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->module = strdup(h->module))) {
		free(s);
		return pt_error(ENOMEM, "out of memory");
	}
	spec.nint = 6;
	spec.nsse = 8;
	spec.save_rax = true;
	spec.save_r10 = true;
	spec.full_vec = true;
	spec.fn_in_r11 = true;
	spec.entry = &th;
	spec.nentry = 1;
	guard_spec(&spec);
	if ((r = image_new_tramp(&spec, NULL, ops ? "ops" : "ops_list", h->site, &s->img)) < 0) {
		free(s->module);
		free(s);
		return r;
	}
	s->ops = ops;
	s->next = shared_list;
	shared_list = s;
	shared_index();
	*out = s->img->code;
	return 0;
}

void hooks_forget_ops(struct poketrace_ops *ops)
{
	for (struct shared **p = &shared_list; *p;) {
		struct shared *s = *p;

		if (s->ops != ops) {
			p = &s->next;
			continue;
		}
		*p = s->next;
		reclaim_retire(s->img);
		free(s->module);
		free(s);
	}
	shared_index();
}

/* ----------------------------------------------- shared typed-entry images */

/* Functions whose images would be the same code share one: only typed fentry
 * handlers (no ctx, so no per-function data), the same handlers in the same
 * order, the same argument registers and stack-argument bytes, and the same
 * module (rel32 reach).  1,000 functions hooked by one typed handler then
 * fill one image's worth of instruction cache, not 1,000 (bench: 2.6 ns per
 * call with an image each, 1.0 for 1,000 sites calling one `ret`).  Counted
 * by the hooks using it; retired when the last one stops. */
struct share_key {
	int nint, nsse, n;
	bool save_rax, save_r10, full_vec, save_xmm_hi, stack_dynamic;
	size_t stack_bytes, stack_align, stack_dynamic_bytes;
};

struct typed_share {
	struct image *img;
	char *module;
	struct share_key key;
	void **fns;
	unsigned refs;
	struct typed_share *next;
};

static struct typed_share *typed_shares;

static bool typed_only(const struct tramp_spec *sp)
{
	if (sp->call_orig || sp->tail || sp->nmodret || sp->nexit || !sp->nentry)
		return false;
	for (int i = 0; i < sp->nentry; i++)
		if (sp->entry[i].kind != TH_TYPED)
			return false;
	return true;
}

static struct share_key key_of(const struct tramp_spec *sp)
{
	struct share_key k;

	memset(&k, 0, sizeof(k)); /* compared with memcmp: no padding garbage */
	k.nint = sp->nint;
	k.nsse = sp->nsse;
	k.n = sp->nentry;
	k.save_rax = sp->save_rax;
	k.save_r10 = sp->save_r10;
	k.full_vec = sp->full_vec;
	k.save_xmm_hi = sp->save_xmm_hi;
	k.stack_dynamic = sp->stack_dynamic;
	k.stack_bytes = sp->stack_bytes;
	k.stack_align = sp->stack_align;
	k.stack_dynamic_bytes = sp->stack_dynamic_bytes;
	return k;
}

static bool share_matches(const struct typed_share *t, const struct tramp_spec *sp, const char *module)
{
	struct share_key k = key_of(sp);

	if (memcmp(&t->key, &k, sizeof(k)) || strcmp(t->module, module))
		return false;
	for (int i = 0; i < t->key.n; i++)
		if (t->fns[i] != sp->entry[i].fn)
			return false;
	return true;
}

/* The shared image for spec, made if need be; NULL on failure or when it is
 * out of reach of site (the caller then makes one of its own). */
static struct image *typed_share_get(const struct tramp_spec *sp, const char *module, uintptr_t site)
{
	struct typed_share *t;
	uint8_t probe[INSN_SITE_LEN];

	for (t = typed_shares; t; t = t->next) {
		if (!share_matches(t, sp, module))
			continue;
		if (insn_encode(INSN_CALL, site, t->img->code, probe) < 0)
			return NULL;
		t->refs++;
		return t->img;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->module = strdup(module)) || !(t->fns = calloc((size_t)sp->nentry, sizeof(void *))) ||
	    image_new_tramp((struct tramp_spec *)sp, NULL, "typed_shared", site, &t->img) < 0) {
		if (t) {
			free(t->fns);
			free(t->module);
		}
		free(t);
		return NULL;
	}
	t->key = key_of(sp);
	for (int i = 0; i < t->key.n; i++)
		t->fns[i] = sp->entry[i].fn;
	t->refs = 1;
	t->next = typed_shares;
	typed_shares = t;
	return t->img;
}

/* A hook stops using im; when no hook uses it any more, it is retired if it
 * was published (its sites may still be running through it) or discarded
 * (a failed batch: never published; a shared image that other hooks use
 * keeps their counts, so it never gets here). */
static void image_release(struct image *im, bool published)
{
	for (struct typed_share **p = &typed_shares; *p; p = &(*p)->next) {
		struct typed_share *t = *p;

		if (t->img != im)
			continue;
		if (--t->refs)
			return;
		*p = t->next;
		free(t->fns);
		free(t->module);
		free(t);
		break;
	}
	if (published)
		reclaim_retire(im);
	else
		image_discard(im);
}

/* ------------------------------------------------------------------ plans */

static void describe(const struct hook *h, const struct tramp_spec *spec, struct fn_desc *d)
{
	d->addr = h->func;
	d->site = h->site;
	d->symbol = h->symbol;
	d->module = h->module;
	d->nargs = (uint8_t)spec->nint;
	d->nfargs = (uint8_t)spec->nsse;
	d->flags = (uint8_t)((h->proto.known ? POKETRACE_FN_PROTO : 0) |
			     (h->proto.varargs ? POKETRACE_FN_VARARGS : 0) |
			     (spec->stack_bytes || spec->stack_dynamic ? POKETRACE_FN_STACK_ARGS : 0) |
			     (h->proto.certain && h->proto.ret_sse ? POKETRACE_FN_RET_SSE : 0) |
			     (!spec->full_vec ? POKETRACE_FN_EXACT : 0));
}

/* What the image saves.  Only a certain prototype (proto.h) trims it;
 * otherwise every argument register, rax (al of a variadic call), r10 (a
 * nested function's static chain), xmm0-7 at the width in use, and for a
 * call to the body a copy of the caller's stack read safely, and every
 * return register.  Ops see every register (their ctx promises all six
 * and eight), so a site with ops takes the full set too. */
static void regs_for(const struct hook *h, bool typed, struct tramp_spec *spec)
{
	const struct pt_proto *p = &h->proto;

	/* The return side by the prototype alone: a call returns through the
	 * exit path current then (pad.c), whose image may differ in ops. */
	if (p->certain) {
		spec->ret_regs = p->ret_regs;
		spec->ret_full = false;
	} else {
		spec->ret_full = true;
		spec->ret_regs = TRAMP_RET_ALL;
	}
	if (p->certain && !h->nops) {
		spec->nint = p->nint;
		spec->nsse = p->nsse;
		spec->stack_bytes = p->stack_bytes;
		spec->stack_align = p->stack_align;
		return;
	}
	spec->nint = 6;
	spec->nsse = 8;
	spec->save_rax = true;
	spec->save_r10 = true;
	spec->full_vec = true;
	spec->save_xmm_hi = p->maybe_ms;
	spec->stack_dynamic = spec->call_orig || typed;
	/* the named arguments' bound (+ an ms_abi home area), or that and
	 * TRAMP_DYNAMIC_STACK_COPY more where nothing bounds them */
	spec->stack_dynamic_bytes = p->stack_upper + (p->upper_bounds ? 32 : TRAMP_DYNAMIC_STACK_COPY);
	spec->stack_align = 64;
}

/* Links the prototype forbids, refused before anything is built. */
static int refuse(const struct hook *h, int nmodret)
{
	if (h->proto.cc == PROTO_CC_UNSUPPORTED)
		return pt_error(ENOTSUP, "%s uses a calling convention poketrace does not know "
				"(DW_AT_calling_convention %#x): it cannot be hooked", h->symbol, h->proto.cc_value);
	if (nmodret && h->proto.certain && h->proto.ret_x87)
		return pt_error(EINVAL, "fmod_ret on %s: it returns a long double in the x87 st0 register, "
				"which an override cannot set; use an fexit link to see the value", h->symbol);
	return 0;
}

static void proto_of(struct hook *h, const struct pt_module *m)
{
	if (h->proto_done)
		return;
	proto_lookup(m, h->module_vaddr, h->symbol, &h->proto);
	h->proto_done = true;
}

static int plan_image(struct hook *h, const struct pt_module *m, const struct pt_site *s, struct image **img,
		      uint8_t bytes[5])
{
	struct tramp_handler *th;
	struct tramp_spec spec = { 0 };
	struct poketrace_link *repl = NULL;
	struct fn_desc d;
	size_t n = h->nops;
	int ne = 0, nm = 0, nx = 0, r;
	bool typed = false;

	for (struct poketrace_link *l = h->links; l; l = l->next)
		n++;
	th = calloc(n, sizeof(*th));
	if (!th)
		return pt_error(ENOMEM, "out of memory");
	/* Entry handlers: ops first, then fentry links; then fmod_ret; then fexit. */
	for (size_t i = 0; i < h->nops; i++)
		th[ne++] = (struct tramp_handler){ (void *)h->ops[i]->fn, h->ops[i]->data, TH_CTX };
	for (struct poketrace_link *l = h->links; l; l = l->next) {
		if (l->kind != POKETRACE_FENTRY)
			continue;
		typed |= (l->flags & POKETRACE_LINK_TYPED) != 0;
		th[ne++] = (struct tramp_handler){ l->handler, l->data,
						   (l->flags & POKETRACE_LINK_TYPED) ? TH_TYPED
						   : (l->flags & POKETRACE_LINK_RAW) ? TH_RAW : TH_CTX };
	}
	for (struct poketrace_link *l = h->links; l; l = l->next)
		if (l->kind == POKETRACE_FMOD_RET)
			th[ne + nm++] = (struct tramp_handler){ l->handler, l->data, TH_MODRET };
	for (struct poketrace_link *l = h->links; l; l = l->next) {
		if (l->kind == POKETRACE_FEXIT)
			th[ne + nm + nx++] = (struct tramp_handler){ l->handler, l->data,
								     (l->flags & POKETRACE_LINK_RAW) ? TH_RAW : TH_CTX,
								     l->seq };
		if (l->kind == POKETRACE_REPLACE)
			repl = l;
		spec.gen = l->seq > spec.gen ? l->seq : spec.gen;
	}
	proto_of(h, m);
	if ((r = refuse(h, nm)) < 0) {
		free(th);
		return r;
	}
	spec.entry = th;
	spec.nentry = ne;
	spec.modret = th + ne;
	spec.nmodret = nm;
	spec.exit = th + ne + nm;
	spec.nexit = nx;
	/* A relocated entry's site holds no instruction to return to: its
	 * image calls the body (the copy) and returns from it when there is
	 * something to do after, and otherwise jumps to it (tail), the
	 * caller's return address where the call put it. */
	spec.call_orig = nm || nx || repl;
	spec.tail = !spec.call_orig && s->rel;
	/* A function without a patch site may have been built with gcc's
	 * -fipa-ra (on at -O2; off where there is a site): its callers in the
	 * same unit keep values in the registers it does not write. */
	spec.keep_all = s->rel != NULL;
	spec.keep_entry = spec.keep_all && repl; /* a replacement may write any */
	spec.orig = repl ? (uintptr_t)repl->handler : relsite_body(s);
	if (spec.call_orig &&
	    (r = pad_for(h->site, spec.orig, h->symbol, guard_personality(), &spec.pad)) < 0) {
		free(th);
		return r;
	}
	regs_for(h, typed, &spec);
	guard_spec(&spec);
	describe(h, &spec, &d);
	/* what poketrace_link_fn says: the same as a handler's ctx->fn */
	for (struct poketrace_link *l = h->links; l; l = l->next) {
		l->fn.nargs = d.nargs;
		l->fn.nfargs = d.nfargs;
		l->fn.flags = d.flags;
	}
	/* Typed-only images build no ctx: they need no poketrace_fn. */
	if (typed_only(&spec) && (*img = typed_share_get(&spec, h->module, h->site)))
		r = 0;
	else
		r = image_new_tramp(&spec, tramp_needs_ctx(&spec) ? &d : NULL, h->symbol, h->site, img);
	free(th);
	if (r < 0)
		return r;
	return insn_encode(spec.call_orig || spec.tail ? INSN_JMP : INSN_CALL, h->site, (*img)->code, bytes) < 0
		       ? pt_error(ERANGE, "trampoline out of reach of %s", h->symbol)
		       : 0;
}

/* What the site should hold now, and the new image or stub it needs. */
static int plan(struct hook *h, const struct pt_module *m, const struct pt_site *s, struct image **img,
		uint8_t bytes[5])
{
	struct poketrace_link *l = h->links;
	uintptr_t shared = 0;
	struct fn_desc d;
	struct tramp_spec none = { 0 };
	struct ops_pair *pairs;
	int r;

	*img = NULL;
	if (empty(h)) {
		memcpy(bytes, s->nop, INSN_SITE_LEN);
		return 0;
	}
	/* (a relocated function's replacement goes through an image too: its
	 * callers may count on the registers the function itself keeps) */
	if (!h->nops && l && !l->next && l->kind == POKETRACE_REPLACE && !s->rel) {
		proto_of(h, m);
		if ((r = refuse(h, 0)) < 0)
			return r;
		return insn_encode(INSN_JMP, h->site, (uintptr_t)l->handler, bytes) < 0
			       ? pt_error(ERANGE, "replacement %p is out of rel32 reach of %s: place it "
					  "in the same module or in poketrace_execmem_alloc memory",
					  l->handler, h->symbol)
			       : 0;
	}
	if (h->links || s->rel)
		return plan_image(h, m, s, img, bytes);
	if ((r = shared_for(h->nops == 1 ? h->ops[0] : NULL, h, &shared)) < 0)
		return r;
	pairs = calloc(h->nops, sizeof(*pairs));
	if (!pairs)
		return pt_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < h->nops; i++)
		pairs[i] = (struct ops_pair){ h->ops[i]->fn, h->ops[i]->data };
	none.nint = 6;
	none.nsse = 8;
	none.full_vec = true;
	describe(h, &none, &d);
	r = image_new_stub(shared, &d, pairs, h->nops > 1 ? (uint32_t)h->nops : 0, h->site, img);
	free(pairs);
	if (r < 0)
		return r;
	return insn_encode(INSN_CALL, h->site, (*img)->code, bytes) < 0
		       ? pt_error(ERANGE, "stub out of reach of %s", h->symbol)
		       : 0;
}

/* A relocated entry's change: on the side that is the function's own
 * bytes, a thread trapping runs their copy (poke.c).  false: no change. */
static bool relocated_side(struct poke_entry *e, const struct pt_site *s)
{
	bool was = !memcmp(e->old, s->nop, INSN_SITE_LEN), will = !memcmp(e->new, s->nop, INSN_SITE_LEN);

	if (was && will)
		return false;
	e->orig = was ? POKE_ORIG_OLD : will ? POKE_ORIG_NEW : POKE_ORIG_NONE;
	e->copy = s->rel->copy;
	e->plan = &s->rel->plan;
	return true;
}

/* Room for m more entries in *v. */
static int entries_reserve(struct poke_entry **v, size_t *cap, size_t need)
{
	struct poke_entry *nv;

	if (need <= *cap)
		return 0;
	if (!(nv = realloc(*v, (need * 2) * sizeof(*nv))))
		return pt_error(ENOMEM, "out of memory");
	*v = nv;
	*cap = need * 2;
	return 0;
}

int hooks_apply(struct hook **t, size_t n)
{
	struct poke_entry *v = calloc(n + 1, sizeof(*v));
	struct image **imgs = calloc(n + 1, sizeof(*imgs));
	size_t nv = 0, cap = n + 1;
	int r = 0;

	if (!v || !imgs) {
		free(v);
		free(imgs);
		return pt_error(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct pt_module *m;
		struct pt_site *s = sites_find(t[i]->site, &m);

		if (!s) {
			r = pt_error(ENOENT, "%s: its module was unloaded", t[i]->symbol);
			break;
		}
		if ((r = entries_reserve(&v, &cap, nv + 1)) < 0)
			break;
		memset(&v[nv], 0, sizeof(v[nv]));
		if ((r = plan(t[i], m, s, &imgs[i], v[nv].new)) < 0)
			break;
		v[nv].addr = s->addr;
		v[nv].cookie = s;
		memcpy(v[nv].old, s->cur, INSN_SITE_LEN);
		if (s->rel && relocated_side(&v[nv], s))
			nv++;
		else if (!s->rel)
			nv++;
		/* calls returning from now on leave through the new exit path */
		if ((r = entries_reserve(&v, &cap, nv + pad_count(s->addr))) < 0)
			break;
		nv += pad_retarget(s->addr, imgs[i] ? imgs[i]->exit_entry : 0, v + nv);
	}
	bool began = false;

	/* every image and copy written: their chunks R-X again before any
	 * site points at them (a failure here fails the batch: no page is
	 * left writable and executable behind a success) */
	if (r == 0)
		r = image_settle();
	if (r == 0)
		r = patch_commit_entries(v, nv, NULL, &began);
	if (r < 0) {
		/* The batch rolled back; but a thread may have trapped while it
		 * was in flight and be running in a new image now: those are
		 * retired like replaced ones, not freed. */
		for (size_t i = 0; i < n; i++)
			if (imgs[i])
				image_release(imgs[i], began); /* a shared one others use keeps living */
		free(v);
		free(imgs);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct hook *h = t[i];
		struct pt_site *s = sites_find(h->site, NULL);

		pad_committed(h->site, imgs[i] ? imgs[i]->exit_entry : 0);
		if (h->img)
			image_release(h->img, true);
		h->img = imgs[i];
		memcpy(h->written, s->cur, INSN_SITE_LEN);
		if (empty(h)) {
			s->flags &= ~SITE_HOOKED;
			h->img = NULL;
			h->touched = false;
			hook_free(h);
			t[i] = NULL;
		} else {
			s->flags |= SITE_HOOKED;
		}
	}
	free(v);
	free(imgs);
	reclaim_try(reclaim_pending() >= RECLAIM_SIGNAL_AT);
	return 0;
}
