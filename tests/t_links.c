/* Links: fentry (typed and ctx), fexit, fmod_ret, replace on functions of
 * every shape; stacking order; attach/detach while threads run; recursion;
 * detaching while a thread sleeps in the body; unwinding; bad input. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86_64/poke.h"
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

static long typed1_sum;
static int typed1_n;

static void typed_h1(long a)
{
	typed1_sum += a, typed1_n++;
}

static void typed_h1_other(long a)
{
	typed1_sum -= a;
}

/* Functions whose typed-only images would be the same code share one image,
 * counted: it lives while any of them uses it. */
static void typed_shared(void)
{
	struct poketrace_stats s0, s1, s2, s3;
	struct poketrace_link *a, *b, *c;

	OK(poketrace_init(NULL));
	poketrace_get_stats(&s0);
	a = attach(POKETRACE_FENTRY, "h1", (void *)typed_h1, NULL, 0, POKETRACE_LINK_TYPED);
	b = attach(POKETRACE_FENTRY, "hrec", (void *)typed_h1, NULL, 0, POKETRACE_LINK_TYPED);
	poketrace_get_stats(&s1);
	CHECK(s1.images_live == s0.images_live + 1, "h1 and hrec, same shape and handler: %lu images",
	      (unsigned long)(s1.images_live - s0.images_live));
	c = attach(POKETRACE_FENTRY, "horder", (void *)typed_h1_other, NULL, 0, POKETRACE_LINK_TYPED);
	poketrace_get_stats(&s2);
	CHECK(s2.images_live == s1.images_live + 1, "another handler shares nothing");
	CHECK(h1(10) == 11 && hrec(3) == 6 && typed1_n == 5 && typed1_sum == 10 + 3 + 2 + 1 + 0,
	      "handlers: %d calls, sum %ld", typed1_n, typed1_sum);
	CHECK(horder(4) == 4 && typed1_sum == 16 - 4, "horder's own handler: sum %ld", typed1_sum);
	/* one user gone: the image stays for the other */
	OK(poketrace_link_detach(a));
	poketrace_get_stats(&s3);
	CHECK(s3.images_live == s2.images_live, "the shared image was retired while hrec uses it");
	typed1_n = 0;
	CHECK(h1(1) == 2 && hrec(1) == 1 && typed1_n == 2, "after detaching h1: %d handler calls", typed1_n);
	OK(poketrace_link_detach(b));
	OK(poketrace_link_detach(c));
	poketrace_get_stats(&s3);
	CHECK(s3.images_live == s0.images_live, "images left: %lu", (unsigned long)(s3.images_live - s0.images_live));
	typed1_n = 0;
	CHECK(hrec(2) == 3 && typed1_n == 0, "a handler ran after detach");
}

static void fentry_ctx(void)
{
	struct poketrace_link *l;
	const struct poketrace_fn *fn;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FENTRY, "h6", (void *)ctx_record, (void *)0x1234, 0, 0);
	fn = poketrace_link_fn(l);
	CHECK(!strcmp(fn->symbol, "h6") && fn->addr == (uintptr_t)h6, "fn %s %#lx", fn->symbol, fn->addr);
	/* the link's description is the handlers' ctx->fn (h6: six integers, prototype known) */
	CHECK(fn->nargs == 6 && (fn->flags & POKETRACE_FN_PROTO), "poketrace_link_fn: nargs %u flags %#x",
	      fn->nargs, fn->flags);
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
	CHECK(exits == 8, "exits %d", exits);
	OK(poketrace_links_detach(l, 8));
	CHECK(h2(1, 2) == 3 && exits == 8, "after detach");
}

/* A variadic function's stack area is copied for its body: with a plain
 * move on the thread's own stack (known after the first call), with a
 * system call on any other stack: a coroutine's here, whose mapping ends
 * a few hundred bytes above the call (the copy stops there, no fault). */
static long on_heap_result;

