/* The registers and values of hooked functions the images once got wrong
 * (shared/repro/hooks, issue 12): every case hooks a gcc -O2 -g function
 * with handlers that clobber what the ABI lets them clobber, and checks
 * that the function computes what it computes unhooked. */
#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <ucontext.h>

#include "clobber.h"
#include "harness.h"
#include "targets/abifns.h"

#ifndef POKETRACE_FN_EXACT
#define POKETRACE_FN_EXACT (1u << 4) /* so that this file builds against older headers */
#endif

static int hits;
static unsigned flags_seen;

static void h_clobber(struct poketrace_ctx *c)
{
	hits++;
	flags_seen = c->fn->flags;
	clobber_all();
}

static int m_clobber(struct poketrace_ctx *c)
{
	(void)c;
	hits++;
	clobber_all();
	return 0;
}

static struct poketrace_link *att(enum poketrace_link_kind k, const char *fn, void *h)
{
	struct poketrace_link_opts o = { sizeof(o), NULL, 0, 0 };
	struct poketrace_link *l = NULL;

	OK(poketrace_link_attach(k, fn, h, &o, &l));
	return l;
}

static void detach(struct poketrace_link *l)
{
	OK(poketrace_link_detach(l));
}

/* ------------------------------------------- nested functions (r10) */

static char nested_name[64];

static int find_nested(const struct poketrace_site *s, void *ctx)
{
	(void)ctx;
	snprintf(nested_name, sizeof(nested_name), "%s", s->symbol);
	return 1;
}

/* gcc's nested function inner.0 gets its static chain in r10 */
static void nested(void)
{
	enum poketrace_link_kind kinds[] = { POKETRACE_FENTRY, POKETRACE_FEXIT, POKETRACE_FMOD_RET };

	CHECK(outer(7) == 1403, "unhooked");
	OK(poketrace_init(NULL));
	poketrace_sites_foreach("inner*", NULL, find_nested, NULL);
	CHECK(nested_name[0], "no site for the nested function");
	for (int i = 0; i < 3; i++) {
		struct poketrace_link *l = att(kinds[i], nested_name,
					       kinds[i] == POKETRACE_FMOD_RET ? (void *)m_clobber : (void *)h_clobber);
		long r;

		hits = 0;
		r = outer(7);
		CHECK(r == 1403 && hits == 2, "kind %d on %s: outer(7) = %ld, %d hits", (int)kinds[i], nested_name, r,
		      hits);
		detach(l);
	}
}

static void nested_ops(void)
{
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, "inner*", NULL, NULL };
	struct poketrace_ops *o;

	OK(poketrace_init(NULL));
	OK(poketrace_ops_register(h_clobber, &oo, &o));
	hits = 0;
	CHECK(outer(7) == 1403 && hits == 2, "ops: outer(7) = %ld", outer(7));
	OK(poketrace_ops_unregister(o));
}

/* ----------------------------------------------------------- vectors */

static void vectors(void)
{
	__m128d a = { 1, 2 }, b = { 3, 4 }, r;
	struct poketrace_link *l[3];

	OK(poketrace_init(NULL));
	l[0] = att(POKETRACE_FENTRY, "vsum128", (void *)h_clobber);
	CHECK(vsum128(a, b) == 10, "fentry on vsum128(__m128d, __m128d): %g", vsum128(a, b));
	CHECK(flags_seen & POKETRACE_FN_EXACT, "vsum128's prototype is certain: the image should be exact");
	l[1] = att(POKETRACE_FENTRY, "qadd", (void *)h_clobber);
	CHECK(qadd(1.5Q, 2.25Q) == 3.75Q, "fentry on qadd(__float128, __float128): %g", (double)qadd(1.5Q, 2.25Q));
	l[2] = att(POKETRACE_FEXIT, "vret128", (void *)h_clobber);
	r = vret128(5);
	CHECK(r[0] == 6 && r[1] == 5, "fexit on vret128(5) = {%g, %g}", r[0], r[1]);
	for (int i = 0; i < 3; i++)
		detach(l[i]);
}

static void vzeroupper_handler(struct poketrace_ctx *c)
{
	(void)c;
	hits++;
	__asm__ volatile("vzeroupper" ::: "memory");
}

/* __m256 arguments in ymm (the callee is built with AVX): their upper
 * halves survive handlers and the reload. */
