/* The live site table.
 *
 * Modules come and go with dlopen/dlclose.  glibc counts loads and unloads
 * (dl_phdr_info.dlpi_adds/dlpi_subs); every entry point compares them with
 * the counts the table was built at and rebuilds it when they differ, so the
 * table never keeps a site of an unloaded module and finds new ones.  Module
 * memory is only read or written inside dl_iterate_phdr: glibc holds its
 * loader write lock there, and dlclose must take it to unlink a module
 * before it unmaps it, so a module still on the list stays mapped. */
#include "core/sites.h"

#include <dirent.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/textwrite.h"
#include "base/error.h"

struct loaded {
	char *path;
	uintptr_t bias;
	struct pt_module *mod; /* kept, or new (built in the pinned pass) */
	struct es_file file;   /* for a new module */
	bool is_new;
};

static struct {
	struct pt_module **mods; /* sorted by lo */
	size_t n;
	unsigned long long adds, subs;
	bool built;
	unsigned generation;
} tab;

/* The site after the last one found: batches list sites in address order,
 * so most lookups are answered without a search. */
static struct {
	struct pt_module *mod;
	size_t next;
} hint;

struct collect {
	struct loaded *v;
	size_t n, cap;
	unsigned long long adds, subs;
	int err;
};

static char *main_path(void)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return strdup("");
	buf[n] = '\0';
	return strdup(buf);
}

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct collect *c = arg;
	struct loaded *l;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	if (info->dlpi_name[0] && !strchr(info->dlpi_name, '/'))
		return 0; /* the vDSO and other objects with no file: no sites */
	if (c->n == c->cap) {
		struct loaded *nv = realloc(c->v, sizeof(*nv) * (c->cap = c->cap ? c->cap * 2 : 32));

		if (!nv) {
			c->err = -ENOMEM;
			return 1;
		}
		c->v = nv;
	}
	l = &c->v[c->n];
	memset(l, 0, sizeof(*l));
	/* dlopen("dir/lib.so") keeps the relative name: resolve it now, while
	 * the working directory is the one it was opened from. */
	l->path = !info->dlpi_name[0] ? main_path()
		  : info->dlpi_name[0] == '/' ? strdup(info->dlpi_name) : realpath(info->dlpi_name, NULL);
	l->bias = info->dlpi_addr;
	if (!l->path)
		return 0; /* a relative name that no longer resolves */
	c->n++;
	return 0;
}

static int counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *v = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		v[0] = info->dlpi_adds;
		v[1] = info->dlpi_subs;
	}
	return 1;
}

static bool modules_changed(void)
{
	unsigned long long v[2] = { 0, 0 };

	dl_iterate_phdr(counts_cb, v);
	return !tab.built || v[0] != tab.adds || v[1] != tab.subs;
}

static int single_threaded(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n == 1;
}

/* Reads a pinned module's memory, only inside one of its loaded segments. */
static int read_mem(void *ctx, uintptr_t addr, void *buf, size_t n)
{
	struct loaded *l = ctx;
	const struct es_seg *seg = es_segment_for(&l->file, addr - l->bias);

	if (!seg || addr - l->bias + n > seg->vaddr + seg->memsz)
		return -EFAULT;
	memcpy(buf, (const void *)addr, n);
	return 0;
}

/* gcc's 90 x5 become one 5-byte nop while this is the only thread (the rule
 * in poketrace.h); otherwise they stay unpatchable. */