static void on_heap_stack(void)
{
	on_heap_result = hv(10, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
}

static void varargs_stacks(void)
{
	static ucontext_t main_ctx, co_ctx;
	size_t size = 64 * 1024;
	char *stack = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct poketrace_link *l;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FEXIT, "hv", (void *)on_exit_, NULL, 0, 0);
	/* the first call finds the stack, the others move (other values each
	 * time: a stale copy would give the sum of an earlier call) */
	for (long i = 0; i < 3; i++) {
		long want = 0;

		for (long k = 1; k <= 10; k++)
			want += (k + i) * k;
		CHECK(hv(10, 1 + i, 2 + i, 3 + i, 4 + i, 5 + i, 6 + i, 7 + i, 8 + i, 9 + i, 10 + i) == want &&
			      last.ret == (uint64_t)want, "call %ld", i);
	}
	CHECK(hv(3, 4L, 5L, 6L) == 32, "few arguments");
	CHECK(stack != MAP_FAILED && munmap(stack + size, 4096) == 0 && getcontext(&co_ctx) == 0, "stack");
	co_ctx.uc_stack.ss_sp = stack;
	co_ctx.uc_stack.ss_size = size;
	co_ctx.uc_link = &main_ctx;
	makecontext(&co_ctx, on_heap_stack, 0);
	CHECK(swapcontext(&main_ctx, &co_ctx) == 0, "swapcontext");
	CHECK(on_heap_result == 385 && last.ret == 385, "on a heap stack: %ld", on_heap_result);
	CHECK(exits == 5, "exits %d", exits);
	OK(poketrace_link_detach(l));
	munmap(stack, size);
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

/* A replacement runs as soon as the batch's first bytes are written, in
 * any thread, before poketrace_link_attach returns: the link it reads must
 * be in *out by then.  The test hook calls h2 at that instant (step 3). */
static struct poketrace_link *early_link;
static long early_ret = -1;
static int early_null;

static long early_h2(long a, long b)
{
	struct poketrace_link *l = __atomic_load_n(&early_link, __ATOMIC_ACQUIRE);

	if (!l) {
		early_null++;
		return -1;
	}
	return ((long (*)(long, long))poketrace_link_original(l))(a, b) * 100;
}

static void call_h2_when_live(int step)
{
	if (step == 3)
		early_ret = h2(2, 3);
}

static void replace_sees_its_link(void)
{
	OK(poketrace_init(NULL));
	poke_test_hook = call_h2_when_live;
	OK(poketrace_link_attach(POKETRACE_REPLACE, "h2", (void *)early_h2, NULL, &early_link));
	poke_test_hook = NULL;
	CHECK(early_null == 0 && early_ret == 500, "the replacement ran %d time(s) before its link was "
	      "written out; h2(2, 3) gave %ld", early_null, early_ret);
	CHECK(h2(2, 3) == 500, "replaced: %ld", h2(2, 3));
	OK(poketrace_link_detach(early_link));
	CHECK(h2(2, 3) == 5, "restored: %ld", h2(2, 3));
	CHECK(poketrace_link_attach(POKETRACE_REPLACE, "no_such_function_xyz", (void *)early_h2, NULL,
				    &early_link) < 0 && !early_link, "a failed attach leaves *out NULL");
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

/* ------------------------------------------------ every kind, every shape */

static int calls_seen;

static void count_ctx(struct poketrace_ctx *c)
{
	(void)c;
	calls_seen++;
}

static int pass_modret(struct poketrace_ctx *c)
{
	(void)c;
	calls_seen++;
	return 0;
}

/* Calls each of the 10 shapes once (a CHECK's message arguments are only
 * evaluated when it fails); bonus: what replacements add. */
static void call_shapes(int bonus)
{
	struct small sm = { 4, 5 };
	struct big bg = { 1, 2, 3 };

	CHECK(h0() == 42 + bonus, "h0 %d", h0());
	CHECK(h1(1) == 2 && h2(30, 12) == 42, "h1/h2");
	CHECK(h6(1, 2, 3, 4, 5, 6) == 91, "h6: 6 integer arguments");
	CHECK(h8(1, 2, 3, 4, 5, 6, 7, 8) == 204 + bonus, "h8: 8 integer arguments %ld", h8(1, 2, 3, 4, 5, 6, 7, 8));
	CHECK(hd(2.0, 0.5f) == 4.5 + bonus, "hd: double and float arguments");
	CHECK(hmix(1, 2.0, 3, 4.0) == 30.0, "hmix: mixed");
	CHECK(hs(sm, 7) == 52 + bonus, "hs: struct by value in registers");
	CHECK(hbig(bg, 4) == 127, "hbig: struct by value on the stack");
	CHECK(hv(10, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L) == 385, "hv: varargs");
}

static void kinds_by_shape(void)
{
	static const char *const shapes[] = { "h0", "h1", "h2", "h6", "h8", "hd", "hmix", "hs", "hbig", "hv" };
	const enum poketrace_link_kind kinds[] = { POKETRACE_FENTRY, POKETRACE_FEXIT, POKETRACE_FMOD_RET };
	void *handlers[] = { (void *)count_ctx, (void *)count_ctx, (void *)pass_modret };
	const size_t n = sizeof(shapes) / sizeof(shapes[0]);
	struct poketrace_link_spec s[10];
	struct poketrace_link *l[10];

	OK(poketrace_init(NULL));
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < n; i++) {
			memset(&s[i], 0, sizeof(s[i]));
			s[i].kind = kinds[k];
			s[i].func = shapes[i];
			s[i].handler = handlers[k];
		}
		OK(poketrace_links_attach(s, n));
		calls_seen = 0;
		call_shapes(0);
		CHECK(calls_seen == 10, "kind %d: handlers ran %d times for 10 calls", kinds[k], calls_seen);
		for (size_t i = 0; i < n; i++)
			l[i] = s[i].link;
		OK(poketrace_links_detach(l, n));
	}
	/* replace, on shapes with registers, stack arguments, structs, floats */
	{
		struct { const char *fn; void *repl; void **orig; } r[] = {
			{ "h0", (void *)r_h0, &orig_h0 }, { "h8", (void *)r_h8, &orig_h8 },
			{ "hs", (void *)r_hs, &orig_hs }, { "hd", (void *)r_hd, &orig_hd },
		};

		for (int i = 0; i < 4; i++) {
			memset(&s[i], 0, sizeof(s[i]));
			s[i].kind = POKETRACE_REPLACE;
			s[i].func = r[i].fn;
			s[i].handler = r[i].repl;
		}
		OK(poketrace_links_attach(s, 4));
		for (int i = 0; i < 4; i++) {
			*r[i].orig = poketrace_link_original(s[i].link);
			l[i] = s[i].link;
		}
		call_shapes(1000);
		/* and with an fexit around each replacement */
		for (int i = 0; i < 4; i++) {
			memset(&s[4 + i], 0, sizeof(s[0]));
			s[4 + i].kind = POKETRACE_FEXIT;
			s[4 + i].func = r[i].fn;
			s[4 + i].handler = (void *)count_ctx;
		}
		OK(poketrace_links_attach(s + 4, 4));
		calls_seen = 0;
		call_shapes(1000);
		CHECK(calls_seen == 4, "fexit around replacements: %d", calls_seen);
		for (int i = 0; i < 4; i++)
			l[4 + i] = s[4 + i].link;
		OK(poketrace_links_detach(l, 8));
		call_shapes(0);
	}
}

