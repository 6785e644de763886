/* A function's calling convention as its DWARF prototype tells it, and
 * whether that telling can be trusted ("certain").
 *
 * An image saves less than the full argument state only for a certain
 * prototype: the DWARF subprogram whose own entry is the function's address,
 * in the file whose build-id is the one mapped, no compiler clone (a '.' in
 * the symbol: .isra, .constprop, .part, .lto_priv, nested functions' .N),
 * no DW_CC_nocall, no static chain, not variadic, every parameter and the
 * return classified completely by the System V x86-64 rules, and every
 * parameter's location at the entry agreeing with that classification.
 * Anything else is "not certain" and proto.why says why. */
#ifndef PT_CORE_PROTO_H
#define PT_CORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_module;

enum {
	PROTO_RET_RAX = 1, PROTO_RET_RDX = 2, PROTO_RET_XMM0 = 4, PROTO_RET_XMM1 = 8,
	PROTO_RET_ST0 = 16, PROTO_RET_ST1 = 32,
	PROTO_RET_ALL = 15, /* the registers that are not x87 */
};

enum { PROTO_ARG_INT = 1, PROTO_ARG_UINT, PROTO_ARG_PTR, PROTO_ARG_STR, PROTO_ARG_VOID };

/* Calling conventions DWARF can name; anything else is refused. */
enum { PROTO_CC_SYSV = 0, PROTO_CC_MS, PROTO_CC_UNSUPPORTED };

struct pt_proto {
	bool known;        /* a DWARF subprogram was found (for argument capture) */
	bool certain;      /* the image may save only what is listed below */
	const char *why;   /* !certain: the reason (a static string) */
	uint8_t cc;        /* PROTO_CC_*, from DW_AT_calling_convention */
	unsigned cc_value; /* cc == PROTO_CC_UNSUPPORTED: the DWARF value */
	bool varargs;
	/* The named parameters' bytes if all were on the stack, and whether
	 * that bounds the stack area though the prototype is not certain: a
	 * function of external linkage, no clone, no DW_CC_nocall, not
	 * variadic (no compiler may have rewritten its signature). */
	size_t stack_upper;
	bool upper_bounds;
	bool maybe_ms;     /* ms_abi, or a location that looks like it: keep xmm6-15 */
	/* For argument capture: the kinds of the leading integer-register
	 * arguments (stops at the first that is not one), and of the return. */
	uint8_t argkind[6], nargkinds, retkind;
	/* certain only: */
	int nint, nsse;     /* argument registers used: 0-6, 0-8 */
	size_t stack_bytes; /* the exact caller stack area holding arguments */
	size_t stack_align; /* the largest alignment in it (>= 16 when used) */
	unsigned ret_regs;  /* PROTO_RET_*: where the return value is */
	bool ret_sse;       /* returns in xmm0 */
	bool ret_x87;       /* returns in st0 (and st1 for complex long double) */
};

/* The prototype of the function at link-time address vaddr of module m,
 * named symbol.  Never fails: out->known and out->certain say what it is.
 * Called under the engine lock. */
void proto_lookup(const struct pt_module *m, uint64_t vaddr, const char *symbol, struct pt_proto *out);
/* Closes the debug information read for the module file path (unloaded). */
void proto_forget(const char *path);

#endif
