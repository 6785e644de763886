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

const struct mathx_builtin mathx_builtins[] = {
	{ "abs", 1, m_abs }, { "min", 2, m_min }, { "max", 2, m_max }, { "sign", 1, m_sign },
	{ "clamp", 3, m_clamp }, { "gcd", 2, m_gcd }, { "lcm", 2, m_lcm }, { "isqrt", 1, m_isqrt },
	{ "powmod", 3, m_powmod }, { "isprime", 1, m_isprime }, { "collatz", 1, m_collatz },
	{ "popcount", 1, m_popcount }, { "digitsum", 1, m_digitsum }, { "reverse", 1, m_reverse },
	{ "fib", 1, m_fib }, { "binom", 2, m_binom }, { "hash", 1, m_hash }, { 0, 0, 0 },
};
