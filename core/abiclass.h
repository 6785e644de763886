/* The System V x86-64 psABI classification (3.2.3) of a type described by
 * DWARF: which eightbytes go in INTEGER or SSE registers, x87, or memory;
 * and, for C++, whether the type is passed by invisible reference. */
#ifndef PT_CORE_ABICLASS_H
#define PT_CORE_ABICLASS_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stdint.h>

enum abi_class { AC_NONE = 0, AC_INT, AC_SSE, AC_SSEUP, AC_X87, AC_X87UP, AC_CX87, AC_MEM };

struct abi_type {
	uint64_t size, align;  /* bytes; align: what the stack slot needs */
	int n;                 /* eightbytes in cls (0 for an empty type) */
	uint8_t cls[8];        /* after the post-merger cleanup */
	bool memory;           /* passed on the stack, returned through a hidden pointer */
	bool byref;            /* C++ non-trivial for calls: passed as a pointer, returned in memory */
	bool align_ambiguous;  /* aligned > 8 unless packed, and DWARF cannot say which */
	const char *uncertain; /* not classified: why (NULL when it was) */
};

/* Classifies type (a DW_AT_type target).  cxx: the CU is C++ (classes may
 * be passed by invisible reference). */
void abi_classify(Dwarf_Die *type, bool cxx, struct abi_type *out);

#endif