static int normalize(struct pt_module **mods, size_t n)
{
	bool alone = single_threaded();
	uintptr_t *addrs = NULL;
	size_t na = 0, cap = 0;
	struct text_session s;
	int r;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < mods[i]->nsites; j++) {
			struct pt_site *st = &mods[i]->sites[j];
			bool pending = (st->flags & SITE_NEEDS_NORMALIZE) ||
				       st->reason == POKETRACE_REASON_GCC_NOPS_THREADED;

			if (!pending)
				continue;
			if (!alone) {
				st->flags = (st->flags & ~SITE_NEEDS_NORMALIZE) | POKETRACE_SITE_UNPATCHABLE;
				st->reason = POKETRACE_REASON_GCC_NOPS_THREADED;
				continue;
			}
			if (na == cap) {
				uintptr_t *nv = realloc(addrs, sizeof(*nv) * (cap = cap ? cap * 2 : 256));

				if (!nv) {
					free(addrs);
					return pt_error(ENOMEM, "out of memory");
				}
				addrs = nv;
			}
			addrs[na++] = st->addr;
		}
	}
	if (!na)
		return 0;
	/* Sites are visited in address order within a module, modules in
	 * address order: addrs is sorted as text_open wants. */
	r = text_open(&s, addrs, na, INSN_SITE_LEN);
	free(addrs);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < mods[i]->nsites; j++) {
			struct pt_site *st = &mods[i]->sites[j];

			if (!(st->flags & SITE_NEEDS_NORMALIZE) &&
			    st->reason != POKETRACE_REASON_GCC_NOPS_THREADED)
				continue;
			if (memcmp((const void *)st->addr, insn_nop1x5, INSN_SITE_LEN) != 0) {
				st->flags = (st->flags & ~SITE_NEEDS_NORMALIZE) | POKETRACE_SITE_UNPATCHABLE;
				st->reason = POKETRACE_REASON_BAD_BYTES;
				continue;
			}
			text_write(&s, st->addr, insn_nop5, INSN_SITE_LEN);
			memcpy(st->cur, insn_nop5, INSN_SITE_LEN);
			memcpy(st->nop, insn_nop5, INSN_SITE_LEN);
			st->flags &= ~(SITE_NEEDS_NORMALIZE | POKETRACE_SITE_UNPATCHABLE);
			st->flags |= POKETRACE_SITE_NORMALIZED;
			st->reason = POKETRACE_REASON_NONE;
		}
	}
	return text_close(&s);
}

/* Whether every site of a kept module still holds what the table says. */
static bool module_matches_memory(const struct pt_module *m)
{
	for (size_t i = 0; i < m->nsites; i++) {
		const struct pt_site *s = &m->sites[i];

		if (s->reason == POKETRACE_REASON_NOT_TEXT)
			continue;
		if (memcmp((const void *)s->addr, s->cur, INSN_SITE_LEN) != 0)
			return false;
	}
	return true;
}

static int cmp_mod(const void *a, const void *b)
{
	const struct pt_module *x = *(struct pt_module *const *)a, *y = *(struct pt_module *const *)b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

struct pinned_build {
	struct collect *c;
};

/* Pinned: read the new modules' site bytes, normalize, publish the table. */
static int build_pinned(void *arg)
{
	struct collect *c = ((struct pinned_build *)arg)->c;
	struct pt_module **mods = calloc(c->n ? c->n : 1, sizeof(*mods));
	size_t n = 0;
	int r;

	if (!mods)
		return pt_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		struct loaded *l = &c->v[i];

		if (l->mod && !module_matches_memory(l->mod)) {
			/* Unloaded and loaded again at the same address since
			 * the last refresh: the table's state is stale. */
			l->mod->seen = false;
			l->mod = NULL;
			l->is_new = es_open(l->path, &l->file) == 0;
		}
		if (l->is_new) {
			struct pt_module *m = calloc(1, sizeof(*m));

			if (!m)
				continue;
			if (module_build(m, &l->file, l->bias, read_mem, l) < 0) {
				free(m);
				continue;
			}
			l->mod = m;
		}
		if (l->mod)
			mods[n++] = l->mod;
	}
	qsort(mods, n, sizeof(*mods), cmp_mod);
	r = normalize(mods, n);
	for (size_t i = 0; i < tab.n; i++)
		if (!tab.mods[i]->seen) {
			module_free(tab.mods[i]);
			free(tab.mods[i]);
		}
	free(tab.mods);
	hint.mod = NULL;
	tab.mods = mods;
	tab.n = n;
	tab.adds = c->adds;
	tab.subs = c->subs;
	tab.built = true;
	tab.generation++;
	for (size_t i = 0; i < n; i++)
		mods[i]->seen = false;
	return r;
}

