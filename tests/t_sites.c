/* The site table: sites found and named in the executable (built in several
 * flavors, see tests.mk), a shared library linked at start, and a library
 * dlopen'ed later and dlclose'd; patching to counting trampolines and back. */
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

#ifndef EXPECT_KIND
#error "EXPECT_KIND must name the flavor's site kind"
#endif
#ifndef EXPECT_ENDBR
#define EXPECT_ENDBR 0
#endif

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void expect_site(void *fn, const char *name, int kind, int endbr)
{
	struct poketrace_site s;

	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	CHECK(s.symbol && !strcmp(s.symbol, name), "site at %p named %s, want %s", fn,
	      s.symbol ? s.symbol : "(null)", name);
	CHECK(s.func == (uintptr_t)fn, "%s: func %#lx, want %p", name, s.func, fn);
	CHECK((int)s.kind == kind, "%s: kind %d, want %d", name, s.kind, kind);
	CHECK(!!(s.flags & POKETRACE_SITE_ENDBR) == endbr, "%s: endbr flag %d, want %d", name,
	      !!(s.flags & POKETRACE_SITE_ENDBR), endbr);
	CHECK(s.addr == (uintptr_t)fn + (endbr ? 4 : 0), "%s: site %#lx for function %p", name,
	      s.addr, fn);
	CHECK(!(s.flags & POKETRACE_SITE_UNPATCHABLE), "%s is unpatchable (reason %d)", name, s.reason);
	CHECK(s.bytes[0] == 0x0f && s.bytes[1] == 0x1f && s.bytes[2] == 0x44 && s.bytes[3] == 0,
	      "%s: site bytes are not a 5-byte nop", name);
	if (kind == POKETRACE_SITE_PFE_GCC)
		CHECK(s.flags & POKETRACE_SITE_NORMALIZED, "%s: gcc nops not normalized", name);
	/* The site table must agree with the memory. */
	CHECK(!memcmp((void *)s.addr, s.bytes, 5), "%s: table bytes differ from memory", name);
	/* Looking the site up by its own address gives the same site. */
	{
		struct poketrace_site t;

		OK(poketrace_site_lookup(s.addr, &t));
		CHECK(t.addr == s.addr, "lookup by site address");
	}
}

static void names(void)
{
	struct poketrace_site s;
	long n;

	OK(poketrace_init(NULL));
	n = poketrace_site_count();
	CHECK(n >= 6, "only %ld sites", n);
	expect_site((void *)tgt_add, "tgt_add", EXPECT_KIND, EXPECT_ENDBR);
	expect_site((void *)tgt_mul, "tgt_mul", EXPECT_KIND, EXPECT_ENDBR);
	expect_site((void *)tgt_void, "tgt_void", EXPECT_KIND, EXPECT_ENDBR);
	expect_site((void *)tgt_double, "tgt_double", EXPECT_KIND, EXPECT_ENDBR);
	expect_site((void *)tgt_static_ptr(), "tgt_static", EXPECT_KIND, EXPECT_ENDBR);
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	CHECK(!fnmatch("*t_sites_*", s.module, 0), "module %s is not the test executable", s.module);
	/* A function compiled without a site is not in the table. */
	CHECK(poketrace_site_lookup((uintptr_t)tgt_nosite, &s) == -ENOENT, "tgt_nosite has a site");
	CHECK(strstr(poketrace_last_error(), "not a patch site"), "message: %s", poketrace_last_error());
}

struct collect {
	int n;
	char names[16][32];
};

static int collect_cb(const struct poketrace_site *s, void *ctx)
{
	struct collect *c = ctx;

	if (c->n < 16)
		snprintf(c->names[c->n], sizeof(c->names[0]), "%s", s->symbol);
	c->n++;
	return 0;
}

static int stop_cb(const struct poketrace_site *s, void *ctx)
{
	(void)s;
	(*(int *)ctx)++;
	return 77;
}

