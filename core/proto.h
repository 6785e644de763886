/* A function's calling convention as its DWARF prototype tells it. */
#ifndef PT_CORE_PROTO_H
#define PT_CORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PROTO_RET_RAX = 1, PROTO_RET_RDX = 2, PROTO_RET_XMM0 = 4, PROTO_RET_XMM1 = 8,
	PROTO_RET_ALL = 15,
};

enum { PROTO_ARG_INT = 1, PROTO_ARG_UINT, PROTO_ARG_PTR, PROTO_ARG_STR, PROTO_ARG_VOID };

struct pt_proto {
	bool known;        /* a DWARF prototype was found */
	/* For argument capture: the kinds of the leading integer-register
	 * arguments (stops at the first that is not one), and of the return. */
	uint8_t argkind[6], nargkinds, retkind;
	bool varargs;
	bool ret_sse;      /* returns in xmm0 */
	unsigned ret_regs; /* PROTO_RET_*: registers the return value may use */
	int nint, nsse;    /* argument registers used: 0-6, 0-8 */
	size_t stack_bytes; /* caller stack area holding arguments (an upper bound) */
};

/* The prototype of the function at link-time address vaddr in the module
 * file path; known = false when there is no usable debug information. */
void proto_lookup(const char *path, uint64_t vaddr, struct pt_proto *out);
/* Closes the cached debug information of path (module unloaded). */
void proto_forget(const char *path);

#endif