static void vectors_avx(void)
{
	struct poketrace_link *l;
	double want[2];

	if (!__builtin_cpu_supports("avx2")) {
		printf("no AVX2 on this CPU: nothing to test\n");
		return;
	}
	want[0] = call_vsum256(10);
	want[1] = call_vmix(10);
	CHECK(want[0] == 50 && want[1] == 150 && call_al32v(0) == 20, "unhooked");
	OK(poketrace_init(NULL));
	l = att(POKETRACE_FENTRY, "vsum256", (void *)h_clobber);
	CHECK(call_vsum256(10) == want[0], "fentry (clobbering) on vsum256(__m256d): %g", call_vsum256(10));
	detach(l);
	l = att(POKETRACE_FENTRY, "vmix", (void *)vzeroupper_handler);
	CHECK(call_vmix(10) == want[1], "fentry (vzeroupper) on vmix(__m256d, double): %g", call_vmix(10));
	detach(l);
	l = att(POKETRACE_FEXIT, "vmix", (void *)h_clobber);
	CHECK(call_vmix(10) == want[1], "fexit on vmix: %g", call_vmix(10));
	detach(l);
	/* the body loads its 32-byte-aligned stack argument with vmovdqa */
	l = att(POKETRACE_FEXIT, "al32v", (void *)h_clobber);
	for (int i = 0; i < 3; i++)
		CHECK(call_al32v(i) == 20 + 8 * i, "fexit on al32v: %ld", call_al32v(i));
	detach(l);
}

/* clang -mavx2 passes union vu (32 bytes, a __m128 member) in ymm0, where
 * the psABI says memory: such a union makes the prototype uncertain, and
 * the conservative image keeps ymm0 whole. */
static void clang_vector_union(void)
{
	struct poketrace_link *l;
	long want;

	if (!__builtin_cpu_supports("avx2")) {
		printf("no AVX2 on this CPU: nothing to test\n");
		return;
	}
	want = call_vunion(3);
	OK(poketrace_init(NULL));
	flags_seen = 0;
	l = att(POKETRACE_FENTRY, "vunion", (void *)h_clobber);
	CHECK(call_vunion(3) == want, "fentry (clobbering) on vunion: %ld, want %ld", call_vunion(3), want);
	CHECK(!(flags_seen & POKETRACE_FN_EXACT), "vunion's prototype is not certain: the image should be conservative");
	detach(l);
	l = att(POKETRACE_FEXIT, "vunion", (void *)h_clobber);
	CHECK(call_vunion(4) != want && call_vunion(3) == want, "fexit on vunion: %ld", call_vunion(3));
	detach(l);
}

/* --------------------------------------------------------- long double */

static long double seen_ld;

static void h_ld(struct poketrace_ctx *c)
{
	memcpy(&seen_ld, c->fret[0], sizeof(long double) < 16 ? sizeof(long double) : 16);
	clobber_all();
}

static int m_set(struct poketrace_ctx *c)
{
	c->ret = 0;
	return 1;
}

static void long_double(void)
{
	struct poketrace_link *l = NULL;
	long double want = ldret(9);
	_Complex long double cwant = cldret(6), cz;
	int r;

	OK(poketrace_init(NULL));
	/* an override cannot put a value in st0: refused, and said why */
	r = poketrace_link_attach(POKETRACE_FMOD_RET, "ldret", (void *)m_set, NULL, &l);
	CHECK(r == -EINVAL && strstr(poketrace_last_error(), "long double"), "fmod_ret on ldret: %d (%s)", r,
	      poketrace_last_error());
	CHECK(ldret(9) == want, "a refused attach changed ldret");
	l = att(POKETRACE_FEXIT, "ldret", (void *)h_ld);
	CHECK(ldret(9) == want, "fexit (the handler uses all 8 x87 registers): ldret(9) = %Lg", ldret(9));
	CHECK(seen_ld == want, "the fexit handler saw %Lg in ctx->fret, want %Lg", seen_ld, want);
	detach(l);
	l = att(POKETRACE_FEXIT, "cldret", (void *)h_clobber);
	cz = cldret(6);
	CHECK(cz == cwant, "fexit on cldret(6) = %Lg%+Lgi", __real__ cz, __imag__ cz);
	detach(l);
	l = att(POKETRACE_FEXIT, "qadd", (void *)h_clobber);
	CHECK(qadd(1.5Q, 2.25Q) == 3.75Q, "fexit on qadd(__float128) = %g", (double)qadd(1.5Q, 2.25Q));
	detach(l);
}

/* --------------------------------------------------- returns: override */

static int m_nothing(struct poketrace_ctx *c)
{
	(void)c;
	return 1;
}

__attribute__((noinline)) static void dirty_stack(void)
{
	volatile double junk[512];

	(void)junk;

	for (int i = 0; i < 512; i++)
		junk[i] = 12345.0;
}

