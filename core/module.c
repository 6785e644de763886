/* Building one module's site list: where each listed site is, what it holds,
 * which function it belongs to, and whether it may be patched. */
#include "core/module.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static void classify(struct pt_site *s, uint8_t src, const uint8_t b[INSN_SITE_LEN])
{
	memcpy(s->cur, b, INSN_SITE_LEN);
	memcpy(s->nop, insn_is_nop5(b) ? b : insn_nop5, INSN_SITE_LEN);
	if (src == ES_SRC_MCOUNT) {
		s->kind = POKETRACE_SITE_MCOUNT;
	} else if (memcmp(b, insn_nop1x5, INSN_SITE_LEN) == 0) {
		s->kind = POKETRACE_SITE_PFE_GCC;
		s->flags |= SITE_NEEDS_NORMALIZE;
		return;
	} else {
		s->kind = POKETRACE_SITE_PFE_CLANG;
	}
	if (!insn_is_nop5(b)) {
		s->kind = POKETRACE_SITE_UNKNOWN;
		s->flags |= POKETRACE_SITE_UNPATCHABLE;
		s->reason = POKETRACE_REASON_BAD_BYTES;
	}
}

/* Where a listed patchable entry's function begins: vaddr itself, or, when
 * only 1-byte nops separate vaddr from the next function symbol (gcc's
 * =M,N with N > 0), that symbol.  0 when those nops run into code. */
static uint64_t entry_after_prefix(const struct pt_module *m, const struct es_seg *seg, uint64_t vaddr,
				   module_read_fn rd, void *ctx)
{
	const struct es_sym *sym = es_symbol_for(&m->elf, vaddr), *next;
	uint8_t b[16];

	if (sym && sym->vaddr == vaddr)
		return vaddr; /* the usual case: the list names the entry */
	next = es_symbol_from(&m->elf, vaddr);
	if (!next || next->vaddr - vaddr > sizeof(b) || next->vaddr + INSN_SITE_LEN > seg->vaddr + seg->filesz ||
	    rd(ctx, vaddr + m->bias, b, next->vaddr - vaddr) < 0)
		return vaddr; /* no symbol to go by: take the list's word */
	for (uint64_t i = 0; i < next->vaddr - vaddr; i++)
		if (b[i] != 0x90)
			return vaddr;
	return next->vaddr;
}

static void build_site(struct pt_module *m, struct pt_site *s, const struct es_entry *e,
		       module_read_fn rd, void *ctx)
{
	const struct es_seg *seg = es_segment_for(&m->elf, e->vaddr);
	uint64_t vaddr = e->vaddr, r;
	bool prefixed = false;
	uint8_t b[INSN_SITE_LEN];
	const struct es_sym *sym;

	memset(s, 0, sizeof(*s));
	s->addr = vaddr + m->bias;
	if (!seg || !(seg->flags & PF_X) || (seg->flags & PF_W) ||
	    vaddr + INSN_SITE_LEN > seg->vaddr + seg->filesz) {
		s->kind = POKETRACE_SITE_UNKNOWN;
		s->flags = POKETRACE_SITE_UNPATCHABLE;
		s->reason = POKETRACE_REASON_NOT_TEXT;
		return;
	}
	if (e->src == ES_SRC_PFE && (r = entry_after_prefix(m, seg, vaddr, rd, ctx)) != vaddr) {
		/* -fpatchable-function-entry=M,N: the list names the first of
		 * N nops placed before the function; its site is at the entry
		 * (after an endbr64), where the other M-N are. */
		s->addr += r - vaddr;
		vaddr = r;
		prefixed = true;
	}
	if (rd(ctx, s->addr, b, INSN_SITE_LEN) == 0 && insn_is_endbr64(b) &&
	    vaddr + 4 + INSN_SITE_LEN <= seg->vaddr + seg->filesz) {
		/* -fcf-protection: the site is the instruction after endbr64. */
		s->flags |= POKETRACE_SITE_ENDBR;
		s->addr += 4;
		vaddr += 4;
	}
	if (rd(ctx, s->addr, b, INSN_SITE_LEN) < 0)
		memset(b, 0, sizeof(b));
	classify(s, e->src, b);
	if (prefixed && s->reason == POKETRACE_REASON_BAD_BYTES && b[0] == 0x90)
		s->reason = POKETRACE_REASON_SHORT_NOPS;
	sym = es_symbol_for(&m->elf, vaddr);
	if (!(s->flags & POKETRACE_SITE_ENDBR) && vaddr >= seg->vaddr + 4 &&
	    (!sym || sym->vaddr == vaddr - 4)) {
		uint8_t before[4];

		/* The usual case: the compiler listed the address after it. */
		if (rd(ctx, s->addr - 4, before, 4) == 0 && insn_is_endbr64(before))
			s->flags |= POKETRACE_SITE_ENDBR;
	}
	if (sym) {
		s->symbol = sym->name;
		s->func = sym->vaddr + m->bias;
	} else {
		s->func = s->addr - ((s->flags & POKETRACE_SITE_ENDBR) ? 4 : 0);
	}
}