/* Moving a hook from one function to another: one batch, no window with
 * both or neither. */
static void update_one_batch(void)
{
	struct poketrace_link *a;
	struct poketrace_link_spec s = { POKETRACE_FENTRY, "h2", 0, (void *)count_ctx, { 0 }, NULL };
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	a = attach(POKETRACE_FENTRY, "h1", (void *)count_ctx, NULL, 0, 0);
	calls_seen = 0;
	h1(1);
	CHECK(calls_seen == 1, "h1 hooked");
	poketrace_get_stats(&s0);
	OK(poketrace_links_update(&a, 1, &s, 1));
	poketrace_get_stats(&s1);
	CHECK(s1.batches == s0.batches + 1, "update took %lu batches", (unsigned long)(s1.batches - s0.batches));
	h1(1);
	h2(1, 1);
	CHECK(calls_seen == 2, "after the update: only h2 is hooked (%d)", calls_seen);
	/* a failing update changes nothing */
	{
		struct poketrace_link_spec bad = { POKETRACE_FENTRY, "no_such", 0, (void *)count_ctx, { 0 }, NULL };

		CHECK(poketrace_links_update(&s.link, 1, &bad, 1) == -ENOENT, "bad update");
		h2(1, 1);
		CHECK(calls_seen == 3, "the failed update detached h2's link");
	}
	OK(poketrace_link_detach(s.link));
}

