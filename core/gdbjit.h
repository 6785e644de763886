/* Telling gdb about generated code (its JIT interface), so `bt` unwinds
 * through images and names them; and libgcc, whose unwinder reads the
 * same unwind info. */
#ifndef PT_CORE_GDBJIT_H
#define PT_CORE_GDBJIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gdbjit_entry;

/* Registers [code, code+len) named `name` with unwind info eh (eh_len
 * bytes, absolute pointers), copied into the object; NULL if no memory. */
struct gdbjit_entry *gdbjit_add(uintptr_t code, size_t len, const char *name, const void *eh, size_t eh_len);
void gdbjit_remove(struct gdbjit_entry *e);
/* The object's copy of the unwind info: what __register_frame is given,
 * one allocation for gdb and libgcc both. */
void *gdbjit_eh_frame(struct gdbjit_entry *e);

/* A relocated copy (never freed) of len bytes of code taking size bytes
 * (the next copy made may start there), eh its .eh_frame (one CIE, one
 * FDE, the terminator): kept for the batch's object, which
 * gdbjit_copies_publish gives gdb and libgcc.  Engine lock held; 0 or
 * -errno. */
int gdbjit_copy_add(uintptr_t code, size_t len, size_t size, const char *name, const uint8_t *eh,
		    size_t eh_len);
int gdbjit_copies_publish(void);
bool gdbjit_copies_pending(void);

#endif
