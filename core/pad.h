/* Landing pads: where the body of a hooked function returns to. */
#ifndef PT_CORE_PAD_H
#define PT_CORE_PAD_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/poke.h"

/* The pad that calls orig (site+5, or a replacement) for the function at
 * site, made if need be; personality: for its unwind information. */
int pad_for(uintptr_t site, uintptr_t orig, const char *symbol, void *personality, uintptr_t *code);
/* How many pads site has: the entries pad_retarget may fill. */
size_t pad_count(uintptr_t site);
/* Batch entries pointing the jmp of each pad of site at exit_entry (an
 * image's exit path), or at its own return to the caller (0); none where
 * it points there already.  Returns how many it filled. */
size_t pad_retarget(uintptr_t site, uintptr_t exit_entry, struct poke_entry *v);
/* The batch with those entries committed. */
void pad_committed(uintptr_t site, uintptr_t exit_entry);

#endif