/* ------------------------------------------------ no prototype (no -g) */

static void no_prototype(void)
{
	struct poketrace_link *l[4];

	OK(poketrace_init(NULL));
	l[0] = attach(POKETRACE_FEXIT, "nd2", (void *)on_exit_, NULL, 0, 0);
	l[1] = attach(POKETRACE_FEXIT, "nd8", (void *)on_exit_, NULL, 0, 0);
	l[2] = attach(POKETRACE_FEXIT, "ndv", (void *)on_exit_, NULL, 0, 0);
	l[3] = attach(POKETRACE_FENTRY, "nd2", (void *)ctx_record, (void *)0x1234, 0, 0);
	CHECK(nd2(5, 6) == 21 && last.ret == 21, "nd2");
	CHECK(!(last.fn->flags & POKETRACE_FN_PROTO) && last.fn->nargs == 6 && last.fn->nfargs == 8,
	      "unknown prototype: all registers saved (flags %#x nargs %d)", last.fn->flags, last.fn->nargs);
	CHECK(seen[0] == 5 && seen[1] == 6, "fentry args");
	CHECK(nd8(1, 2, 3, 4, 5, 6, 7, 8) == 204 && last.ret == 204, "8 arguments, stack area unknown");
	CHECK(ndv(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L) == 285 && last.ret == 285, "varargs, no prototype");
	OK(poketrace_links_detach(l, 4));
}

/* ---------------------------------------------- attach/detach under load */

#define WORKERS 2
static atomic_int stop;
static atomic_long entered, left;

static void count_entry(struct poketrace_ctx *c)
{
	(void)c;
	atomic_fetch_add(&entered, 1);
}

static void count_exit(struct poketrace_ctx *c)
{
	CHECK(c->ret == c->args[0] + 1, "fexit saw ret %lu for arg %lu", c->ret, c->args[0]);
	atomic_fetch_add(&left, 1);
}

static void *caller(void *arg)
{
	long n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		CHECK(h1(n) == n + 1, "h1 result under attach/detach");
		n++;
	}
	return NULL;
}

static void *caller_n(void *arg)
{
	for (long n = 0; n < (long)arg; n++)
		CHECK(h1(n) == n + 1, "h1 result");
	return NULL;
}

