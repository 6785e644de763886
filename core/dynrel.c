/* Dynamic relocations of loaded modules (see dynrel.h).  The dynamic section
 * of a loaded module is walked in memory (libelf reads files, not loaded
 * images); the loader has made its addresses absolute. */
#include "core/dynrel.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/maps.h"

static void each(uintptr_t bias, const ElfW(Rela) *r, size_t size, const ElfW(Sym) *symtab, const char *strtab,
		 void (*cb)(void *, const char *, uintptr_t), void *ctx)
{
	for (size_t i = 0; r && i < size / sizeof(*r); i++) {
		unsigned long type = ELF64_R_TYPE(r[i].r_info);

		if ((type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT) && ELF64_R_SYM(r[i].r_info))
			cb(ctx, strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name, bias + r[i].r_offset);
	}
}

void dynrel_imports(const struct dl_phdr_info *info, void (*cb)(void *ctx, const char *name, uintptr_t slot),
		    void *ctx)
{
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	size_t jmpsz = 0, relasz = 0;

	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn->d_un.d_ptr; break;
		case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
		case DT_RELA: rela = (const ElfW(Rela) *)dyn->d_un.d_ptr; break;
		case DT_RELASZ: relasz = dyn->d_un.d_val; break;
		case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn->d_un.d_ptr; break;
		case DT_STRTAB: strtab = (const char *)dyn->d_un.d_ptr; break;
		}
	}
	if (!symtab || !strtab)
		return;
	each(info->dlpi_addr, jmprel, jmpsz, symtab, strtab, cb, ctx);
	each(info->dlpi_addr, rela, relasz, symtab, strtab, cb, ctx);
}

/* One slot: made writable for the moment of the store if it is read-only
 * (RELRO); one aligned 8-byte store, which a thread calling through the
 * slot sees either before or after. */
int dynrel_write_slot(const struct maps *maps, uintptr_t slot, void *fn)
{
	uintptr_t page = slot & ~4095UL;
	const struct maps_entry *m = maps_find(maps, slot);
	bool ro = m && !(m->prot & PROT_WRITE);

	if (!m || (slot & 7))
		return -EINVAL;
	if (*(void **)slot == fn)
		return 0;
	if (ro && mprotect((void *)page, 4096, m->prot | PROT_WRITE) < 0)
		return -errno;
	__atomic_store_n((void **)slot, fn, __ATOMIC_RELEASE);
	if (ro)
		mprotect((void *)page, 4096, m->prot);
	return 0;
}

/* ------------------------------------------------------------ our own */

struct own_import {
	char *name;
	uintptr_t slot;
};

static struct {
	struct own_import *v;    /* by name */
	size_t n, cap;
	uintptr_t self;          /* an address of our code */
	bool shared;             /* our module is not the program (the library, the agent) */
	bool as_agent;           /* judging for the agent (the command) */
	pthread_mutex_t lock;    /* the slots' stores */
} own = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void add_own(void *ctx, const char *name, uintptr_t slot)
{
	(void)ctx;
	if (own.n == own.cap) {
		struct own_import *nv = realloc(own.v, sizeof(*nv) * (own.cap = own.cap ? own.cap * 2 : 128));

		if (!nv)
			return;
		own.v = nv;
	}
	if ((own.v[own.n].name = strdup(name)))
		own.v[own.n++].slot = slot;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct own_import *)a)->name, ((const struct own_import *)b)->name);
}

static bool holds_self(const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && own.self >= lo && own.self < lo + ph->p_memsz)
			return true;
	}
	return false;
}

static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
	int *index = arg;

	(void)size;
	if (!holds_self(info)) {
		++*index;
		return 0;
	}
	/* the first object is the program */
	own.shared = *index > 0;
	dynrel_imports(info, add_own, NULL);
	return 1;
}

static void load_own(void)
{
	int index = 0;

	own.self = (uintptr_t)load_own;
	dl_iterate_phdr(find_own, &index);
	if (own.n)
		qsort(own.v, own.n, sizeof(*own.v), cmp_name);
}

static void own_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load_own);
}

bool dynrel_own_import(const char *name)
{
	struct own_import key = { (char *)name, 0 };

	own_once();
	return own.n && bsearch(&key, own.v, own.n, sizeof(*own.v), cmp_name);
}

void dynrel_judge_for_agent(void)
{
	own_once();
	own.as_agent = true;
}

bool dynrel_own_divertible(void)
{
	own_once();
	return own.shared || own.as_agent;
}

int dynrel_own_divert(uintptr_t func, uintptr_t to)
{
	struct maps maps;
	int r, n = 0;

	own_once();
	if (!own.shared)
		return 0; /* (the command judging for the agent) */
	for (size_t i = 0; i < own.n && !n; i++)
		n = *(const uintptr_t *)own.v[i].slot == func;
	if (!n)
		return 0;
	n = 0;
	if ((r = maps_read(&maps)) < 0)
		return r;
	pthread_mutex_lock(&own.lock);
	for (size_t i = 0; i < own.n && r >= 0; i++)
		if (*(const uintptr_t *)own.v[i].slot == func &&
		    (r = dynrel_write_slot(&maps, own.v[i].slot, (void *)to)) == 0)
			n++;
	pthread_mutex_unlock(&own.lock);
	maps_free(&maps);
	return r < 0 ? r : n;
}
