/* Reading memory that may not be mapped, without faulting: for handlers and
 * trampolines, which read what a traced function was given. */
#ifndef PT_ARCH_SAFEREAD_H
#define PT_ARCH_SAFEREAD_H

#include <stddef.h>
#include <stdint.h>

#define SAFE_READ_MAX 16384

/* Copies up to n (<= SAFE_READ_MAX) bytes from src into dst, stopping at the
 * first page that cannot be read.  Returns the bytes copied (0: none).  One
 * system call; no libc (the callers may run inside any libc function). */
size_t safe_read(void *dst, uintptr_t src, size_t n);

/* The end of the run of readable pages from the page of from, looked at
 * up to limit: one run of memory, as a stack is, stops at a hole or a guard
 * page.  No libc. */
uintptr_t safe_mapped_end(uintptr_t from, uintptr_t limit);

#endif