static struct pt_module *find_kept(const char *path, uintptr_t bias)
{
	for (size_t i = 0; i < tab.n; i++)
		if (tab.mods[i]->bias == bias && strcmp(tab.mods[i]->path, path) == 0)
			return tab.mods[i];
	return NULL;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		if (c->v[i].is_new && c->v[i].file.path)
			es_close(&c->v[i].file);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int rebuild_once(void)
{
	struct collect c = { 0 };
	struct pinned_build pb = { &c };
	int r;

	dl_iterate_phdr(collect_cb, &c);
	if (c.err) {
		collect_free(&c);
		return pt_error(-c.err, "out of memory");
	}
	for (size_t i = 0; i < c.n; i++) {
		struct loaded *l = &c.v[i];

		l->mod = find_kept(l->path, l->bias);
		if (l->mod) {
			l->mod->seen = true;
			continue;
		}
		/* Reading the file needs no pinning: only its memory does. */
		if (es_open(l->path, &l->file) == 0)
			l->is_new = true;
	}
	/* sites_pinned compares against the counts the table was built at;
	 * here it must compare against the counts just collected. */
	{
		unsigned long long adds = tab.adds, subs = tab.subs;
		bool built = tab.built;

		tab.adds = c.adds;
		tab.subs = c.subs;
		tab.built = true;
		r = sites_pinned(build_pinned, &pb);
		if (r == -EAGAIN) {
			tab.adds = adds;
			tab.subs = subs;
			tab.built = built;
			for (size_t i = 0; i < tab.n; i++)
				tab.mods[i]->seen = false;
		}
	}
	collect_free(&c);
	return r;
}

int sites_sync(void)
{
	for (int tries = 0; tries < 16; tries++) {
		int r;

		if (!modules_changed())
			return 0;
		r = rebuild_once();
		if (r != -EAGAIN)
			return r;
	}
	return pt_error(EAGAIN, "modules kept being loaded and unloaded while the site table "
			"was built; try again");
}

struct pinned {
	int (*fn)(void *ctx);
	void *ctx;
	int ret;
};

static int pinned_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pinned *p = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs) &&
	    (info->dlpi_adds != tab.adds || info->dlpi_subs != tab.subs)) {
		p->ret = -EAGAIN;
		return 1;
	}
	p->ret = p->fn(p->ctx);
	return 1;
}

int sites_pinned(int (*fn)(void *ctx), void *ctx)
{
	struct pinned p = { fn, ctx, -EAGAIN };

	dl_iterate_phdr(pinned_cb, &p);
	return p.ret;
}

struct pt_module *sites_module_at(uintptr_t addr)
{
	size_t lo = 0, hi = tab.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tab.mods[mid]->lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < tab.mods[lo - 1]->hi)
		return tab.mods[lo - 1];
	return NULL;
}

struct pt_site *sites_find(uintptr_t addr, struct pt_module **mod)
{
	struct pt_module *m = hint.mod;
	struct pt_site *s = m && hint.next < m->nsites ? &m->sites[hint.next] : NULL;

	if (!s || !(s->addr == addr || ((s->flags & POKETRACE_SITE_ENDBR) && s->addr == addr + 4))) {
		m = sites_module_at(addr);
		s = m ? module_site_find(m, addr) : NULL;
	}
	if (mod)
		*mod = m;
	if (s) {
		hint.mod = m;
		hint.next = (size_t)(s - m->sites) + 1;
	}
	return s;
}

bool sites_stale(void)
{
	return modules_changed();
}

unsigned sites_generation(void)
{
	return tab.generation;
}

size_t sites_nmodules(void)
{
	return tab.n;
}

struct pt_module *sites_module(size_t i)
{
	return i < tab.n ? tab.mods[i] : NULL;
}