static void attach_detach_stress(void)
{
	pthread_t th[WORKERS];
	struct poketrace_link *l[2];
	struct poketrace_stats st;

	OK(poketrace_init(NULL));
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, caller, (void *)i);
	for (int r = 0; r < 300; r++) {
		struct poketrace_link_spec s[] = {
			{ POKETRACE_FENTRY, "h1", 0, (void *)count_entry, { 0 } },
			{ POKETRACE_FEXIT, "h1", 0, (void *)count_exit, { 0 } },
		};

		OK(poketrace_links_attach(s, r % 3 ? 2 : 1));
		l[0] = s[0].link;
		l[1] = s[1].link;
		OK(poketrace_links_detach(l, r % 3 ? 2 : 1));
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	/* Exact counts: attached for the whole of a known number of calls. */
	entered = left = 0;
	l[0] = attach(POKETRACE_FENTRY, "h1", (void *)count_entry, NULL, 0, 0);
	l[1] = attach(POKETRACE_FEXIT, "h1", (void *)count_exit, NULL, 0, 0);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, caller_n, (void *)20000L);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	CHECK(atomic_load(&entered) == 40000 && atomic_load(&left) == 40000, "counted %ld entries, %ld exits "
	      "of 40000 calls", atomic_load(&entered), atomic_load(&left));
	OK(poketrace_links_detach(l, 2));
	OK(poketrace_quiesce(5000));
	poketrace_get_stats(&st);
	printf("images: %lu live, %lu retired, %lu reclaimed; %lu traps emulated\n",
	       (unsigned long)st.images_live, (unsigned long)st.images_retired,
	       (unsigned long)st.images_reclaimed, (unsigned long)st.traps_emulated);
	CHECK(st.images_retired == 0 && st.images_reclaimed >= 300, "retired images not reclaimed");
}

/* ---------------------------------------------------------- recursion */

static int rec_calls;

static void recursive_handler(struct poketrace_ctx *c)
{
	(void)c;
	rec_calls++;
	CHECK(h1(10) == 11 && h2(1, 2) == 3, "hooked calls from a handler");
}

static void recursion_guard(void)
{
	struct poketrace_link *a, *b;
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	a = attach(POKETRACE_FENTRY, "h1", (void *)recursive_handler, NULL, 0, 0);
	b = attach(POKETRACE_FEXIT, "h2", (void *)recursive_handler, NULL, 0, 0);
	poketrace_get_stats(&s0);
	CHECK(h1(1) == 2 && rec_calls == 1, "h1: handler ran %d times", rec_calls);
	CHECK(h2(1, 1) == 2 && rec_calls == 2, "h2: handler ran %d times", rec_calls);
	poketrace_get_stats(&s1);
	CHECK(s1.recursion_misses - s0.recursion_misses == 4, "%lu recursion misses counted",
	      (unsigned long)(s1.recursion_misses - s0.recursion_misses));
	/* Recursion of the function itself (not of handlers) is traced. */
	OK(poketrace_link_detach(a));
	OK(poketrace_link_detach(b));
	entered = 0;
	a = attach(POKETRACE_FENTRY, "hrec", (void *)count_entry, NULL, 0, 0);
	CHECK(hrec(10) == 55 && entered == 11, "hrec entries %ld", atomic_load(&entered));
	OK(poketrace_link_detach(a));
}

/* ------------------------------------------------ longjmp out of a handler */

static sigjmp_buf jump_out;
static int lj_calls, lj_inner_misses;

static void jumping_handler(struct poketrace_ctx *c)
{
	jmp_buf inner;

	lj_calls++;
	if (c->args[0] == 13)
		siglongjmp(jump_out, 1); /* out of the handler, past the image */
	if (c->args[0] == 7 && !setjmp(inner))
		longjmp(inner, 1); /* within the handler: it has not left */
	if (c->args[0] == 7)
		lj_inner_misses += h1(100) == 101; /* still inside: runs without handlers */
}

/* A handler left by siglongjmp leaves its thread able to run handlers; a
 * longjmp inside a handler does not end it. */
static void longjmp_from_handler(void)
{
	struct poketrace_link *l;
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FENTRY, "h1", (void *)jumping_handler, NULL, 0, 0);
	CHECK(h1(1) == 2 && lj_calls == 1, "before");
	if (!sigsetjmp(jump_out, 1))
		h1(13);
	CHECK(lj_calls == 2, "the handler did not run for 13");
	for (int i = 0; i < 5; i++)
		CHECK(h1(i) == i + 1, "h1(%d)", i);
	CHECK(lj_calls == 7, "handlers ran %d times (7 expected): the guard stayed set after the jump", lj_calls);
	poketrace_get_stats(&s0);
	CHECK(h1(7) == 8 && lj_calls == 8 && lj_inner_misses == 1, "a longjmp inside the handler: %d calls",
	      lj_calls);
	poketrace_get_stats(&s1);
	CHECK(s1.recursion_misses - s0.recursion_misses == 1, "the call from inside the handler ran handlers");
	OK(poketrace_link_detach(l));
}