__attribute__((noinline)) static _Complex double call_cret(void)
{
	dirty_stack();
	return cret(1);
}

/* "an override that sets nothing returns 0": in xmm1 too */
static void override_nothing(void)
{
	struct poketrace_link *l;
	_Complex double z;

	OK(poketrace_init(NULL));
	l = att(POKETRACE_FMOD_RET, "cret", (void *)m_nothing);
	z = call_cret();
	CHECK(__real__ z == 0 && __imag__ z == 0, "override on _Complex double cret: %g%+gi", __real__ z, __imag__ z);
	detach(l);
	CHECK(call_cret() == 1 + 2.0i, "detached");
}

static void decimal(void)
{
	struct poketrace_link *l;

	OK(poketrace_init(NULL));
	l = att(POKETRACE_FENTRY, "dadd", (void *)h_clobber);
	CHECK(dadd(1.5DD, 2.25DD) == 3.75DD, "fentry on dadd(_Decimal64, _Decimal64) is wrong");
	detach(l);
}

/* --------------------------------------------------- stack arguments */

#define A10(b) b + 1L, b + 2L, b + 3L, b + 4L, b + 5L, b + 6L, b + 7L, b + 8L, b + 9L, b + 10L

static void stack_args(void)
{
	struct a32 s = { 1, 2, 3, 4 };
	struct big640 big;
	long want_v = vsum(80, A10(0), A10(10), A10(20), A10(30), A10(40), A10(50), A10(60), A10(70)), want_b;
	struct poketrace_link *l[3];

	for (int i = 0; i < 80; i++)
		big.v[i] = i * 7 + 1;
	want_b = bigsum(big);
	OK(poketrace_init(NULL));
	l[0] = att(POKETRACE_FEXIT, "al32", (void *)h_clobber);
	l[1] = att(POKETRACE_FEXIT, "vsum", (void *)h_clobber);
	l[2] = att(POKETRACE_FEXIT, "bigsum", (void *)h_clobber);
	CHECK(al32(0, 0, 0, 0, 0, 0, 0, s) == 432100, "fexit on al32 (32-byte-aligned struct on the stack): %ld",
	      al32(0, 0, 0, 0, 0, 0, 0, s));
	CHECK(vsum(80, A10(0), A10(10), A10(20), A10(30), A10(40), A10(50), A10(60), A10(70)) == want_v,
	      "fexit on vsum (variadic, 600 bytes of stack arguments)");
	CHECK(bigsum(big) == want_b, "fexit on bigsum (no DWARF, a 640-byte struct by value): %ld, want %ld",
	      bigsum(big), want_b);
	for (int i = 0; i < 3; i++)
		detach(l[i]);
}

static ucontext_t main_ctx, coro_ctx;
static double coro_result;

static void coro_entry(void)
{
	struct pt p = { 1, 2 };

	coro_result = dist8(p, p, p, p, p, p, p, p);
}

/* A coroutine stack with guard pages around it, as stack allocators make
 * them: the copy of dist8's stack arguments (64 bytes) must not read past
 * the stack's top. */