static void glob(void)
{
	struct collect c = { 0 };
	int calls = 0;

	OK(poketrace_init(NULL));
	/* tgt_add, _mul, _void, _double, _static, _static_ptr; not tgt_nosite. */
	CHECK(poketrace_sites_foreach("tgt_*", "t_sites_*", collect_cb, &c) == 6,
	      "tgt_* in the executable: %d sites", c.n);
	CHECK(c.n == 6, "visited %d", c.n);
	for (int i = 0; i < c.n; i++)
		CHECK(!fnmatch("tgt_*", c.names[i], 0) && strcmp(c.names[i], "tgt_nosite"),
		      "unexpected %s", c.names[i]);
	memset(&c, 0, sizeof(c));
	CHECK(poketrace_sites_foreach(NULL, "libt_shared.so", collect_cb, &c) == 2, "shared: %d", c.n);
	CHECK(poketrace_sites_foreach("no_such_*", NULL, collect_cb, &c) == 0, "no match");
	CHECK(poketrace_sites_foreach("tgt_*", NULL, stop_cb, &calls) == 77 && calls == 1,
	      "a callback's non-zero return stops the walk");
}

/* The library's own address of a function: in a non-PIE executable,
 * `shared_fn` names the executable's PLT entry instead. */
static void *lib_fn(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);

	CHECK(p, "dlsym %s", name);
	return p;
}

static void shared(void)
{
	struct poketrace_site s;

	OK(poketrace_init(NULL));
	expect_site(lib_fn("shared_fn"), "shared_fn", POKETRACE_SITE_PFE_CLANG, 0);
	OK(poketrace_site_lookup((uintptr_t)lib_fn("shared_fn2"), &s));
	CHECK(!strcmp(base(s.module), "libt_shared.so"), "module %s", s.module);
}

static int count_module(const char *mod)
{
	struct collect c = { 0 };

	return (int)poketrace_sites_foreach(NULL, mod, collect_cb, &c);
}

static void dlopen_dlclose(void)
{
	struct poketrace_site s;
	volatile long hits = 0;
	void *h, *ctr;
	int (*fn)(int);

	OK(poketrace_init(NULL));
	CHECK(count_module("libt_dl.so") == 0, "libt_dl.so has sites before it is loaded");
	h = dlopen(DL_PATH, RTLD_NOW);
	CHECK(h, "dlopen %s: %s", DL_PATH, dlerror());
	fn = (int (*)(int))dlsym(h, "dl_fn");
	CHECK(fn, "dlsym");
	CHECK(count_module("libt_dl.so") == 2, "libt_dl.so: %d sites", count_module("libt_dl.so"));
	/* gcc's nops, normalized because this process is single-threaded. */
	expect_site((void *)fn, "dl_fn", POKETRACE_SITE_PFE_GCC, 0);

	ctr = make_counter_near((void *)fn, &hits);
	CHECK(ctr, "counter near dl_fn: %s", poketrace_last_error());
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)fn, POKETRACE_INSN_CALL, ctr }, 1, NULL));
	for (int i = 0; i < 1000; i++)
		CHECK(fn(i) == i * 10, "dl_fn result");
	CHECK(hits == 1000, "hits %ld", hits);
	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	CHECK(s.flags & POKETRACE_SITE_PATCHED, "patched flag");

	/* Unloaded while patched: its sites must leave the table. */
	CHECK(dlclose(h) == 0, "dlclose");
	CHECK(count_module("libt_dl.so") == 0, "libt_dl.so sites stayed after dlclose");
	CHECK(poketrace_site_lookup(s.addr, &s) == -ENOENT, "stale site found");

	/* Loaded again: found again, unpatched (fresh mapping). */
	h = dlopen(DL_PATH, RTLD_NOW);
	CHECK(h, "dlopen again");
	fn = (int (*)(int))dlsym(h, "dl_fn");
	CHECK(count_module("libt_dl.so") == 2, "sites after reload");
	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	CHECK(!(s.flags & POKETRACE_SITE_PATCHED), "fresh module marked patched");
	dlclose(h);
}