/* ----------------------------------------------- detach while sleeping */

/* Asleep in the body for a minute, or until woken by SIGUSR1: the test
 * decides when it leaves, whatever the machine's speed. */
static void *sleeper(void *arg)
{
	(void)arg;
	return (void *)hsleep(60000);
}

static void wake(int sig)
{
	(void)sig;
}

static void sleeping_detach(void)
{
	struct poketrace_link *l;
	struct poketrace_stats st;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	signal(SIGUSR1, wake); /* nanosleep is never restarted after a handler */
	exits = 0;
	l = attach(POKETRACE_FEXIT, "hsleep", (void *)on_exit_, NULL, 0, 0);
	pthread_create(&t, NULL, sleeper, NULL);
	while (!hsleep_inside)
		sleep_ms(1);
	OK(poketrace_link_detach(l));
	/* The body returns to a landing pad, not into the image: the image
	 * is freed while the thread sleeps. */
	OK(poketrace_quiesce(3000));
	poketrace_get_stats(&st);
	CHECK(st.images_retired == 0 && st.images_reclaimed >= 1, "not reclaimed while the body sleeps");
	{
		static unsigned char cc[65536]; /* the freed memory reused: int3 */
		void *p;

		memset(cc, 0xcc, sizeof(cc));
		for (int i = 0; i < 8; i++)
			if (poketrace_execmem_alloc((void *)hsleep, sizeof(cc), &p) == 0)
				OK(poketrace_execmem_write(p, cc, sizeof(cc)));
	}
	pthread_kill(t, SIGUSR1);
	pthread_join(t, &ret);
	CHECK((long)ret == 120000, "the sleeper returned %ld", (long)ret);
	CHECK(exits == 0, "a detached fexit handler ran");
}

/* ---------------------------------------------------------- unwinding */

static int frames_named(void **f, int n, const char *name)
{
	int hits = 0;

	for (int i = 0; i < n; i++) {
		Dl_info di;

		if (dladdr(f[i], &di) && di.dli_sname && !strcmp(di.dli_sname, name))
			hits++;
	}
	return hits;
}

static int bt_found;

__attribute__((noinline)) static void bt_handler(struct poketrace_ctx *c)
{
	void *f[64];
	int n = backtrace(f, 64);

	(void)c;
	bt_found = frames_named(f, n, "unwind_outer");
}

__attribute__((noinline)) long unwind_outer(long x)
{
	long r = h1(x);

	__asm__ volatile("");
	return r;
}

static void *exiting_thread(void *arg)
{
	(void)arg;
	hv(1, 1L);
	return (void *)1;
}

static void exit_handler(struct poketrace_ctx *c)
{
	(void)c;
	pthread_exit((void *)77);
}

static void *cancelled_thread(void *arg)
{
	(void)arg;
	hsleep(5000);
	return NULL;
}

