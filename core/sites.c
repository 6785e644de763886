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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/maps.h"
#include "core/gotpatch.h"

#include "arch/x86_64/textwrite.h"
#include "base/error.h"

struct loaded {
	char *path;
	uintptr_t bias;
	uintptr_t anchor;      /* its first loadable segment, in memory */
	uintptr_t lo, hi;      /* all of them */
	uint8_t head[64];      /* the bytes there (the ELF header) */
	uint8_t build_id[64];  /* NT_GNU_BUILD_ID in memory, if any */
	size_t build_id_len;
	struct pt_module *mod; /* kept, or new (built in the pinned pass) */
	struct es_file file;   /* for a new module */
	bool is_new;
	char *why;             /* the file mapped cannot be read (no sites) */
};

/* Loaded modules whose file could not be read: no sites, and why. */
struct stale {
	uintptr_t lo, hi;
	char *path, *why;
};

static struct {
	struct pt_module **mods; /* sorted by lo */
	size_t n;
	struct stale *stale;
	size_t nstale;
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

/* The GNU build-id of a loaded module, from its PT_NOTE segments in memory
 * (pinned: inside dl_iterate_phdr).  libelf reads notes of files, not of a
 * loaded image, hence this walk of the note format. */
static void memory_build_id(const struct dl_phdr_info *info, struct loaded *l)
{
	for (int i = 0; i < info->dlpi_phnum && !l->build_id_len; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n), *desc = name + ((n->n_namesz + 3) & ~3u);

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
			    n->n_descsz <= sizeof(l->build_id)) {
				memcpy(l->build_id, desc, n->n_descsz);
				l->build_id_len = n->n_descsz;
				break;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
}

static void memory_identity(const struct dl_phdr_info *info, struct loaded *l)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (!l->anchor) {
			l->anchor = l->lo = info->dlpi_addr + ph->p_vaddr;
			if (ph->p_filesz >= sizeof(l->head))
				memcpy(l->head, (const void *)l->anchor, sizeof(l->head));
		}
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > l->hi)
			l->hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	memory_build_id(info, l);
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
	/* (the main program's path comes from its mapping: under
	 * `ld.so ./prog` /proc/self/exe is ld.so) */
	l->path = !info->dlpi_name[0] ? strdup("")
		  : info->dlpi_name[0] == '/' ? strdup(info->dlpi_name) : realpath(info->dlpi_name, NULL);
	l->bias = info->dlpi_addr;
	if (!l->path)
		return 0; /* a relative name that no longer resolves */
	memory_identity(info, l);
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

static bool same_build_id(const struct loaded *l, const struct es_file *f)
{
	return l->build_id_len == f->build_id_len && !memcmp(l->build_id, f->build_id, f->build_id_len);
}

/* Whether f is the file l was mapped from: the same inode of the same
 * device (and, where both have one, the same build-id: a file rewritten in
 * place), or, where the device does not tell (overlay file systems), the
 * same build-id, or without build-ids the same ELF header. */
static bool same_file(const struct loaded *l, const struct maps_entry *me, const struct es_file *f)
{
	struct stat st;
	uint8_t head[sizeof(l->head)];

	if (me && !me->deleted && fstat(f->fd, &st) == 0 && st.st_ino == me->ino &&
	    major(st.st_dev) == me->dev_major && minor(st.st_dev) == me->dev_minor)
		return !l->build_id_len || !f->build_id_len || same_build_id(l, f);
	if (l->build_id_len && f->build_id_len)
		return same_build_id(l, f);
	return f->nsegs && es_read(f, f->segs[0].vaddr, head, sizeof(head)) == 0 && !memcmp(head, l->head, sizeof(head));
}

/* Opens the file l was mapped from, not whatever is at its path now: a
 * file replaced on disk (a new inode at the same path) or deleted keeps its
 * old code in memory, and its sites and names are those of the old file.
 * By path when the file there is that one, else through the kernel's link
 * to the mapped file (/proc/self/map_files, which needs CAP_SYS_ADMIN);
 * failing both, the module gets no sites, and l->why says so. */
static int open_module_file(struct loaded *l, const struct maps *maps)
{
	const struct maps_entry *me = maps_find(maps, l->anchor);
	char via[64];

	if (!l->path[0] && me && me->path[0] == '/') {
		free(l->path);
		if (!(l->path = strdup(me->path)))
			return -ENOMEM;
	}
	if (!l->path[0])
		return -ENOENT;
	if (es_open(l->path, &l->file) == 0) {
		if (same_file(l, me, &l->file))
			return 0;
		es_close(&l->file);
	}
	if (me) {
		snprintf(via, sizeof(via), "/proc/self/map_files/%lx-%lx", (unsigned long)me->start,
			 (unsigned long)me->end);
		if (es_open_at(l->path, via, &l->file) == 0 && same_file(l, NULL, &l->file))
			return 0;
		if (l->file.path)
			es_close(&l->file);
	}
	if (asprintf(&l->why, "%s was %s on disk after the program loaded it, and the file it was mapped "
		     "from cannot be opened (/proc/self/map_files needs CAP_SYS_ADMIN): its patch sites "
		     "cannot be read", l->path, me && me->deleted ? "deleted" : "replaced") < 0)
		l->why = NULL;
	return -ESTALE;
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
			if (l->is_new && !same_file(l, NULL, &l->file)) {
				es_close(&l->file);
				l->is_new = false;
			}
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
	for (size_t i = 0; i < tab.nstale; i++) {
		free(tab.stale[i].path);
		free(tab.stale[i].why);
	}
	free(tab.stale);
	tab.stale = calloc(c->n ? c->n : 1, sizeof(*tab.stale));
	tab.nstale = 0;
	for (size_t i = 0; tab.stale && i < c->n; i++) {
		struct loaded *l = &c->v[i];

		if (l->mod || !l->why)
			continue;
		tab.stale[tab.nstale++] = (struct stale){ l->lo, l->hi, l->path, l->why };
		l->path = l->why = NULL; /* the table's now */
	}
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
		free(c->v[i].why);
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
	struct maps maps;
	int r = 0;

	dl_iterate_phdr(collect_cb, &c);
	if (c.err || (r = maps_read(&maps)) < 0) {
		collect_free(&c);
		return c.err ? pt_error(-c.err, "out of memory")
			     : pt_error(-r, "cannot read /proc/self/maps: %s", strerror(-r));
	}
	for (size_t i = 0; i < c.n; i++) {
		struct loaded *l = &c.v[i];

		l->mod = l->path[0] ? find_kept(l->path, l->bias) : NULL;
		if (!l->mod && !l->path[0]) {
			const struct maps_entry *me = maps_find(&maps, l->anchor);

			l->mod = me ? find_kept(me->path, l->bias) : NULL;
		}
		if (l->mod) {
			l->mod->seen = true;
			continue;
		}
		/* Reading the file needs no pinning: only its memory does. */
		if (open_module_file(l, &maps) == 0)
			l->is_new = true;
	}
	maps_free(&maps);
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
		if (r == 0)
			gotpatch_apply(); /* the new modules' calls too, after a late load */
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

const char *sites_unreadable_at(uintptr_t addr)
{
	for (size_t i = 0; i < tab.nstale; i++)
		if (addr >= tab.stale[i].lo && addr < tab.stale[i].hi)
			return tab.stale[i].why;
	return NULL;
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
