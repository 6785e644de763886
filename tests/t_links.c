/* Links: fentry (typed and ctx), fexit, fmod_ret, replace on functions of
 * every shape; stacking order; attach/detach while threads run; recursion;
 * detaching while a thread sleeps in the body; unwinding; bad input. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "targets/hookfns.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct poketrace_link *attach(enum poketrace_link_kind k, const char *fn, void *h, void *data,
				     int prio, unsigned flags)
{
	struct poketrace_link_opts o = { sizeof(o), data, prio, flags };
	struct poketrace_link *l = NULL;

	OK(poketrace_link_attach(k, fn, h, &o, &l));
	CHECK(l, "no link");
	return l;
}

/* ------------------------------------------------------------ fentry */

static long seen[8];
static int seen_n;
static double seen_d[2];

static void typed_h2(long a, long b)
{
	seen[0] = a, seen[1] = b, seen_n++;
}

static void typed_h8(long a, long b, long c, long d, long e, long f, long g, long h)
{
	long v[8] = { a, b, c, d, e, f, g, h };

	memcpy(seen, v, sizeof(v));
	seen_n++;
}

static void typed_hd(double x, float y)
{
	seen_d[0] = x, seen_d[1] = y, seen_n++;
}

static void ctx_record(struct poketrace_ctx *c)
{
	for (int i = 0; i < c->fn->nargs; i++)
		seen[i] = (long)c->args[i];
	seen_n++;
	CHECK(c->data == (void *)0x1234, "ctx->data %p", c->data);
}

static void fentry_typed(void)
{
	struct poketrace_link *a, *b, *c;

	OK(poketrace_init(NULL));
	a = attach(POKETRACE_FENTRY, "h2", (void *)typed_h2, NULL, 0, POKETRACE_LINK_TYPED);
	b = attach(POKETRACE_FENTRY, "h8", (void *)typed_h8, NULL, 0, POKETRACE_LINK_TYPED);
	c = attach(POKETRACE_FENTRY, "hd", (void *)typed_hd, NULL, 0, POKETRACE_LINK_TYPED);
	CHECK(h2(3, 4) == 7 && seen[0] == 3 && seen[1] == 4 && seen_n == 1, "h2: %ld %ld", seen[0], seen[1]);
	CHECK(h8(1, 2, 3, 4, 5, 6, 7, 8) == 204, "h8 result");
	for (int i = 0; i < 8; i++)
		CHECK(seen[i] == i + 1, "h8 typed handler arg %d = %ld (stack arguments too)", i, seen[i]);
	CHECK(hd(1.5, 2.5f) == 5.5 && seen_d[0] == 1.5 && seen_d[1] == 2.5, "hd: %f %f", seen_d[0], seen_d[1]);
	OK(poketrace_link_detach(a));
	OK(poketrace_link_detach(b));
	OK(poketrace_link_detach(c));
	seen_n = 0;
	CHECK(h2(1, 1) == 2 && seen_n == 0, "handler ran after detach");
}

static void fentry_ctx(void)
{
	struct poketrace_link *l;
	const struct poketrace_fn *fn;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FENTRY, "h6", (void *)ctx_record, (void *)0x1234, 0, 0);
	fn = poketrace_link_fn(l);
	CHECK(!strcmp(fn->symbol, "h6") && fn->addr == (uintptr_t)h6, "fn %s %#lx", fn->symbol, fn->addr);
	CHECK(h6(1, 2, 3, 4, 5, 6) == 91, "h6 result");
	for (int i = 0; i < 6; i++)
		CHECK(seen[i] == i + 1, "ctx->args[%d] = %ld", i, seen[i]);
	OK(poketrace_link_detach(l));
}

/* -------------------------------------------------------------- fexit */

static struct poketrace_ctx last;
static int exits;

static void on_exit_(struct poketrace_ctx *c)
{
	last = *c;
	exits++;
}

static void fexit_shapes(void)
{
	struct poketrace_link *l[8];
	struct small sm = { 4, 5 };
	struct big bg = { 1, 2, 3 };

	OK(poketrace_init(NULL));
	l[0] = attach(POKETRACE_FEXIT, "h2", (void *)on_exit_, NULL, 0, 0);
	l[1] = attach(POKETRACE_FEXIT, "h8", (void *)on_exit_, NULL, 0, 0);
	l[2] = attach(POKETRACE_FEXIT, "hd", (void *)on_exit_, NULL, 0, 0);
	l[3] = attach(POKETRACE_FEXIT, "hs", (void *)on_exit_, NULL, 0, 0);
	l[4] = attach(POKETRACE_FEXIT, "hbig", (void *)on_exit_, NULL, 0, 0);
	l[5] = attach(POKETRACE_FEXIT, "hv", (void *)on_exit_, NULL, 0, 0);
	l[6] = attach(POKETRACE_FEXIT, "h0", (void *)on_exit_, NULL, 0, 0);
	l[7] = attach(POKETRACE_FEXIT, "hmix", (void *)on_exit_, NULL, 0, 0);

	CHECK(h2(30, 12) == 42 && last.ret == 42 && last.args[0] == 30 && last.args[1] == 12, "h2 exit");
	CHECK(h8(1, 2, 3, 4, 5, 6, 7, 8) == 204 && last.ret == 204, "h8: 7+ arguments");
	CHECK(last.fn->flags & POKETRACE_FN_STACK_ARGS, "h8 has stack arguments");
	CHECK(hd(2.0, 0.5f) == 4.5 && poketrace_ctx_ret_double(&last) == 4.5, "hd: double return");
	CHECK(last.fn->nfargs == 2 && poketrace_ctx_double(&last, 0) == 2.0, "hd: xmm args");
	CHECK(hs(sm, 7) == 52 && last.ret == 52, "struct by value in registers");
	CHECK(hbig(bg, 4) == 127 && last.ret == 127, "struct by value on the stack");
	CHECK(hv(10, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L) == 385 && last.ret == 385, "varargs");
	CHECK(last.fn->flags & POKETRACE_FN_VARARGS, "hv is varargs");
	CHECK(h0() == 42 && last.ret == 42, "no arguments");
	CHECK(hmix(1, 2.0, 3, 4.0) == 30.0 && poketrace_ctx_ret_double(&last) == 30.0, "mixed");
	CHECK(exits == 9, "exits %d", exits);
	OK(poketrace_links_detach(l, 8));
	CHECK(h2(1, 2) == 3 && exits == 9, "after detach");
}

