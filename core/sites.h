/* The live site table: every loaded module's sites, kept in step with
 * dlopen/dlclose.  All functions need the engine lock (poke_lock). */
#ifndef PT_CORE_SITES_H
#define PT_CORE_SITES_H

#include "core/module.h"

/* Rebuilds the table if modules were loaded or unloaded since it was built. */
int sites_sync(void);
struct pt_module *sites_module_at(uintptr_t addr);
/* A site by its address or its function's address; *mod gets its module. */
struct pt_site *sites_find(uintptr_t addr, struct pt_module **mod);
size_t sites_nmodules(void);
/* Changes whenever the table is rebuilt (modules loaded or unloaded). */
unsigned sites_generation(void);
struct pt_module *sites_module(size_t i);
/* Whether modules were loaded or unloaded since the table was built.  Needs
 * no lock: a hint for a watcher, which then syncs under the lock. */
bool sites_stale(void);

/* If addr is in a loaded module whose file could not be read (replaced or
 * deleted on disk since), the reason; else NULL. */
const char *sites_unreadable_at(uintptr_t addr);

/* Runs fn while no module can be unloaded (inside dl_iterate_phdr, which
 * holds the loader's lock) and only if the module set is the one the table
 * was built from; -EAGAIN otherwise (call sites_sync and try again). */
int sites_pinned(int (*fn)(void *ctx), void *ctx);

#endif
