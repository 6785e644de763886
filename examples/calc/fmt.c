/* Number formatting for calc's report: words, roman numerals, bases,
 * grouping.  Each is small and separate: they are traced functions. */
#include <stdio.h>
#include <string.h>

#include "calc.h"

static const char *const ones[] = { "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
				    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
				    "sixteen", "seventeen", "eighteen", "nineteen" };
static const char *const tens[] = { "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
				    "ninety" };

static size_t append(char *out, size_t cap, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (n + l + 1 < cap) {
		memcpy(out + n, s, l + 1);
		n += l;
	}
	return n;
}

static size_t words_below_100(char *out, size_t cap, size_t n, int v)
{
	if (v < 20)
		return append(out, cap, n, ones[v]);
	n = append(out, cap, n, tens[v / 10]);
	if (v % 10) {
		n = append(out, cap, n, "-");
		n = append(out, cap, n, ones[v % 10]);
	}
	return n;
}

static size_t words_below_1000(char *out, size_t cap, size_t n, int v)
{
	if (v >= 100) {
		n = append(out, cap, n, ones[v / 100]);
		n = append(out, cap, n, " hundred");
		if (v % 100)
			n = append(out, cap, n, " ");
		else
			return n;
	}
	return words_below_100(out, cap, n, v % 100);
}

size_t fmt_words(char *out, size_t cap, int64_t v)
{
	static const char *const scale[] = { "", " thousand", " million", " billion" };
	int groups[4] = { 0 }, ng = 0;
	size_t n = 0;

	out[0] = '\0';
	if (v < 0) {
		n = append(out, cap, n, "minus ");
		v = -v;
	}
	if (v == 0)
		return append(out, cap, n, ones[0]);
	for (; v && ng < 4; v /= 1000)
		groups[ng++] = (int)(v % 1000);
	while (ng-- > 0) {
		if (!groups[ng])
			continue;
		if (n && out[n - 1] != ' ')
			n = append(out, cap, n, " ");
		n = words_below_1000(out, cap, n, groups[ng]);
		n = append(out, cap, n, scale[ng]);
	}
	return n;
}

size_t fmt_roman(char *out, size_t cap, int64_t v)
{
	static const struct { int v; const char *s; } r[] = {
		{ 1000, "M" }, { 900, "CM" }, { 500, "D" }, { 400, "CD" }, { 100, "C" }, { 90, "XC" },
		{ 50, "L" }, { 40, "XL" }, { 10, "X" }, { 9, "IX" }, { 5, "V" }, { 4, "IV" }, { 1, "I" },
	};
	size_t n = 0;

	out[0] = '\0';
	if (v <= 0 || v >= 4000)
		return append(out, cap, n, "-");
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		for (; v >= r[i].v; v -= r[i].v)
			n = append(out, cap, n, r[i].s);
	return n;
}

size_t fmt_base(char *out, size_t cap, uint64_t v, int base)
{
	char tmp[72];
	size_t n = 0;

	do {
		tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % (uint64_t)base];
		v /= (uint64_t)base;
	} while (v && n < sizeof(tmp));
	for (size_t i = 0; i < n && i + 1 < cap; i++)
		out[i] = tmp[n - 1 - i];
	out[n < cap ? n : cap - 1] = '\0';
	return n;
}

size_t fmt_grouped(char *out, size_t cap, int64_t v)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%lld", (long long)(v < 0 ? -v : v));
	size_t n = 0;

	if (v < 0 && n + 1 < cap)
		out[n++] = '-';
	for (int i = 0; i < nd && n + 2 < cap; i++) {
		if (i && (nd - i) % 3 == 0)
			out[n++] = ',';
		out[n++] = digits[i];
	}
	out[n] = '\0';
	return n;
}

uint64_t fmt_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}