/* ---------------------------------------------------- fmod_ret, replace */

static int modret(struct poketrace_ctx *c)
{
	if (c->args[0] != 5)
		return 0;
	c->ret = 99;
	return 1;
}

static struct poketrace_link *repl_link;

static long my_h2(long a, long b)
{
	long (*orig)(long, long) = (long (*)(long, long))poketrace_link_original(repl_link);

	return orig(a, b) * 10;
}

static void fmod_ret_replace(void)
{
	struct poketrace_link *m, *x;

	OK(poketrace_init(NULL));
	m = attach(POKETRACE_FMOD_RET, "h1", (void *)modret, NULL, 0, 0);
	CHECK(h1(5) == 99 && h1(4) == 5, "fmod_ret: %ld %ld", h1(5), h1(4));
	x = attach(POKETRACE_FEXIT, "h1", (void *)on_exit_, NULL, 0, 0);
	exits = 0;
	CHECK(h1(5) == 99 && exits == 1 && last.ret == 99, "fexit sees the overridden value");
	OK(poketrace_link_detach(m));
	CHECK(h1(5) == 6 && last.ret == 6, "override gone");
	OK(poketrace_link_detach(x));

	repl_link = attach(POKETRACE_REPLACE, "h2", (void *)my_h2, NULL, 0, 0);
	CHECK(h2(1, 2) == 30, "replaced: %ld", h2(1, 2));
	x = attach(POKETRACE_FEXIT, "h2", (void *)on_exit_, NULL, 0, 0);
	CHECK(h2(2, 2) == 40 && last.ret == 40, "fexit around a replacement");
	OK(poketrace_link_detach(x));
	CHECK(h2(2, 3) == 50, "replacement alone again");
	OK(poketrace_link_detach(repl_link));
	CHECK(h2(2, 3) == 5, "original back");
}

/* ------------------------------------------------------------ ordering */

static void mark(struct poketrace_ctx *c)
{
	order_log[order_n++ & 31] = (int)(intptr_t)c->data;
}

static int mark_modret(struct poketrace_ctx *c)
{
	mark(c);
	return 0;
}

static void stacking_order(void)
{
	struct poketrace_link_spec s[] = {
		{ POKETRACE_FEXIT, "horder", 0, (void *)mark, { sizeof(struct poketrace_link_opts), (void *)7, 0, 0 } },
		{ POKETRACE_FENTRY, "horder", 0, (void *)mark, { sizeof(struct poketrace_link_opts), (void *)3, 2, 0 } },
		{ POKETRACE_FENTRY, "horder", 0, (void *)mark, { sizeof(struct poketrace_link_opts), (void *)1, 0, 0 } },
		{ POKETRACE_FMOD_RET, "horder", 0, (void *)mark_modret, { sizeof(struct poketrace_link_opts), (void *)4, 0, 0 } },
		{ POKETRACE_FENTRY, "horder", 0, (void *)mark, { sizeof(struct poketrace_link_opts), (void *)2, 1, 0 } },
		{ POKETRACE_FEXIT, "horder", 0, (void *)mark, { sizeof(struct poketrace_link_opts), (void *)8, 0, 0 } },
	};
	static const int want[] = { 1, 2, 3, 4, 100, 7, 8 };
	struct poketrace_link *l[6];
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	poketrace_get_stats(&s0);
	OK(poketrace_links_attach(s, 6));
	poketrace_get_stats(&s1);
	CHECK(s1.batches == s0.batches + 1, "6 links took %lu batches", (unsigned long)(s1.batches - s0.batches));
	CHECK(horder(9) == 9, "result");
	CHECK(order_n == 7, "%d marks", order_n);
	for (int i = 0; i < 7; i++)
		CHECK(order_log[i] == want[i], "position %d: %d, want %d", i, order_log[i], want[i]);
	for (int i = 0; i < 6; i++)
		l[i] = s[i].link;
	OK(poketrace_links_detach(l, 6));
	order_n = 0;
	CHECK(horder(1) == 1 && order_n == 1, "only the body after detaching");
}

TEST_MAIN(CASE(fentry_typed), CASE(fentry_ctx), CASE(fexit_shapes), CASE(fmod_ret_replace),
	  CASE(stacking_order))
