/* Relocated sites (see relsite.h).  The copy is made once per function and
 * never freed: a thread may be inside it (or return into the function from
 * it) at any time once it was installed, as with landing pads. */
#include "core/relsite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/saferead.h"
#include "base/arena.h"
#include "base/error.h"
#include "core/dynrel.h"
#include "core/dynsite.h"
#include "core/gdbjit.h"
#include "core/image.h"
#include "core/sites.h"

struct self_read {
	const struct pt_module *m;
	uintptr_t addr;
	void *buf;
	size_t n;
};

static int copy_pinned(void *arg)
{
	struct self_read *q = arg;

	memcpy(q->buf, (const void *)q->addr, q->n);
	return 0;
}

/* The module's bytes: copied while the loader cannot unmap them (the table
 * is current and the range lies in one of its segments), else through
 * safe_read, a system call each (2 us here: a tenth of a batch's time). */
static int read_self(void *ctx, uintptr_t addr, void *buf, size_t n)
{
	struct self_read q = { ctx, addr, buf, n };
	const struct es_seg *g = es_segment_for(&q.m->elf, addr - q.m->bias);

	if (g && addr - q.m->bias + n <= g->vaddr + g->memsz && sites_pinned(copy_pinned, &q) == 0)
		return 0;
	return safe_read(buf, addr, n) == n ? 0 : -EFAULT;
}

/* The symbol of m whose function begins at addr (or addr-4: an endbr64). */
static const struct es_sym *function_at(const struct pt_module *m, uintptr_t addr)
{
	uint64_t v = addr - m->bias;
	const struct es_sym *e = v >= 4 ? es_symbol_from(&m->elf, v - 4) : NULL;

	if (e && e->vaddr == v - 4)
		return e;
	e = es_symbol_from(&m->elf, v);
	return e && e->vaddr == v ? e : NULL;
}

/* Room for one more site, at its place in address order.  The table grows
 * by halves: a batch may make thousands of sites. */
static struct pt_site *insert_site(struct pt_module *m, uintptr_t addr)
{
	size_t at;

	if (m->nsites == m->site_cap) {
		size_t cap = m->site_cap < 16 ? 16 : m->site_cap + m->site_cap / 2;
		struct pt_site *nv = realloc(m->sites, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		m->sites = nv;
		m->site_cap = cap;
	}
	at = module_site_lower(m, addr);
	memmove(&m->sites[at + 1], &m->sites[at], (m->nsites - at) * sizeof(*m->sites));
	m->nsites++;
	memset(&m->sites[at], 0, sizeof(*m->sites));
	return &m->sites[at];
}

int relsite_make(struct pt_module *m, uintptr_t addr, struct pt_site **out)
{
	const struct es_sym *sym = function_at(m, addr);
	struct dynsite_verdict v;
	struct relsite *rel;
	struct pt_site *s;
	uintptr_t copy;
	int r;

	if (!sym)
		return pt_error(ENOENT, "%#lx is not a patch site, nor the start of a function of %s (give a "
				"function's address)", (unsigned long)addr, m->path);
	if ((r = dynsite_judge(m, sym, read_self, m, &v)) < 0)
		return pt_error(-r, "%s: cannot read its code", sym->name);
	if (v.how != DYNSITE_RELOCATABLE)
		return pt_error(v.own_import ? EPERM : EOPNOTSUPP, "%s has no patch site, and its entry cannot be "
				"relocated: %s", sym->name, v.why);
	if ((r = image_new_copy(&v.plan, sym->name, &copy)) < 0)
		return r;
	/* poketrace's own calls of the function take the copy from now on,
	 * before its entry is ever written: they never meet a batch's int3
	 * (in a signal handler, deadly) nor the hooks (recursion, events of
	 * its own); the copy does what the entry did */
	if (dynrel_own_divertible() && (r = dynrel_own_divert(m->bias + sym->vaddr, copy)) < 0)
		return pt_error(-r, "%s: cannot point poketrace's own calls of it elsewhere: %s", sym->name,
				strerror(-r)); /* the copy stays: unused */
	/* poketrace's threads run this copy from now on: its unwind info
	 * now, not with the batch's (nothing else waits so long) */
	if (r > 0 && (r = gdbjit_copies_publish()) < 0)
		return pt_error(-r, "%s: out of memory for the unwind information of its copy", sym->name);
	if (!(rel = arena_alloc(offsetof(struct relsite, plan) + RELOC_PLAN_KEPT)) ||
	    !(s = insert_site(m, v.plan.start)))
		return pt_error(ENOMEM, "out of memory"); /* the copy stays: unused */
	rel->copy = copy;
	memcpy(&rel->plan, &v.plan, RELOC_PLAN_KEPT);
	s->addr = rel->plan.start;
	s->func = m->bias + sym->vaddr;
	s->symbol = sym->name;
	s->kind = POKETRACE_SITE_RELOC;
	s->flags = s->addr != s->func ? POKETRACE_SITE_ENDBR : 0;
	memcpy(s->nop, (const void *)s->addr, INSN_SITE_LEN);
	memcpy(s->cur, s->nop, INSN_SITE_LEN);
	s->rel = rel;
	*out = s;
	return 0;
}

uintptr_t relsite_body(const struct pt_site *s)
{
	return s->rel ? s->rel->copy : s->addr + INSN_SITE_LEN;
}
