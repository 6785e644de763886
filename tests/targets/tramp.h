/* The trampolines of tramp.S, and a counter generated into executable
 * memory for sites too far from them (shared libraries). */
#ifndef PT_TEST_TRAMP_H
#define PT_TEST_TRAMP_H

#include <stdint.h>
#include <string.h>

#include "poketrace.h"

void tramp_count_a(void);
void tramp_count_b(void);
void tramp_count_tls(void);
void tramp_ret42(void);
extern volatile long count_a, count_b;
extern __thread long tls_count;

/* push rax; movabs rax, &counter; lock incq (rax); pop rax; ret — in
 * executable memory within reach of `near`.  Returns the code address. */
static inline void *make_counter_near(const void *near, volatile long *counter)
{
	uint8_t code[17] = { 0x50, 0x48, 0xb8 };
	uint64_t a = (uint64_t)(uintptr_t)counter;
	void *p = NULL;

	memcpy(code + 3, &a, 8);
	code[11] = 0xf0; /* lock */
	code[12] = 0x48; /* incq (%rax) */
	code[13] = 0xff;
	code[14] = 0x00;
	code[15] = 0x58; /* pop rax */
	code[16] = 0xc3; /* ret */
	if (poketrace_execmem_alloc(near, sizeof(code), &p) < 0 ||
	    poketrace_execmem_write(p, code, sizeof(code)) < 0)
		return NULL;
	return p;
}

#endif