static void patch_count(void)
{
	struct poketrace_batch_stats st;
	struct poketrace_site before, after;
	struct poketrace_patch on[] = {
		{ (uintptr_t)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a },
		{ (uintptr_t)tgt_mul, POKETRACE_INSN_CALL, (void *)tramp_count_a },
		{ (uintptr_t)tgt_double, POKETRACE_INSN_CALL, (void *)tramp_count_a },
	};
	struct poketrace_patch off[] = {
		{ (uintptr_t)tgt_add, POKETRACE_INSN_NOP, NULL },
		{ (uintptr_t)tgt_mul, POKETRACE_INSN_NOP, NULL },
		{ (uintptr_t)tgt_double, POKETRACE_INSN_NOP, NULL },
	};
	const int k = 10000;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &before));
	OK(poketrace_patch(on, 3, &st));
	CHECK(st.sites == 3 && st.syncs == 3, "stats: %zu sites, %u syncs", st.sites, st.syncs);
	CHECK(((uint8_t *)before.addr)[0] == 0xe8, "tgt_add's site is not a call");
	for (int i = 0; i < k; i++) {
		CHECK(tgt_add(i, 1) == i + 1, "tgt_add result under the trampoline");
		CHECK(tgt_mul(i, 3) == 3L * i, "tgt_mul result");
		CHECK(tgt_double(i) == 2.0 * i, "tgt_double result (xmm0 preserved)");
	}
	CHECK(count_a == 3L * k, "count %ld, want %d", count_a, 3 * k);
	OK(poketrace_patch(off, 3, &st));
	for (int i = 0; i < k; i++)
		tgt_add(i, 1);
	CHECK(count_a == 3L * k, "counted after unpatching: %ld", count_a);
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &after));
	CHECK(!memcmp((void *)after.addr, before.bytes, 5), "the original nop is back");

	/* jmp: the site's function is replaced. */
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_JMP,
						      (void *)tramp_ret42 }, 1, NULL));
	CHECK(tgt_add(1, 2) == 42, "jmp to a replacement");
	OK(poketrace_patch(off, 1, NULL));
	CHECK(tgt_add(1, 2) == 3, "restored");
}

static void shared_execmem(void)
{
	volatile long hits = 0;
	struct poketrace_site s;
	uintptr_t fn = (uintptr_t)lib_fn("shared_fn");
	uint8_t orig[5];
	void *ctr;
	int r;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup(fn, &s));
	memcpy(orig, (void *)s.addr, 5);
	/* The executable's trampoline is gigabytes away from the library. */
	r = poketrace_patch(&(struct poketrace_patch){ fn, POKETRACE_INSN_CALL,
						       (void *)tramp_count_a }, 1, NULL);
	CHECK(r == -ERANGE, "out-of-reach target gave %d", r);
	CHECK(strstr(poketrace_last_error(), "rel32"), "message: %s", poketrace_last_error());
	CHECK(!memcmp((void *)s.addr, orig, 5), "bytes changed by a refused batch");

	ctr = make_counter_near((void *)fn, &hits);
	CHECK(ctr, "execmem: %s", poketrace_last_error());
	OK(poketrace_patch(&(struct poketrace_patch){ fn, POKETRACE_INSN_CALL, ctr },
			   1, NULL));
	for (int i = 0; i < 500; i++)
		CHECK(shared_fn(i) == 3 * i, "shared_fn result");
	CHECK(hits == 500, "hits %ld", hits);
	OK(poketrace_patch(&(struct poketrace_patch){ fn, POKETRACE_INSN_NOP, NULL },
			   1, NULL));
	shared_fn(1);
	CHECK(hits == 500, "hits after unpatching %ld", hits);
}

/* A listed site whose bytes are no nop: counted, never patched. */
static void bad_bytes(void)
{
#ifdef HAVE_BAD_SITE
	extern int bad_site_fn(void);
	struct poketrace_site s;
	uint8_t orig[5];
	int r;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)bad_site_fn, &s));
	CHECK(s.kind == POKETRACE_SITE_UNKNOWN && (s.flags & POKETRACE_SITE_UNPATCHABLE) &&
	      s.reason == POKETRACE_REASON_BAD_BYTES, "kind %d flags %#x reason %d", s.kind, s.flags,
	      s.reason);
	memcpy(orig, (void *)bad_site_fn, 5);
	r = poketrace_patch(&(struct poketrace_patch){ (uintptr_t)bad_site_fn, POKETRACE_INSN_CALL,
						       (void *)tramp_count_a }, 1, NULL);
	CHECK(r == -EPERM && strstr(poketrace_last_error(), "not a recognized nop"), "%d: %s", r,
	      poketrace_last_error());
	CHECK(!memcmp(orig, (void *)bad_site_fn, 5) && bad_site_fn() == 11, "bytes changed");
#else
	printf("no bad site in this flavor (only non-PIE __mcount_loc can list one by hand)\n");
#endif
}

TEST_MAIN(CASE(names), CASE(glob), CASE(shared), CASE(dlopen_dlclose), CASE(patch_count),
	  CASE(shared_execmem), CASE(bad_bytes))