static void coroutine_stack(void)
{
	char *m = mmap(NULL, 3 * 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct poketrace_link *l;

	CHECK(m != MAP_FAILED && mprotect(m + 65536, 65536, PROT_READ | PROT_WRITE) == 0, "mmap");
	OK(poketrace_init(NULL));
	l = att(POKETRACE_FEXIT, "dist8", (void *)h_clobber);
	for (int i = 0; i < 2; i++) {
		getcontext(&coro_ctx);
		coro_ctx.uc_stack.ss_sp = m + 65536;
		coro_ctx.uc_stack.ss_size = 65536;
		coro_ctx.uc_link = &main_ctx;
		makecontext(&coro_ctx, coro_entry, 0);
		coro_result = 0;
		hits = 0;
		swapcontext(&main_ctx, &coro_ctx);
		CHECK(coro_result == 24 && hits == 1, "fexit on dist8 on a coroutine stack: %g", coro_result);
	}
	detach(l);
}

/* --------------------------------------------------------------- ms_abi */

static long ms_seen;

static void h_ms_exit(struct poketrace_ctx *c)
{
	ms_seen = (long)c->ret;
	clobber_all();
}

/* msf is gcc -O0 ms_abi: it spills its arguments into the home area above
 * its return address; an ms_abi caller keeps rdi, rsi, xmm6-15 across it. */
static void ms_abi(void)
{
	unsigned long out[12];
	struct poketrace_link *l[2];

	OK(poketrace_init(NULL));
	l[0] = att(POKETRACE_FENTRY, "msf", (void *)h_clobber);
	l[1] = att(POKETRACE_FEXIT, "msf", (void *)h_ms_exit);
	CHECK(ms_call_check(out) == 1234, "fentry + fexit on msf(1, 2, 3, 4) = %ld", ms_call_check(out));
	CHECK(ms_seen == 1234, "the fexit handler saw %ld", ms_seen);
	CHECK(out[0] == 0x1111222233334444 && out[1] == 0x5555666677778888, "rdi, rsi after the call: %#lx %#lx",
	      out[0], out[1]);
	for (int r = 6; r <= 15; r++)
		CHECK(out[r - 4] == 0x0101010101010101ul * (unsigned long)r, "xmm%d after the call: %#lx", r, out[r - 4]);
	for (int i = 0; i < 2; i++)
		detach(l[i]);
}

/* ------------------------------------------------------------ clones */

/* pick.isra.0 takes (tag, val) in two registers; DWARF says one pointer */
static void isra_clone(void)
{
	long want = pick_caller(1);
	struct poketrace_link *l;

	OK(poketrace_init(NULL));
	l = att(POKETRACE_FENTRY, "pick.isra.0", (void *)h_clobber);
	hits = 0;
	CHECK(pick_caller(1) == want && hits == 1000, "fentry on pick.isra.0: %ld, want %ld", pick_caller(1), want);
	CHECK(!(flags_seen & POKETRACE_FN_EXACT), "a clone's image must not trust its DWARF prototype");
	detach(l);
	l = att(POKETRACE_FEXIT, "pick.isra.0", (void *)h_clobber);
	CHECK(pick_caller(1) == want, "fexit on pick.isra.0: %ld, want %ld", pick_caller(1), want);
	detach(l);
}

/* ---------------------------------------------------- build-id binding */

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	CHECK(in && out, "copy %s to %s", from, to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		CHECK(fwrite(buf, 1, n, out) == n, "write %s", to);
	fclose(in);
	fclose(out);
}

/* A library replaced on disk while it is mapped (a rebuild, a package
 * upgrade): its file's prototypes are of other code, and must not be
 * trusted.  The same library not replaced is the control. */
static void replaced_binary(void)
{
	char dir[] = "/tmp/t_abi.XXXXXX", lib[64], next[64];
	struct poketrace_link *l;
	long (*f)(long, long), (*g)(long, long);
	void *h, *hg;

	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(lib, sizeof(lib), "%s/libbid.so", dir);
	snprintf(next, sizeof(next), "%s/next.so", dir);
	copy_file(BID_DIR "/libbid_v1.so", lib);
	CHECK((h = dlopen(lib, RTLD_NOW)) && (f = (long (*)(long, long))dlsym(h, "bid_f")), "dlopen: %s",
	      dlerror());
	CHECK((hg = dlopen(BID_DIR "/libbid_v2.so", RTLD_NOW)) && (g = (long (*)(long, long))dlsym(hg, "bid_f")),
	      "dlopen: %s", dlerror());
	/* the site table is read before the upgrade (poketrace's table of a
	 * module comes from its file too); the prototype only at the attach */
	OK(poketrace_init(NULL));
	/* the upgrade: a new file renamed over the old name */
	copy_file(BID_DIR "/libbid_v2.so", next);
	CHECK(rename(next, lib) == 0, "rename");
	l = att(POKETRACE_FENTRY, "libbid_v2.so:bid_f", (void *)h_clobber);
	CHECK(g(5, 1) == 16 && (flags_seen & POKETRACE_FN_EXACT), "the control (not replaced) is exact");
	detach(l);
	flags_seen = 0xff;
	hits = 0;
	l = att(POKETRACE_FENTRY, "libbid.so:bid_f", (void *)h_clobber);
	CHECK(f(5, 1) == 11 && hits == 1, "the mapped code still runs: %ld", f(5, 1));
	CHECK(!(flags_seen & (POKETRACE_FN_EXACT | POKETRACE_FN_PROTO)),
	      "a prototype from a replaced file was used (flags %#x)", flags_seen);
	detach(l);
	unlink(lib);
	rmdir(dir);
}

TEST_MAIN(CASE(nested), CASE(nested_ops), CASE(vectors), CASE(vectors_avx), CASE(clang_vector_union), CASE(long_double),
	  CASE(override_nothing), CASE(decimal), CASE(stack_args), CASE(coroutine_stack), CASE(ms_abi),
	  CASE(isra_clone), CASE(replaced_binary))
