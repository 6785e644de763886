/* Committing prepared batch entries (used by the public patch API and by
 * hooks); the engine lock must be held. */
#ifndef PT_CORE_PATCH_H
#define PT_CORE_PATCH_H

#include <stdbool.h>

#include "arch/x86_64/poke.h"
#include "poketrace.h"

/* Commits v while the modules are pinned; entries whose cookie is a
 * struct pt_site * update the site table.  -EAGAIN if the module set
 * changed since the table was built (nothing written).  All or nothing (see
 * poke_commit); *began (may be NULL) says whether threads may have run the
 * new instructions, which is possible even when the batch failed. */
int patch_commit_entries(struct poke_entry *v, size_t n, struct poketrace_batch_stats *stats, bool *began);
struct pt_site;
/* Once, at initialization. */
void patch_init(void);
/* Resolves addr to a site the caller may patch (not unpatchable, and, if
 * !hooks_ok, not owned by links/ops).  hooks_ok (links, ops): a function
 * without a compiler site gets a relocated one (relsite.h), if it can. */
int patch_resolve(uintptr_t addr, bool hooks_ok, struct pt_site **out);

#endif