static void unwinding(void)
{
	struct poketrace_link *a, *b, *c;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	/* backtrace() from a handler of a call-orig image and of an entry image */
	a = attach(POKETRACE_FEXIT, "h1", (void *)bt_handler, NULL, 0, 0);
	CHECK(unwind_outer(1) == 2 && bt_found == 1, "backtrace through an fexit image: %d", bt_found);
	OK(poketrace_link_detach(a));
	a = attach(POKETRACE_FENTRY, "h1", (void *)bt_handler, NULL, 0, 0);
	bt_found = 0;
	CHECK(unwind_outer(1) == 2 && bt_found == 1, "backtrace through an entry image: %d", bt_found);
	OK(poketrace_link_detach(a));

	/* pthread_exit from inside an image (forced unwinding through it) */
	b = attach(POKETRACE_FENTRY, "hv", (void *)exit_handler, NULL, 0, 0);
	c = attach(POKETRACE_FEXIT, "hv", (void *)on_exit_, NULL, 0, 0);
	pthread_create(&t, NULL, exiting_thread, NULL);
	pthread_join(t, &ret);
	CHECK(ret == (void *)77, "pthread_exit in a handler: %p", ret);
	OK(poketrace_link_detach(b));
	OK(poketrace_link_detach(c));

	/* pthread_cancel of a thread asleep in a body called by an image */
	c = attach(POKETRACE_FEXIT, "hsleep", (void *)on_exit_, NULL, 0, 0);
	hsleep_inside = 0;
	pthread_create(&t, NULL, cancelled_thread, NULL);
	while (!hsleep_inside)
		sleep_ms(1);
	pthread_cancel(t);
	pthread_join(t, &ret);
	CHECK(ret == PTHREAD_CANCELED, "cancel through an fexit image: %p", ret);
	OK(poketrace_link_detach(c));
}

/* ---------------------------------------------------------- bad input */

static void expect_err(int r, int want, const char *needle)
{
	CHECK(r == want, "returned %d, want %d (%s)", r, want, poketrace_last_error());
	CHECK(strstr(poketrace_last_error(), needle), "message \"%s\" lacks \"%s\"",
	      poketrace_last_error(), needle);
}

static long repl_a(long a, long b) { return a - b; }

static void bad_input(void)
{
	struct poketrace_link *l = NULL, *r1;
	struct poketrace_link_opts typed = { sizeof(typed), NULL, 0, POKETRACE_LINK_TYPED };

	OK(poketrace_init(NULL));
	expect_err(poketrace_link_attach(POKETRACE_FENTRY, "no_such_function", (void *)on_exit_, NULL, &l),
		   -ENOENT, "no function 'no_such_function'");
	expect_err(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)h1 + 9, (void *)on_exit_, NULL, &l),
		   -ENOENT, "not a patch site");
	expect_err(poketrace_link_attach(POKETRACE_FENTRY, "h1", NULL, NULL, &l), -EINVAL, "NULL");
	expect_err(poketrace_link_attach(POKETRACE_FEXIT, "h1", (void *)on_exit_, &typed, &l), -EINVAL,
		   "fentry links only");
	expect_err(poketrace_link_attach(POKETRACE_FENTRY, "t_links:h1", (void *)on_exit_, NULL, NULL),
		   -EINVAL, "NULL");
	expect_err(poketrace_link_attach((enum poketrace_link_kind)42, "h1", (void *)on_exit_, NULL, &l),
		   -EINVAL, "unknown link kind");
	r1 = attach(POKETRACE_REPLACE, "t_links:h2", (void *)repl_a, NULL, 0, 0);
	expect_err(poketrace_link_attach(POKETRACE_REPLACE, "h2", (void *)repl_a, NULL, &l), -EBUSY,
		   "replaced already");
	CHECK(h2(5, 3) == 2, "the first replacement stays");
	{
		struct poketrace_link *two[] = { r1, r1 };

		expect_err(poketrace_links_detach(two, 2), -EINVAL, "listed twice");
		CHECK(h2(5, 3) == 2, "a refused detach detached something");
	}
	expect_err(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)h2, POKETRACE_INSN_NOP, NULL }, 1, NULL),
		   -EBUSY, "belongs to poketrace links");
	OK(poketrace_link_detach(r1));
	expect_err(poketrace_link_detach(r1), -ENOENT, "not attached");
	expect_err(poketrace_link_detach(NULL), -EINVAL, "NULL");
	CHECK(h2(5, 3) == 8, "restored");
	/* A batch with one bad spec attaches nothing. */
	{
		struct poketrace_link_spec s[] = {
			{ POKETRACE_FENTRY, "h1", 0, (void *)count_entry, { 0 } },
			{ POKETRACE_FENTRY, "nope", 0, (void *)count_entry, { 0 } },
		};

		entered = 0;
		expect_err(poketrace_links_attach(s, 2), -ENOENT, "nope");
		CHECK(!s[0].link && !s[1].link && h1(1) == 2 && entered == 0, "half a batch attached");
	}
}

