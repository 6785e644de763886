/* gdb's JIT interface: the process keeps a list of in-memory ELF objects
 * in __jit_debug_descriptor and calls __jit_debug_register_code after each
 * change; gdb, which breaks there, reads the objects' symbols and unwind
 * tables.  An object is a tiny relocatable ELF: a NOBITS text section at
 * each piece of code's address, one .eh_frame, a function symbol per
 * piece.  An image gets one of its own (it can be freed); relocated copies,
 * never freed and made by the thousand, share one per batch.  The
 * definitions are weak so that another JIT in the process (LLVM's) can own
 * them. */
#include "core/gdbjit.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

/* libgcc's registry of unwind tables for generated code. */
extern void __register_frame(void *begin);

struct jit_code_entry {
	struct jit_code_entry *next, *prev;
	const char *symfile_addr;
	uint64_t symfile_size;
};

struct jit_descriptor {
	uint32_t version;
	uint32_t action_flag; /* 1 register, 2 unregister */
	struct jit_code_entry *relevant_entry, *first_entry;
};

__attribute__((weak, visibility("default"))) struct jit_descriptor __jit_debug_descriptor = { 1, 0, 0, 0 };

__attribute__((weak, noinline, visibility("default"))) void __jit_debug_register_code(void)
{
	__asm__ volatile("" ::: "memory");
}

struct gdbjit_entry {
	struct jit_code_entry e;
	size_t off_eh;
	char obj[] __attribute__((aligned(16)));
};

/* the sections before the pieces' text sections (S_TEXT onwards) */
enum { S_NULL, S_EH, S_SYMTAB, S_STRTAB, S_SHSTRTAB, S_TEXT };

static const char shstr[] = "\0.text\0.eh_frame\0.symtab\0.strtab\0.shstrtab";
enum { N_TEXT = 1, N_EH = 7, N_SYMTAB = 17, N_STRTAB = 25, N_SHSTRTAB = 33 };

struct piece {
	uintptr_t code;
	size_t len;
	uint32_t name;  /* offset in the names */
	uint32_t sect;  /* its text section (from S_TEXT) */
	size_t size;    /* copies: the bytes it takes (the next adjacent one starts there) */
	uint32_t fde, fde_len; /* copies: its FDE in the pending unwind section */
};

struct sect {
	uintptr_t addr;
	size_t size;
};

/* What an object describes: n pieces in nsect text sections, their unwind
 * info (a section: CIEs, FDEs, terminator), their names (NUL-terminated,
 * one after the other). */
struct desc {
	const struct piece *pc;
	size_t n;
	const struct sect *sc;
	size_t nsect;
	const uint8_t *eh;
	size_t eh_len;
	const char *names;
	size_t names_len;
};

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

/* Builds the object of d, in memory from the arena when forever, and puts
 * it on gdb's list. */
static struct gdbjit_entry *publish(const struct desc *d, bool forever)
{
	size_t off_eh = sizeof(Elf64_Ehdr), off_sym = align8(off_eh + d->eh_len);
	size_t off_str = off_sym + (d->n + 1) * sizeof(Elf64_Sym), off_shstr = off_str + 1 + d->names_len;
	size_t off_sh = align8(off_shstr + sizeof(shstr)), total = off_sh + (S_TEXT + d->nsect) * sizeof(Elf64_Shdr);
	/* one block: the list entry, then the object */
	struct gdbjit_entry *g = forever ? arena_alloc(sizeof(*g) + total) : calloc(1, sizeof(*g) + total);
	Elf64_Ehdr *h;
	Elf64_Sym *sym;
	Elf64_Shdr *sh;
	char *o;

