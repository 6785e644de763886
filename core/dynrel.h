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
/* Stores fn in the slot (inside dl_iterate_phdr or with the module pinned),
 * making a read-only page writable for the moment it takes.  0 or -errno. */
struct maps;
int dynrel_write_slot(const struct maps *maps, uintptr_t slot, void *fn);

/* Whether poketrace's own module (the library, the agent, or the program
 * it is linked into) imports name: derived from the loaded module, not a
 * list kept by hand. */
bool dynrel_own_import(const char *name);
/* Whether poketrace's own calls can be told from the program's: its module
 * is a shared object (the library, the agent), with slots of its own, not
 * the program it is linked into. */
bool dynrel_own_divertible(void);
/* The command, which lists what the agent can hook (poketrace sites
 * --all), judges as the agent would: divertible.  Nothing is diverted. */
void dynrel_judge_for_agent(void);
/* Points every slot of poketrace's own module that holds func at to (the
 * relocated copy of func's entry), so that poketrace's own calls of a
 * function it hooks never meet the hook, nor an int3 of a batch: the
 * number of slots changed, or -errno. */
int dynrel_own_divert(uintptr_t func, uintptr_t to);

#endif
