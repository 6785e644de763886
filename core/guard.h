/* The per-thread recursion guard images test and set (guard.c). */
#ifndef PT_CORE_GUARD_H
#define PT_CORE_GUARD_H

#include <stdint.h>

#include "arch/x86_64/tramp.h"

int guard_init(void);
/* What every image with handlers is given: the guard's TLS offsets, the
 * unwind personality that clears it, the counter of skipped handlers. */
void guard_spec(struct tramp_spec *spec);
void *guard_personality(void);
uint64_t guard_misses(void);
/* This thread's guard now. */
uint64_t guard_self(void);
/* Where thread tid keeps its guard, if it is registered (NULL if not). */
const uint64_t *guard_of(long tid);
/* Registers the calling thread; _signal: from a signal handler (no
 * allocation: only a free slot is taken). */
void guard_register(void);
void guard_register_signal(void);

#endif
