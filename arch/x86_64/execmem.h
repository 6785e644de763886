/* Executable memory placed within rel32 reach of given code. */
#ifndef PT_ARCH_EXECMEM_H
#define PT_ARCH_EXECMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size bytes of R-X memory (int3-filled, 16-byte aligned) lying entirely in
 * [lo, hi).  0 or -errno. */
int execmem_alloc(uintptr_t lo, uintptr_t hi, size_t size, void **out);
int execmem_free(void *p);
/* Gives back what lies past the first size bytes of allocation p. */
int execmem_shrink(void *p, size_t size);
/* Copies code into allocated memory (a W window that keeps X, or /proc/self/mem). */
int execmem_write(void *dst, const void *src, size_t len);
/* Between these, a chunk written once stays writable (and executable):
 * the engine holds around each change, which may write thousands of
 * images.  Release gives every chunk R-X back; 0 or -errno. */
void execmem_hold(void);
int execmem_release(void);
bool execmem_holding(void); /* a hold not released yet (caller holds poke_lock) */
/* In a child forked raw (no atfork handler) while a thread of the parent,
 * not here, held chunks writable: every chunk R-X, the hold dropped. */
void execmem_orphan_restore(void);

#endif