	if (!g)
		return NULL;
	o = g->obj;
	h = (Elf64_Ehdr *)o;
	sym = (Elf64_Sym *)(o + off_sym);
	sh = (Elf64_Shdr *)(o + off_sh);
	g->off_eh = off_eh;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_REL;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_ehsize = sizeof(Elf64_Ehdr);
	h->e_shoff = off_sh;
	h->e_shentsize = sizeof(Elf64_Shdr);
	h->e_shnum = (Elf64_Half)(S_TEXT + d->nsect);
	h->e_shstrndx = S_SHSTRTAB;
	memcpy(o + off_eh, d->eh, d->eh_len);
	memcpy(o + off_str + 1, d->names, d->names_len);
	memcpy(o + off_shstr, shstr, sizeof(shstr));
	for (size_t i = 0; i < d->n; i++) {
		const struct piece *pc = &d->pc[i];

		sym[i + 1].st_name = 1 + pc->name;
		sym[i + 1].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
		sym[i + 1].st_shndx = (Elf64_Half)(S_TEXT + pc->sect);
		sym[i + 1].st_value = pc->code - d->sc[pc->sect].addr; /* relocatable: relative to its section */
		sym[i + 1].st_size = pc->len;
	}
	for (size_t i = 0; i < d->nsect; i++)
		sh[S_TEXT + i] = (Elf64_Shdr){ .sh_name = N_TEXT, .sh_type = SHT_NOBITS,
					       .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = d->sc[i].addr,
					       .sh_size = d->sc[i].size, .sh_addralign = 16 };
	/* the unwinder's copy (gdbjit_eh_frame) is this one: where gdb is
	 * told it lies */
	sh[S_EH] = (Elf64_Shdr){ .sh_name = N_EH, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC,
				 .sh_addr = (uintptr_t)(o + off_eh), .sh_offset = off_eh, .sh_size = d->eh_len,
				 .sh_addralign = 8 };
	sh[S_SYMTAB] = (Elf64_Shdr){ .sh_name = N_SYMTAB, .sh_type = SHT_SYMTAB, .sh_offset = off_sym,
				     .sh_size = (d->n + 1) * sizeof(Elf64_Sym), .sh_link = S_STRTAB, .sh_info = 1,
				     .sh_addralign = 8, .sh_entsize = sizeof(Elf64_Sym) };
	sh[S_STRTAB] = (Elf64_Shdr){ .sh_name = N_STRTAB, .sh_type = SHT_STRTAB, .sh_offset = off_str,
				     .sh_size = 1 + d->names_len, .sh_addralign = 1 };
	sh[S_SHSTRTAB] = (Elf64_Shdr){ .sh_name = N_SHSTRTAB, .sh_type = SHT_STRTAB, .sh_offset = off_shstr,
				       .sh_size = sizeof(shstr), .sh_addralign = 1 };
	g->e.symfile_addr = o;
	g->e.symfile_size = total;
	g->e.next = __jit_debug_descriptor.first_entry;
	if (g->e.next)
		g->e.next->prev = &g->e;
	__jit_debug_descriptor.first_entry = &g->e;
	__jit_debug_descriptor.relevant_entry = &g->e;
	__jit_debug_descriptor.action_flag = 1;
	__jit_debug_register_code();
	return g;
}

struct gdbjit_entry *gdbjit_add(uintptr_t code, size_t len, const char *name, const void *eh, size_t eh_len)
{
	struct piece pc = { .code = code, .len = len };
	struct sect sc = { code, len };
	struct desc d = { &pc, 1, &sc, 1, eh, eh_len, name, strlen(name) + 1 };

	return publish(&d, false);
}

void gdbjit_remove(struct gdbjit_entry *g)
{
	if (!g)
		return;
	if (g->e.prev)
		g->e.prev->next = g->e.next;
	else
		__jit_debug_descriptor.first_entry = g->e.next;
	if (g->e.next)
		g->e.next->prev = g->e.prev;
	__jit_debug_descriptor.relevant_entry = &g->e;
	__jit_debug_descriptor.action_flag = 2;
	__jit_debug_register_code();
	free(g);
}

void *gdbjit_eh_frame(struct gdbjit_entry *g)
{
	return g->obj + g->off_eh;
}

/* ------------------------------------------------------------ copies */

/* Copies waiting for their batch's object (engine lock held): their
 * pieces, their names, their unwind section being built (the first CIE,
 * then every FDE pointing back at it).  Copies made one after the other
 * lie end to end (first fit, never freed): a run of them is one text
 * section for gdb (whose cost grows with the square of an object's
 * sections) and one registration for libgcc, which must not be given
 * ranges that overlap (gcc 12's unwinder takes the first registered
 * object starting below the pc, and an image lies between two copies
 * that are not adjacent). */
#define BATCH_MAX 8192 /* pieces per object: section numbers stay below SHN_LORESERVE */

static struct {
	struct piece *pc;
	size_t n, pc_cap;
	char *names;
	size_t names_len, names_cap;
	uint8_t *eh;
	size_t eh_len, eh_cap, cie_len;
} pend;

static bool grow(void **p, size_t *cap, size_t need, size_t unit)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	if (!(q = realloc(*p, c * unit)))
		return false;
	*p = q;
	*cap = c;
	return true;
}

