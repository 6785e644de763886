/* Reading memory that may not be mapped, without faulting: for handlers and
 * trampolines, which read what a traced function was given. */
#ifndef PT_ARCH_SAFEREAD_H
#define PT_ARCH_SAFEREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAFE_READ_MAX 16384

/* Copies up to n (<= SAFE_READ_MAX) bytes from src into dst, stopping at the
 * first page that cannot be read.  Returns the bytes copied (0: none).  One
 * system call; no libc (the callers may run inside any libc function). */
size_t safe_read(void *dst, uintptr_t src, size_t n);

/* Whether every page of [lo, hi) can be read: one run of memory, as a
 * stack is, not two stacks with a hole or a guard page between.  No libc. */
bool safe_mapped(uintptr_t lo, uintptr_t hi);

#endif
