/* A line of output built without printf, for the commands that print one
 * line per call (replay, dump --chrome): formatting numbers by hand is most
 * of their time otherwise.  The formats are the printf ones named in the
 * comments. */
#ifndef PT_CLI_OUTLINE_H
#define PT_CLI_OUTLINE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define OUTLINE_CAP 4096

struct outline {
	char buf[OUTLINE_CAP + 64];
	size_t len;
};

static inline void ol_flush(struct outline *o)
{
	fwrite_unlocked(o->buf, 1, o->len, stdout);
	o->len = 0;
}

static inline void ol_mem(struct outline *o, const char *s, size_t n)
{
	if (o->len + n > OUTLINE_CAP) {
		ol_flush(o);
		if (n > OUTLINE_CAP) {
			fwrite_unlocked(s, 1, n, stdout);
			return;
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void ol_str(struct outline *o, const char *s)
{
	ol_mem(o, s, strlen(s));
}

static inline void ol_spaces(struct outline *o, size_t n)
{
	while (n) {
		size_t k = n < 64 ? n : 64;

		if (o->len + k > OUTLINE_CAP)
			ol_flush(o);
		memset(o->buf + o->len, ' ', k);
		o->len += k;
		n -= k;
	}
}

/* "%*llu" */
static inline void ol_uint(struct outline *o, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
	while ((v /= 10));
	if (width > n)
		ol_spaces(o, (size_t)(width - n));
	ol_mem(o, d + sizeof(d) - n, (size_t)n);
}

/* "%0*llu" */
static inline void ol_uint0(struct outline *o, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n < width)
		d[sizeof(d) - 1 - n++] = '0';
	ol_mem(o, d + sizeof(d) - n, (size_t)n);
}

/* format_time(): "%7.3f ns" (or us, ms, " s") of ns */
static inline void ol_time(struct outline *o, double ns)
{
	static const char *const unit[] = { " ns", " us", " ms", "  s" };
	double scale = 1;
	int u = 0;
	uint64_t x;

	if (ns >= 1e9)
		scale = 1e9, u = 3;
	else if (ns >= 1e6)
		scale = 1e6, u = 2;
	else if (ns >= 1e3)
		scale = 1e3, u = 1;
	x = (uint64_t)(ns / scale * 1000 + 0.5);
	ol_uint(o, x / 1000, 3);
	ol_mem(o, ".", 1);
	ol_uint0(o, x % 1000, 3);
	ol_str(o, unit[u]);
}

#endif
