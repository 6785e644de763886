/* The copy of a caller's stack arguments that images make for a body or a
 * typed handler whose stack area is not known exactly (tramp.h:
 * TRAMP_DYNAMIC_STACK_COPY), called from the images' code. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/saferead.h"
#include "arch/x86_64/tramp.h"

/* The part of this thread's own stack known to be mapped, [lo, hi): the
 * copy below is a plain move there, and a system call only elsewhere.  A
 * thread's own stack stays mapped while the thread runs (its TLS lives
 * with it), unlike a coroutine's heap stack, which is never cached. */
static __thread uintptr_t stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t stack_hi __attribute__((tls_model("initial-exec")));
extern void *__libc_stack_end; /* the main thread's stack top (glibc) */

static bool own_stack(uintptr_t lo, uintptr_t hi)
{
	uintptr_t tls = (uintptr_t)&stack_hi, top = (uintptr_t)__libc_stack_end;

	/* glibc keeps a thread's TLS at the top of its stack mapping */
	return (lo <= tls && tls < hi) || (lo <= top && top < hi);
}

/* A move the sanitizers do not see: the caller's frames hold redzones. */
static void move_bytes(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static void zero_bytes(void *dst, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}

/* Copies n bytes of the caller's stack arguments for a body with an unknown
 * stack area, zero past the end of the stack mapping: no fault whatever the
 * stack's depth.  On this thread's own stack it is a move (a variadic
 * function is traced at full speed); elsewhere, safe_read (system calls).
 * Called from images with only its arguments live: it may clobber every
 * caller-saved register. */
void tramp_copy_stack_args(void *dst, const void *src, size_t want)
{
	uintptr_t s = (uintptr_t)src, hi;
	size_t n = 0, got;

	if (s >= stack_lo && s < stack_hi) {
		n = stack_hi - s < want ? stack_hi - s : want;
		move_bytes(dst, src, n);
		if (n < want)
			zero_bytes((char *)dst + n, want - n);
		return;
	}
	do {
		size_t chunk = want - n < SAFE_READ_MAX ? want - n : SAFE_READ_MAX;

		got = safe_read((char *)dst + n, s + n, chunk);
		n += got;
	} while (got && n < want);
	if (n < want)
		zero_bytes((char *)dst + n, want - n);
	if (n && own_stack(s, hi = safe_mapped_end(s, s + (32u << 20)))) {
		/* deeper calls extend the range down; the top stays */
		stack_lo = stack_hi == hi && stack_lo < s ? stack_lo : s;
		stack_hi = hi;
	}
}