static uint32_t u32_at(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

bool gdbjit_copies_pending(void)
{
	return pend.n != 0;
}

/* libgcc's unwind section for the run pc[a..b): the CIE, their FDEs (each
 * pointing back at it), the terminator; for ever, like the copies. */
static uint8_t *run_section(size_t a, size_t b)
{
	size_t len = pend.cie_len + 4, at;
	uint8_t *eh;

	for (size_t i = a; i < b; i++)
		len += pend.pc[i].fde_len;
	if (!(eh = arena_alloc(len)))
		return NULL;
	memcpy(eh, pend.eh, pend.cie_len);
	at = pend.cie_len;
	for (size_t i = a; i < b; i++) {
		uint32_t ptr = (uint32_t)(at + 4); /* back from the field to the CIE, at 0 */

		memcpy(eh + at, pend.eh + pend.pc[i].fde, pend.pc[i].fde_len);
		memcpy(eh + at + 4, &ptr, 4);
		at += pend.pc[i].fde_len;
	}
	memset(eh + at, 0, 4);
	return eh;
}

int gdbjit_copies_publish(void)
{
	struct desc d = { pend.pc, pend.n, NULL, 0, pend.eh, pend.eh_len + 4, pend.names, pend.names_len };
	struct sect *sc;
	uint8_t **runs;
	size_t run = 0;
	int r = -ENOMEM;

	if (!pend.n)
		return 0;
	sc = malloc(pend.n * sizeof(*sc));
	runs = malloc(pend.n * sizeof(*runs));
	if (!sc || !runs)
		goto out;
	/* Everything that can fail first: a registration made and then
	 * made again by a retry would be a second object over the first
	 * (libgcc's lookups fail past one of them). */
	for (size_t i = 0; i <= pend.n; i++) {
		struct piece *pc = &pend.pc[i];

		if (i && i < pend.n && pc->code == pend.pc[i - 1].code + pend.pc[i - 1].size) {
			sc[d.nsect - 1].size = pc->code + pc->len - sc[d.nsect - 1].addr;
			pc->sect = (uint32_t)(d.nsect - 1);
			continue;
		}
		if (i && !(runs[d.nsect - 1] = run_section(run, i)))
			goto out;
		if (i == pend.n)
			break;
		run = i;
		pc->sect = (uint32_t)d.nsect;
		sc[d.nsect++] = (struct sect){ pc->code, pc->len };
	}
	d.sc = sc;
	memset(pend.eh + pend.eh_len, 0, 4); /* the terminator (room kept for it) */
	if (!publish(&d, true))
		goto out;
	for (size_t i = 0; i < d.nsect; i++)
		__register_frame(runs[i]);
	pend.n = pend.names_len = pend.eh_len = pend.cie_len = 0;
	r = 0;
out:
	free(sc);
	free(runs);
	return r;
}

int gdbjit_copy_add(uintptr_t code, size_t len, size_t size, const char *name, const uint8_t *eh, size_t eh_len)
{
	size_t cie = (size_t)u32_at(eh) + 4, fde, nlen = strlen(name) + 1, at;
	uint32_t ptr;
	int r;

	if (eh_len < cie + 8 || eh_len < cie + (fde = (size_t)u32_at(eh + cie) + 4))
		return -EINVAL;
	/* one CIE per object: a copy with another one starts the next */
	if (pend.n && (pend.n == BATCH_MAX || cie != pend.cie_len || memcmp(eh, pend.eh, cie)) &&
	    (r = gdbjit_copies_publish()) < 0)
		return r;
	if (!grow((void **)&pend.pc, &pend.pc_cap, pend.n + 1, sizeof(*pend.pc)) ||
	    !grow((void **)&pend.names, &pend.names_cap, pend.names_len + nlen, 1) ||
	    !grow((void **)&pend.eh, &pend.eh_cap, pend.eh_len + cie + fde + 4, 1))
		return -ENOMEM;
	if (!pend.n) {
		memcpy(pend.eh, eh, cie);
		pend.eh_len = pend.cie_len = cie;
	}
	at = pend.eh_len;
	memcpy(pend.eh + at, eh + cie, fde);
	ptr = (uint32_t)(at + 4); /* the FDE's CIE pointer: back from the field to the CIE, at 0 */
	memcpy(pend.eh + at + 4, &ptr, 4);
	pend.eh_len += fde;
	memcpy(pend.names + pend.names_len, name, nlen);
	pend.pc[pend.n++] = (struct piece){ .code = code, .len = len, .name = (uint32_t)pend.names_len,
					    .size = size, .fde = (uint32_t)at, .fde_len = (uint32_t)fde };
	pend.names_len += nlen;
	return 0;
}
