/* A loaded module's imports: the dynamic relocations (the PLT's jump slots,
 * GLOB_DAT slots) that bind a name to a slot of its GOT. */
#ifndef PT_CORE_DYNREL_H
#define PT_CORE_DYNREL_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

/* cb(ctx, name, slot) for each of info's imports (inside dl_iterate_phdr). */
void dynrel_imports(const struct dl_phdr_info *info, void (*cb)(void *ctx, const char *name, uintptr_t slot),
		    void *ctx);
/* Whether poketrace's own module (the library, the agent, or the program
 * it is linked into) imports name: derived from the loaded module, not a
 * list kept by hand. */
bool dynrel_own_import(const char *name);

#endif
