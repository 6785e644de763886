/* Interposition after a late load.
 *
 * Loaded at start (LD_PRELOAD, linked), poketrace's signal interposers
 * (arch/x86_64/sigguard_libc.c) come before glibc in the global scope and
 * every module's calls bind to them.  Loaded into a running program
 * (poketrace attach; a program that dlopens it), they come after glibc and
 * nothing ever calls them: a thread that blocks SIGTRAP with
 * pthread_sigmask later would die at the next batch's int3.  The binding
 * the dynamic linker made lives in each module's GOT (the PLT's jump slots,
 * and GLOB_DAT slots of -fno-plt calls and function pointers): pointing the
 * slots of the interposed names at the interposers gives a late load what
 * LD_PRELOAD gives at start.  Each slot is one aligned 8-byte store, which a
 * thread calling through it sees either before or after. */
#include "core/gotpatch.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86_64/sigguard.h"
#include "base/error.h"
#include "base/maps.h"
#include "core/dynrel.h"

#define NMAX 64

struct slot {
	uintptr_t addr;
	void *fn;
};

struct scan {
	uintptr_t self;            /* our own module's load address */
	const struct sigguard_interposer *ours;
	size_t nours;
	struct slot *v;
	size_t n, cap;
	int err;
};


static void add(struct scan *sc, uintptr_t addr, void *fn)
{
	if (sc->n == sc->cap) {
		struct slot *nv = realloc(sc->v, sizeof(*nv) * (sc->cap = sc->cap ? sc->cap * 2 : 64));

		if (!nv) {
			sc->err = -ENOMEM;
			return;
		}
		sc->v = nv;
	}
	sc->v[sc->n++] = (struct slot){ addr, fn };
}

static void each_import(void *ctx, const char *name, uintptr_t slot)
{
	const struct sigguard_interposer *o = sigguard_interposer(name);

	if (o)
		add(ctx, slot, o->fn);
}

static int scan_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *sc = arg;

	(void)size;
	if (info->dlpi_addr == sc->self || (info->dlpi_name[0] && !strchr(info->dlpi_name, '/')))
		return 0; /* ourselves; the vDSO */
	dynrel_imports(info, each_import, sc);
	return sc->err ? 1 : 0;
}

/* Writes every slot (inside dl_iterate_phdr: no module goes meanwhile),
 * making read-only pages (RELRO) writable for the moment it takes. */
static int write_slots(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *sc = arg;
	struct maps maps;
	int r;

	(void)info;
	(void)size;
	if ((r = maps_read(&maps)) < 0) {
		sc->err = r;
		return 1;
	}
	for (size_t i = 0; i < sc->n; i++)
		if ((r = dynrel_write_slot(&maps, sc->v[i].addr, sc->v[i].fn)) < 0 && r != -EINVAL)
			sc->err = r;
	maps_free(&maps);
	return 1;
}

int gotpatch_apply(void)
{
	static int late = -1; /* unknown yet */
	struct scan sc = { 0 };
	Dl_info self;

	sc.ours = sigguard_interposers(&sc.nours);
	if (late < 0) {
		/* Late: the program's calls bind to glibc's own.  (Not "not
		 * ours": a sanitizer's runtime preloaded before us interposes
		 * too, and reaches ours as its next.)  dlsym and dladdr only:
		 * no dlopen, which the agent interposes. */
		late = 0;
		for (size_t i = 0; i < sc.nours; i++) {
			void *found = dlsym(RTLD_DEFAULT, sc.ours[i].name);
			Dl_info di;

			if (found && found != sc.ours[i].fn && dladdr(found, &di) && di.dli_fname &&
			    strstr(di.dli_fname, "/libc.so"))
				late = 1;
		}
	}
	if (!late || !dladdr((void *)gotpatch_apply, &self))
		return 0; /* loaded at start: the loader did it */
	sc.self = (uintptr_t)self.dli_fbase;
	dl_iterate_phdr(scan_module, &sc);
	if (!sc.err && sc.n)
		dl_iterate_phdr(write_slots, &sc);
	free(sc.v);
	return sc.err ? pt_error(-sc.err, "cannot redirect the program's signal calls to poketrace's: %s",
				 strerror(-sc.err))
		      : 0;
}