int module_build(struct pt_module *m, struct es_file *f, uintptr_t bias, module_read_fn rd, void *ctx)
{
	const char *slash;

	memset(m, 0, sizeof(*m));
	m->elf = *f; /* f stays readable for rd until the end */
	m->path = m->elf.path;
	slash = strrchr(m->path, '/');
	m->name = slash ? slash + 1 : m->path;
	m->bias = bias;
	m->lo = m->text_lo = UINTPTR_MAX;
	for (size_t i = 0; i < m->elf.nsegs; i++) {
		const struct es_seg *s = &m->elf.segs[i];
		uintptr_t a = s->vaddr + bias, e = a + s->memsz;

		if (a < m->lo)
			m->lo = a;
		if (e > m->hi)
			m->hi = e;
		if (s->flags & PF_X) {
			if (a < m->text_lo)
				m->text_lo = a;
			if (e > m->text_hi)
				m->text_hi = e;
		}
	}
	if (m->lo == UINTPTR_MAX)
		m->lo = m->hi = bias;
	if (m->text_lo == UINTPTR_MAX)
		m->text_lo = m->text_hi = m->lo;
	m->site_cap = m->elf.nentries ? m->elf.nentries : 1;
	m->sites = calloc(m->site_cap, sizeof(*m->sites));
	if (!m->sites) {
		module_free(m);
		memset(f, 0, sizeof(*f));
		f->fd = -1;
		return pt_error(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m->elf.nentries; i++) {
		struct pt_site *s = &m->sites[m->nsites];

		build_site(m, s, &m->elf.entries[i], rd, ctx);
		if (m->nsites && m->sites[m->nsites - 1].addr == s->addr)
			continue; /* listed twice (both lists) */
		if (s->reason == POKETRACE_REASON_BAD_BYTES)
			m->nbad++;
		m->nsites++;
	}
	/* The entry list and the file itself are no longer needed. */
	free(m->elf.entries);
	m->elf.entries = NULL;
	m->elf.nentries = 0;
	es_release_file(&m->elf);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	return 0;
}

void module_free(struct pt_module *m)
{
	free(m->sites);
	es_close(&m->elf);
	memset(m, 0, sizeof(*m));
}

size_t module_site_lower(const struct pt_module *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->nsites;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->sites[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct pt_site *find_exact(const struct pt_module *m, uintptr_t addr)
{
	size_t i = module_site_lower(m, addr);

	return i < m->nsites && m->sites[i].addr == addr ? &m->sites[i] : NULL;
}

struct pt_site *module_site_find(const struct pt_module *m, uintptr_t addr)
{
	struct pt_site *s = find_exact(m, addr);

	/* Or the address of a function whose site follows its endbr64. */
	if (!s && (s = find_exact(m, addr + 4)) && !(s->flags & POKETRACE_SITE_ENDBR))
		s = NULL;
	return s;
}

void module_site_public(const struct pt_module *m, const struct pt_site *s, struct poketrace_site *out)
{
	out->addr = s->addr;
	out->func = s->func;
	out->symbol = s->symbol;
	out->module = m->path;
	out->kind = (enum poketrace_site_kind)s->kind;
	out->flags = s->flags & 0xff;
	out->reason = (enum poketrace_site_reason)s->reason;
	memcpy(out->bytes, s->cur, INSN_SITE_LEN);
}

const char *site_kind_name(int kind)
{
	switch (kind) {
	case POKETRACE_SITE_MCOUNT:
		return "mcount";
	case POKETRACE_SITE_PFE_CLANG:
		return "pfe-nop5";
	case POKETRACE_SITE_PFE_GCC:
		return "pfe-gcc";
	case POKETRACE_SITE_RELOC:
		return "reloc";
	default:
		return "unknown";
	}
}

const char *site_reason_text(int reason)
{
	switch (reason) {
	case POKETRACE_REASON_BAD_BYTES:
		return "the bytes there are not a recognized nop";
	case POKETRACE_REASON_GCC_NOPS_THREADED:
		return "gcc's five 1-byte nops, first seen while several threads ran: a thread "
		       "may be between them, so they cannot be made one instruction (call "
		       "poketrace_init() before starting threads, or build with clang or -mnop-mcount)";
	case POKETRACE_REASON_NOT_TEXT:
		return "not in a read-only executable segment";
	case POKETRACE_REASON_SHORT_NOPS:
		return "fewer than 5 bytes of nops at the function's entry (gcc -fpatchable-function-entry=M,N "
		       "puts N of the M before it: M-N must be at least 5)";
	default:
		return "patchable";
	}
}
