/* libmathx.so: integer math for the calc example, one small function per
 * builtin (each one is a traced function). */
#include "mathx.h"

#define A0 args[0]
#define A1 args[1]
#define A2 args[2]

static int64_t m_abs(const int64_t *args, int n) { (void)n; return A0 < 0 ? -A0 : A0; }
static int64_t m_min(const int64_t *args, int n) { (void)n; return A0 < A1 ? A0 : A1; }
static int64_t m_max(const int64_t *args, int n) { (void)n; return A0 > A1 ? A0 : A1; }
static int64_t m_sign(const int64_t *args, int n) { (void)n; return (A0 > 0) - (A0 < 0); }
static int64_t m_clamp(const int64_t *args, int n) { (void)n; return A0 < A1 ? A1 : A0 > A2 ? A2 : A0; }

static int64_t gcd2(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a < 0 ? -a : a;
}

static int64_t m_gcd(const int64_t *args, int n) { (void)n; return gcd2(A0, A1); }
static int64_t m_lcm(const int64_t *args, int n) { (void)n; return A0 && A1 ? A0 / gcd2(A0, A1) * A1 : 0; }

static int64_t m_isqrt(const int64_t *args, int n)
{
	int64_t x = A0, r = 0, bit = (int64_t)1 << 62;

	(void)n;
	if (x < 0)
		return -1;
	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

static int64_t m_powmod(const int64_t *args, int n)
{
	uint64_t b = (uint64_t)A0, e = (uint64_t)A1, m = (uint64_t)A2, r = 1;

	(void)n;
	if (!m)
		return 0;
	b %= m;
	while (e) {
		if (e & 1)
			r = (unsigned __int128)r * b % m;
		b = (unsigned __int128)b * b % m;
		e >>= 1;
	}
	return (int64_t)r;
}

static int64_t m_isprime(const int64_t *args, int n)
{
	(void)n;
	if (A0 < 2)
		return 0;
	for (int64_t d = 2; d * d <= A0; d++)
		if (A0 % d == 0)
			return 0;
	return 1;
}

static int64_t m_collatz(const int64_t *args, int n)
{
	int64_t x = A0, steps = 0;

	(void)n;
	while (x > 1 && steps < 10000) {
		x = x & 1 ? 3 * x + 1 : x / 2;
		steps++;
	}
	return steps;
}

static int64_t m_popcount(const int64_t *args, int n) { (void)n; return __builtin_popcountll((uint64_t)A0); }

static int64_t m_digitsum(const int64_t *args, int n)
{
	int64_t x = A0 < 0 ? -A0 : A0, s = 0;

	(void)n;
	for (; x; x /= 10)
		s += x % 10;
	return s;
}

static int64_t m_reverse(const int64_t *args, int n)
{
	int64_t x = A0, r = 0;

	(void)n;
	for (; x > 0; x /= 10)
		r = r * 10 + x % 10;
	return r;
}

static int64_t m_fib(const int64_t *args, int n)
{
	int64_t a = 0, b = 1;

	(void)n;
	for (int64_t i = 0; i < A0; i++) {
		int64_t t = a + b;

		a = b;
		b = t;
	}
	return a;
}

static int64_t m_binom(const int64_t *args, int n)
{
	int64_t r = 1;

	(void)n;
	for (int64_t i = 1; i <= A1; i++)
		r = r * (A0 - A1 + i) / i;
	return r;
}

static int64_t m_hash(const int64_t *args, int n)
{
	uint64_t h = (uint64_t)A0 * 0x9e3779b97f4a7c15ULL;

	(void)n;
	return (int64_t)((h ^ (h >> 29)) & 0x7fffffff);
}

static int64_t m_phi(const int64_t *args, int n)
{
	(void)n;
	int64_t x = A0, r = A0; for (int64_t p = 2; p * p <= x; p++) if (x % p == 0) { while (x % p == 0) x /= p; r -= r / p; } if (x > 1) r -= r / x; return r;
}

static int64_t m_ndiv(const int64_t *args, int n)
{
	(void)n;
	int64_t c = 0; for (int64_t d = 1; d * d <= A0; d++) if (A0 % d == 0) c += d * d == A0 ? 1 : 2; return c;
}

static int64_t m_sigma(const int64_t *args, int n)
{
	(void)n;
	int64_t s = 0; for (int64_t d = 1; d * d <= A0; d++) if (A0 % d == 0) s += d + (d * d == A0 ? 0 : A0 / d); return s;
}

static int64_t m_issquare(const int64_t *args, int n)
{
	(void)n;
	int64_t r = 0; while ((r + 1) * (r + 1) <= A0) r++; return A0 >= 0 && r * r == A0;
}

static int64_t m_ispal(const int64_t *args, int n)
{
	(void)n;
	int64_t x = A0, r = 0; while (x > 0) { r = r * 10 + x % 10; x /= 10; } return A0 >= 0 && r == A0;
}

static int64_t m_ilog2(const int64_t *args, int n)
{
	(void)n;
	int64_t r = -1; for (uint64_t x = (uint64_t)A0; x; x >>= 1) r++; return r;
}

static int64_t m_nextpow2(const int64_t *args, int n)
{
	(void)n;
	uint64_t p = 1; while (p < (uint64_t)A0) p <<= 1; return (int64_t)p;
}

static int64_t m_bitrev(const int64_t *args, int n)
{
	(void)n;
	uint32_t x = (uint32_t)A0, r = 0; for (int i = 0; i < 32; i++) { r = r << 1 | (x & 1); x >>= 1; } return r;
}

static int64_t m_ctz(const int64_t *args, int n)
{
	(void)n;
	return A0 ? __builtin_ctzll((uint64_t)A0) : 64;
}

static int64_t m_clz(const int64_t *args, int n)
{
	(void)n;
	return A0 ? __builtin_clzll((uint64_t)A0) : 64;
}

static int64_t m_parity(const int64_t *args, int n)
{
	(void)n;
	return __builtin_parityll((uint64_t)A0);
}

static int64_t m_rotl(const int64_t *args, int n)
{
	(void)n;
	uint64_t x = (uint64_t)A0; int s = (int)(A1 & 63); return (int64_t)(s ? x << s | x >> (64 - s) : x);
}

static int64_t m_rotr(const int64_t *args, int n)
{
	(void)n;
	uint64_t x = (uint64_t)A0; int s = (int)(A1 & 63); return (int64_t)(s ? x >> s | x << (64 - s) : x);
}

static int64_t m_digits(const int64_t *args, int n)
{
	(void)n;
	int64_t x = A0 < 0 ? -A0 : A0, d = 1; while (x >= 10) { x /= 10; d++; } return d;
}

static int64_t m_mobius(const int64_t *args, int n)
{
	(void)n;
	int64_t x = A0, m = 1; for (int64_t p = 2; p * p <= x; p++) if (x % p == 0) { x /= p; if (x % p == 0) return 0; m = -m; } return x > 1 ? -m : m;
}

static int64_t m_triangular(const int64_t *args, int n)
{
	(void)n;
	return A0 * (A0 + 1) / 2;
}

static int64_t m_catalan(const int64_t *args, int n)
{
	(void)n;
	int64_t c = 1; for (int64_t i = 0; i < A0 && i < 30; i++) c = c * 2 * (2 * i + 1) / (i + 2); return c;
}

static int64_t m_factorial(const int64_t *args, int n)
{
	(void)n;
	int64_t f = 1; for (int64_t i = 2; i <= A0 && i <= 20; i++) f *= i; return f;
}

static int64_t m_lucas(const int64_t *args, int n)
{
	(void)n;
	int64_t a = 2, b = 1; for (int64_t i = 0; i < A0; i++) { int64_t t = a + b; a = b; b = t; } return a;
}

static int64_t m_tribonacci(const int64_t *args, int n)
{
	(void)n;
	int64_t a = 0, b = 0, c = 1; for (int64_t i = 0; i < A0; i++) { int64_t t = a + b + c; a = b; b = c; c = t; } return a;
}

static int64_t m_modinv(const int64_t *args, int n)
{
	(void)n;
	int64_t a = A0 % A1, m = A1, x0 = 0, x1 = 1; if (m <= 1) return 0; while (a > 1 && m) { int64_t q = a / m, t = m; m = a % m; a = t; t = x0; x0 = x1 - q * x0; x1 = t; } return x1 < 0 ? x1 + A1 : x1;
}

static int64_t m_crt2(const int64_t *args, int n)
{
	(void)n;
	for (int64_t x = 0; x < A2 * 7; x++) if (x % A2 == A0 % A2 && x % 7 == A1 % 7) return x; return -1;
}

static int64_t m_bits(const int64_t *args, int n)
{
	(void)n;
	return (A0 >> (A1 & 63)) & 1;
}

static int64_t m_setbit(const int64_t *args, int n)
{
	(void)n;
	return A0 | ((int64_t)1 << (A1 & 62));
}

static int64_t m_clearbit(const int64_t *args, int n)
{
	(void)n;
	return A0 & ~((int64_t)1 << (A1 & 62));
}

static int64_t m_avg(const int64_t *args, int n)
{
	(void)n;
	return (A0 & A1) + ((A0 ^ A1) >> 1);
}

static int64_t m_dist(const int64_t *args, int n)
{
	(void)n;
	return A0 > A1 ? A0 - A1 : A1 - A0;
}

static int64_t m_sqr(const int64_t *args, int n)
{
	(void)n;
	return A0 * A0;
}

static int64_t m_cube(const int64_t *args, int n)
{
	(void)n;
	return A0 * A0 * A0;
}

static int64_t m_mix(const int64_t *args, int n)
{
	(void)n;
	uint64_t h = (uint64_t)A0 ^ ((uint64_t)A1 * 0xff51afd7ed558ccdULL); h ^= h >> 33; return (int64_t)(h & 0x7fffffff);
}

const struct mathx_builtin mathx_builtins[] = {
	{ "phi", 1, m_phi },
	{ "ndiv", 1, m_ndiv },
	{ "sigma", 1, m_sigma },
	{ "issquare", 1, m_issquare },
	{ "ispal", 1, m_ispal },
	{ "ilog2", 1, m_ilog2 },
	{ "nextpow2", 1, m_nextpow2 },
	{ "bitrev", 1, m_bitrev },
	{ "ctz", 1, m_ctz },
	{ "clz", 1, m_clz },
	{ "parity", 1, m_parity },
	{ "rotl", 2, m_rotl },
	{ "rotr", 2, m_rotr },
	{ "digits", 1, m_digits },
	{ "mobius", 1, m_mobius },
	{ "triangular", 1, m_triangular },
	{ "catalan", 1, m_catalan },
	{ "factorial", 1, m_factorial },
	{ "lucas", 1, m_lucas },
	{ "tribonacci", 1, m_tribonacci },
	{ "modinv", 2, m_modinv },
	{ "crt2", 3, m_crt2 },
	{ "bits", 2, m_bits },
	{ "setbit", 2, m_setbit },
	{ "clearbit", 2, m_clearbit },
	{ "avg", 2, m_avg },
	{ "dist", 2, m_dist },
	{ "sqr", 1, m_sqr },
	{ "cube", 1, m_cube },
	{ "mix", 2, m_mix },

	{ "abs", 1, m_abs }, { "min", 2, m_min }, { "max", 2, m_max }, { "sign", 1, m_sign },
	{ "clamp", 3, m_clamp }, { "gcd", 2, m_gcd }, { "lcm", 2, m_lcm }, { "isqrt", 1, m_isqrt },
	{ "powmod", 3, m_powmod }, { "isprime", 1, m_isprime }, { "collatz", 1, m_collatz },
	{ "popcount", 1, m_popcount }, { "digitsum", 1, m_digitsum }, { "reverse", 1, m_reverse },
	{ "fib", 1, m_fib }, { "binom", 2, m_binom }, { "hash", 1, m_hash }, { 0, 0, 0 },
};
