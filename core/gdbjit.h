/* Telling gdb about generated code (its JIT interface), so `bt` unwinds
 * through images and names them. */
#ifndef PT_CORE_GDBJIT_H
#define PT_CORE_GDBJIT_H

#include <stddef.h>
#include <stdint.h>

struct gdbjit_entry;

/* Registers [code, code+len) named `name` with unwind info eh (eh_len
 * bytes, absolute pointers); NULL if it could not be built. */
struct gdbjit_entry *gdbjit_add(uintptr_t code, size_t len, const char *name, const void *eh,
				size_t eh_len);
void gdbjit_remove(struct gdbjit_entry *e);

#endif
