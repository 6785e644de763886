/* Dynamic relocations of loaded modules (see dynrel.h).  The dynamic section
 * of a loaded module is walked in memory (libelf reads files, not loaded
 * images); the loader has made its addresses absolute. */
#include "core/dynrel.h"

#include <dlfcn.h>
#include <elf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------ our own */

static struct {
	char **name;
	size_t n, cap;
	uintptr_t self;
} own;

static void add_own(void *ctx, const char *name, uintptr_t slot)
{
	(void)ctx;
	(void)slot;
	if (own.n == own.cap) {
		char **nv = realloc(own.name, sizeof(*nv) * (own.cap = own.cap ? own.cap * 2 : 128));

		if (!nv)
			return;
		own.name = nv;
	}
	if ((own.name[own.n] = strdup(name)))
		own.n++;
}

static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (info->dlpi_addr != own.self)
		return 0;
	dynrel_imports(info, add_own, NULL);
	return 1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_own(void)
{
	Dl_info self;

	if (!dladdr((void *)dynrel_own_import, &self))
		return;
	own.self = (uintptr_t)self.dli_fbase;
	dl_iterate_phdr(find_own, NULL);
	if (own.n)
		qsort(own.name, own.n, sizeof(*own.name), cmp_name);
}

bool dynrel_own_import(const char *name)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load_own);
	return own.n && bsearch(&name, own.name, own.n, sizeof(*own.name), cmp_name);
}