/* A hooked library is unloaded: its links become detached (detach still
 * works), nothing touches its memory, and a fresh load is unhooked. */
static void module_unloaded(void)
{
	struct poketrace_link *l;
	int (*fn)(int);
	void *h = dlopen(DL_PATH, RTLD_NOW);

	OK(poketrace_init(NULL));
	CHECK(h, "dlopen: %s", dlerror());
	fn = (int (*)(int))dlsym(h, "dl_fn");
	exits = 0;
	l = attach(POKETRACE_FEXIT, "libt_dl_clang.so:dl_fn", (void *)on_exit_, NULL, 0, 0);
	CHECK(fn(3) == 30 && exits == 1, "hooked in the library");
	CHECK(dlclose(h) == 0, "dlclose");
	h = dlopen(DL_PATH, RTLD_NOW);
	fn = (int (*)(int))dlsym(h, "dl_fn");
	CHECK(fn(4) == 40 && exits == 1, "a fresh load of the library is still hooked");
	OK(poketrace_link_detach(l));
	CHECK(fn(5) == 50 && exits == 1, "detaching a link of an unloaded module touched the new one");
	l = attach(POKETRACE_FEXIT, "dl_fn", (void *)on_exit_, NULL, 0, 0);
	CHECK(fn(6) == 60 && exits == 2, "hooking the reloaded library");
	OK(poketrace_link_detach(l));
	dlclose(h);
	OK(poketrace_quiesce(3000));
}

static void perf_map(void)
{
	char path[64], line[256];
	struct poketrace_link *l;
	int found = 0, st;
	pid_t child;
	FILE *f;

	/* off by default: a process without POKETRACE_PERF_MAP writes nothing */
	unsetenv("POKETRACE_PERF_MAP");
	if ((child = fork()) == 0) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
		if (poketrace_init(NULL) < 0 ||
		    !(l = attach(POKETRACE_FEXIT, "h2", (void *)on_exit_, NULL, 0, 0)) ||
		    poketrace_link_detach(l) < 0)
			_exit(2);
		_exit(access(path, F_OK) == 0 ? 1 : 0);
	}
	CHECK(child > 0 && waitpid(child, &st, 0) == child && WIFEXITED(st), "the child without the variable");
	CHECK(WEXITSTATUS(st) == 0, "without POKETRACE_PERF_MAP: %s",
	      WEXITSTATUS(st) == 1 ? "a perf map was written" : "attach failed");
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	setenv("POKETRACE_PERF_MAP", "1", 1);
	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FEXIT, "h2", (void *)on_exit_, NULL, 0, 0);
	f = fopen(path, "r");
	CHECK(f, "no %s", path);
	while (fgets(line, sizeof(line), f))
		found += strstr(line, " poketrace_image:h2\n") != NULL;
	fclose(f);
	unlink(path);
	CHECK(found == 1, "perf map entries for h2: %d", found);
	OK(poketrace_link_detach(l));
}

TEST_MAIN(CASE(fentry_typed), CASE(typed_shared), CASE(fentry_ctx), CASE(fexit_shapes), CASE(varargs_stacks), CASE(fmod_ret_replace), CASE(replace_sees_its_link),
	  CASE(stacking_order), CASE(kinds_by_shape), CASE(update_one_batch), CASE(no_prototype), CASE(attach_detach_stress), CASE(recursion_guard), CASE(longjmp_from_handler),
	  CASE(sleeping_detach), CASE(unwinding), CASE(bad_input), CASE(module_unloaded), CASE(perf_map))
