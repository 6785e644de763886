/* Functions whose ABI the images got wrong (shared/repro/hooks, issue 12):
 * built with gcc -O2 -g (abifns.c), -mavx2 (abifns_avx.c), -O0
 * (abifns_o0.c), without -g (abifns_nodbg.c). */
#ifndef PT_TEST_ABIFNS_H
#define PT_TEST_ABIFNS_H

#include <immintrin.h>

struct __attribute__((aligned(32))) a32 { long a, b, c, d; };
union vu { unsigned char raw[19]; __m128 v; }; /* 32 bytes */
struct pt { double x, y; };
struct big640 { long v[80]; };

long outer(long x);                     /* calls the nested inner.0 (static chain in r10) */
double vsum128(__m128d a, __m128d b);
__m128d vret128(double x);
__float128 qadd(__float128 a, __float128 b);
long double ldret(long x);
_Complex long double cldret(long x);
_Complex double cret(double x);
#ifndef __clang__ /* clang has no _Decimal types */
_Decimal64 dadd(_Decimal64 a, _Decimal64 b);
#endif
long al32(long r1, long r2, long r3, long r4, long r5, long r6, long s1, struct a32 s);
long vsum(int n, ...);
double dist8(struct pt a, struct pt b, struct pt c, struct pt d, struct pt e, struct pt f, struct pt g,
	     struct pt h);
long pick_caller(long n);               /* calls pick.isra.0 */

/* abifns_avx.c: the callers are built with AVX too (a 32-byte vector
 * argument is passed in ymm only between AVX code) */
#ifdef __AVX__
double vsum256(__m256d a);
double vmix(__m256d a, double x);
#endif
long al32v(long r1, long r2, long r3, long r4, long r5, long r6, struct a32 s);
double call_vsum256(double base);
double call_vmix(double base);
long call_al32v(long base);
/* abifns_clang_avx.c (clang -mavx2): vunion gets u in ymm0 */
long vunion(long a, union vu u, long b);
long call_vunion(long base);

/* ms_caller.S: calls msf(1, 2, 3, 4) as an ms_abi caller does, with
 * values in rdi, rsi and xmm6-15, which an ms_abi callee preserves; stores
 * what they hold after the call in out[0..11].  Returns msf's result. */
long ms_call_check(unsigned long out[12]);

/* abifns_o0.c */
__attribute__((ms_abi)) long msf(long a, long b, long c, long d);

/* abifns_nodbg.c */
long bigsum(struct big640 b);

#endif
