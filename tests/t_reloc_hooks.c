/* Links on functions without a compiler site (issue 16): the hand-written
 * functions of targets/reloc_fns.S, one per relocation class, get a site
 * made by relocating their first instructions when a link asks; every link
 * kind then gives exact results, detaching puts their own bytes back, and
 * what cannot be relocated is refused with the reason. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <unwind.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/poke.h"
#include "base/fault.h"
#include "harness.h"

int rl_ripmov(int), rl_riplea(int), rl_ripcmp(int), rl_jcc8(int), rl_jmp8(int), rl_calllast(int), rl_movcall(int),
    rl_callmem(int), rl_endbr(int);
long rl_frame(long), rl_leaf5(long);
int rl_loopback(int), rl_switch(int), rl_callfirst(int), rl_sys(int), rl_tiny(int), rl_stackodd(int);
extern int rl_val, rl_table[];

typedef long (*fn_t)(long);

/* What each computes (from its code in reloc_fns.S). */
static long w_ripmov(long x) { return (int)x + rl_val; }
static long w_riplea(long x) { return rl_table[x & 3]; }
static long w_ripcmp(long x) { return (int)x > rl_val; }
static long w_jcc8(long x) { return x == 0 ? 100 : 2 * x; }
static long w_jmp8(long x) { return x + 7; }
static long w_calllast(long x) { return x + 11; }
static long w_movcall(long x) { return x + 12; }
static long w_callmem(long x) { return x + 12; }
static long w_frame(long x) { return 3 * x; }
static long w_endbr(long x) { return x - 1; }
static long w_leaf5(long x) { return x + 8; }

/* Each relocation class with what it computes. */
static const struct {
	const char *name;
	fn_t fn;
	long (*want)(long);
} classes[] = {
#define C(f) { #f, (fn_t)(void *)f, w_##f }
#define w_rl_ripmov w_ripmov
#define w_rl_riplea w_riplea
#define w_rl_ripcmp w_ripcmp
#define w_rl_jcc8 w_jcc8
#define w_rl_jmp8 w_jmp8
#define w_rl_calllast w_calllast
#define w_rl_movcall w_movcall
#define w_rl_callmem w_callmem
#define w_rl_frame w_frame
#define w_rl_endbr w_endbr
#define w_rl_leaf5 w_leaf5
	C(rl_ripmov), C(rl_riplea), C(rl_ripcmp), C(rl_jcc8), C(rl_jmp8), C(rl_calllast), C(rl_movcall), C(rl_callmem), C(rl_frame), C(rl_endbr), C(rl_leaf5),
#undef C
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static atomic_long entries, exits;
static atomic_long last_arg, last_ret;

static void on_entry(struct poketrace_ctx *ctx)
{
	atomic_fetch_add(&entries, 1);
	atomic_store(&last_arg, (long)ctx->args[0]);
}

static void on_exit_(struct poketrace_ctx *ctx)
{
	atomic_fetch_add(&exits, 1);
	atomic_store(&last_ret, (long)ctx->ret);
}

static int modret_skip(struct poketrace_ctx *ctx)
{
	/* x == 5: skip the body, return 555 */
	if (ctx->args[0] == 5) {
		ctx->ret = 555;
		return 1;
	}
	return 0;
}

static struct poketrace_link *repl_link[NCLASSES];
static size_t repl_i;
static long replacement(long x)
{
	/* the original is the relocated copy: call it */
	fn_t orig = (fn_t)poketrace_link_original(repl_link[repl_i]);

	return orig(x) * 10;
}

/* Called as what they are: int functions (rl_frame aside) return eax. */
static long call(size_t i, long x)
{
	long r = classes[i].fn(x);

	return classes[i].fn == (fn_t)(void *)rl_frame || classes[i].fn == (fn_t)(void *)rl_leaf5 ? r : (long)(int)r;
}

static void attach_or_die(enum poketrace_link_kind k, size_t i, void *h, struct poketrace_link **out)
{
	OK(poketrace_link_attach_addr(k, (uintptr_t)classes[i].fn, h, NULL, out));
}

/* Results are exact while hooked, and after detach (the bytes are back). */
static void every_kind(void)
{
	OK(poketrace_init(NULL));
	for (size_t i = 0; i < NCLASSES; i++) {
		struct poketrace_link *l[3];
		uint8_t before[16];
		struct poketrace_site site;

		memcpy(before, (void *)classes[i].fn, sizeof(before));
		/* fentry + fexit */
		attach_or_die(POKETRACE_FENTRY, i, (void *)on_entry, &l[0]);
		attach_or_die(POKETRACE_FEXIT, i, (void *)on_exit_, &l[1]);
		OK(poketrace_site_lookup((uintptr_t)classes[i].fn, &site));
		CHECK(site.kind == POKETRACE_SITE_RELOC, "%s: site kind %d", classes[i].name, site.kind);
		atomic_store(&entries, 0), atomic_store(&exits, 0);
		for (long x = 0; x < 4; x++) {
			long got = call(i, x);

			CHECK(got == classes[i].want(x), "%s(%ld) = %ld under fentry+fexit, want %ld", classes[i].name, x,
			      got, classes[i].want(x));
			CHECK(atomic_load(&last_arg) == x, "%s: entry saw %ld", classes[i].name, atomic_load(&last_arg));
			CHECK((int)atomic_load(&last_ret) == (int)got, "%s: exit saw %ld", classes[i].name,
			      atomic_load(&last_ret));
		}
		CHECK(atomic_load(&entries) == 4 && atomic_load(&exits) == 4, "%s: %ld entries %ld exits",
		      classes[i].name, atomic_load(&entries), atomic_load(&exits));
		/* fmod_ret beside them */
		attach_or_die(POKETRACE_FMOD_RET, i, (void *)modret_skip, &l[2]);
		CHECK(call(i, 5) == 555, "%s: fmod_ret did not override", classes[i].name);
		CHECK(call(i, 3) == classes[i].want(3), "%s(3) under fmod_ret: %ld", classes[i].name, call(i, 3));
		OK(poketrace_links_detach(l, 3));
		CHECK(!memcmp(before, (void *)classes[i].fn, sizeof(before)), "%s: its bytes are not back",
		      classes[i].name);
		CHECK(call(i, 2) == classes[i].want(2), "%s after detach", classes[i].name);
		/* replace, calling the original (the copy) */
		repl_i = i;
		attach_or_die(POKETRACE_REPLACE, i, (void *)replacement, &repl_link[i]);
		CHECK(call(i, 3) == classes[i].want(3) * 10, "%s replaced: %ld", classes[i].name, call(i, 3));
		OK(poketrace_link_detach(repl_link[i]));
		CHECK(call(i, 3) == classes[i].want(3), "%s after replace", classes[i].name);
		CHECK(!memcmp(before, (void *)classes[i].fn, sizeof(before)), "%s: bytes after replace", classes[i].name);
		printf("%-12s fentry, fexit, fmod_ret, replace: exact\n", classes[i].name);
	}
	OK(poketrace_quiesce(2000));
}

/* By name too; and each refusal class with its reason. */
static void refused(void)
{
	static const struct {
		const char *name;
		const char *why;
	} no[] = {
		{ "rl_loopback", "jumps into the first bytes" }, { "rl_switch", "through a register or a table" },
		{ "rl_callfirst", "would return into" }, { "rl_sys", "system call" }, { "rl_tiny", "5-byte jump" },
		{ "rl_stackodd", "stack" },
	};
	struct poketrace_link *l;

	OK(poketrace_init(NULL));
	OK(poketrace_link_attach(POKETRACE_FENTRY, "rl_jcc8", (void *)on_entry, NULL, &l));
	atomic_store(&entries, 0);
	CHECK(rl_jcc8(0) == 100 && atomic_load(&entries) == 1, "by name");
	OK(poketrace_link_detach(l));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		int r = poketrace_link_attach(POKETRACE_FENTRY, no[i].name, (void *)on_entry, NULL, &l);

		CHECK(r < 0, "%s was relocated", no[i].name);
		CHECK(strstr(poketrace_last_error(), "cannot be relocated") && strstr(poketrace_last_error(), no[i].why),
		      "%s: %s", no[i].name, poketrace_last_error());
		printf("%-12s %s\n", no[i].name, poketrace_last_error());
	}
	/* poketrace's own imports are never relocated */
	CHECK(poketrace_link_attach(POKETRACE_FENTRY, "libc.so*:calloc", (void *)on_entry, NULL, &l) < 0 &&
		      strstr(poketrace_last_error(), "poketrace itself calls it"),
	      "calloc: %s", poketrace_last_error());
}

/* Two threads call the relocated functions while a third attaches and
 * detaches them, hundreds of times: every result exact, and every round a
 * worker made wholly inside a window where the links stayed attached
 * counted exactly (one handler call per call), wholly inside a detached
 * window not at all.  phase: 4k+1 attached, 4k+2 detaching, 4k+3
 * detached, 4k+4 attaching. */
static atomic_int stop;
static atomic_long bad, ncalls, miscounted, windows[2], phase;
static __thread long my_hits;

static void count(void *data, const void *stack)
{
	(void)data, (void)stack;
	my_hits++;
}

static void *worker(void *arg)
{
	long x = (long)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		long p1 = atomic_load(&phase), h0 = my_hits, p2;

		for (size_t i = 0; i < NCLASSES; i++) {
			long v = (x + (long)i) & 3;

			if (call(i, v) != classes[i].want(v))
				atomic_fetch_add(&bad, 1);
		}
		p2 = atomic_load(&phase);
		if (p1 == p2 && (p1 % 4 == 1 || p1 % 4 == 3)) {
			long want = p1 % 4 == 1 ? (long)NCLASSES : 0;

			atomic_fetch_add(&windows[p1 % 4 == 1], 1);
			if (my_hits - h0 != want)
				atomic_fetch_add(&miscounted, 1);
		}
		atomic_fetch_add(&ncalls, 1);
		x++;
	}
	return NULL;
}

static unsigned long long emulated(void)
{
	struct poke_counters c;

	poke_get_counters(&c);
	return (unsigned long long)c.emulated;
}

/* Until a worker finished a round inside the current window. */
static void let_run(int attached)
{
	long w = atomic_load(&windows[attached]);

	WAIT_FOR(atomic_load(&windows[attached]) > w, 2);
}

static void storm(void)
{
	pthread_t t[2];
	struct poketrace_link_spec sp[NCLASSES];
	struct poketrace_link *l[NCLASSES];
	long rounds = 0;
	double end;

	OK(poketrace_init(NULL));
	atomic_store(&phase, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	end = test_now() + 3;
	while (test_now() < end || rounds < 200) {
		memset(sp, 0, sizeof(sp));
		for (size_t i = 0; i < NCLASSES; i++) {
			sp[i].kind = (rounds & 1) ? POKETRACE_FEXIT : POKETRACE_FENTRY;
			sp[i].addr = (uintptr_t)classes[i].fn;
			sp[i].handler = (void *)count;
			sp[i].opts.flags = POKETRACE_LINK_RAW;
		}
		atomic_fetch_add(&phase, 1); /* 4k+4: attaching */
		OK(poketrace_links_attach(sp, NCLASSES));
		atomic_fetch_add(&phase, 1); /* 4k+1 */
		let_run(1);
		for (size_t i = 0; i < NCLASSES; i++)
			l[i] = sp[i].link;
		atomic_fetch_add(&phase, 1); /* 4k+2: detaching */
		OK(poketrace_links_detach(l, NCLASSES));
		atomic_fetch_add(&phase, 1); /* 4k+3 */
		let_run(0);
		rounds++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%ld rounds; workers: %ld rounds, %ld wholly attached, %ld wholly detached, %ld miscounted, %ld "
	       "wrong results; %llu threads moved out of a region, %llu traps emulated\n", rounds,
	       atomic_load(&ncalls), atomic_load(&windows[1]), atomic_load(&windows[0]), atomic_load(&miscounted),
	       atomic_load(&bad), (unsigned long long)poke_moved(), (unsigned long long)emulated());
	CHECK(atomic_load(&bad) == 0, "%ld wrong results", atomic_load(&bad));
	CHECK(atomic_load(&miscounted) == 0, "%ld rounds miscounted", atomic_load(&miscounted));
	CHECK(atomic_load(&windows[1]) > 0 && atomic_load(&windows[0]) > 0, "no whole window");
	OK(poketrace_quiesce(2000));
}

/* ------------------------------------------------------ kept registers */

long rl_keeper(long), rl_keep_check(long, int), ipa_leaf(long), ipa_sum(long, long, long);
void rl_clobber(int);
extern long rl_keep_result;
static int use_avx;
static struct poketrace_link *keep_repl;

/* Handlers that write every register a call may (C code called from an
 * image may, and memcpy's AVX2 code writes ymm) */
static void clobber_entry(struct poketrace_ctx *ctx)
{
	(void)ctx;
	rl_clobber(use_avx);
}

static int clobber_modret(struct poketrace_ctx *ctx)
{
	rl_clobber(use_avx);
	if (ctx->args[0] == 5) {
		ctx->ret = 555;
		return 1;
	}
	return 0;
}

static long clobber_replacement(long x)
{
	long r = ((long (*)(long))poketrace_link_original(keep_repl))(x);

	rl_clobber(use_avx);
	return r + 1000;
}

/* five: what ipa_leaf(5) returns (fmod_ret overrides it) */
static long ipa_want(long n, long b, long c, long five)
{
	long s = 0;

	for (long i = 0; i < n; i++)
		s += (i == 5 ? five : i * 3 + 1) ^ b ^ c;
	return s;
}

/* Callers keep values in registers their callee does not write (gcc's
 * -fipa-ra, on at -O2): a relocated function's images give back every
 * register but the return's, whatever the handlers wrote, under every link
 * kind; rl_keep_check checks the general registers and xmm/ymm0-15 exactly,
 * ipa_sum is what gcc -O2 makes of such a caller. */
static void kept_registers(void)
{
	static const struct {
		const char *name;
		enum poketrace_link_kind kind;
		void *h;
		long plus;
	} kinds[] = {
		{ "fentry", POKETRACE_FENTRY, (void *)clobber_entry, 0 },
		{ "fexit", POKETRACE_FEXIT, (void *)clobber_entry, 0 },
		{ "fmod_ret", POKETRACE_FMOD_RET, (void *)clobber_modret, 0 },
		{ "replace", POKETRACE_REPLACE, (void *)clobber_replacement, 1000 },
	};

	/* ymm too where the CPU has them and images use them */
	const char *vec = getenv("POKETRACE_VEC");
	int avx = __builtin_cpu_supports("avx") && !(vec && !strcmp(vec, "sse"));

	OK(poketrace_init(NULL));
	/* 2: xmm values by VEX, upper halves zero, and handlers that leave
	 * ymm dirty: the caller finds its uppers zero (images that see them
	 * zero put back only the xmm halves, after a vzeroupper) */
	for (use_avx = 0; use_avx <= 2 * avx; use_avx++) {
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			struct poketrace_link *l[2];
			long m;

			OK(poketrace_link_attach(kinds[k].kind, "rl_keeper", kinds[k].h, NULL, &l[0]));
			OK(poketrace_link_attach(kinds[k].kind, "ipa_leaf", kinds[k].h, NULL, &l[1]));
			keep_repl = l[0];
			m = rl_keep_check(4, use_avx);
			/* a replacement's return registers are its own: rl_keeper has no
			 * prototype, so xmm0 may be a returned one (rax and xmm0 are
			 * taken as its return, rdx and xmm1-3 given back) */
			if (kinds[k].kind == POKETRACE_REPLACE)
				m &= ~(1L << 8 | 1L << 24);
			CHECK(m == 0, "%s%s: registers changed across the call (mask %#lx: bits 0-7 rcx rdx rsi rdi "
			      "r8-r11, 8-23 vector 0-15)", kinds[k].name,
			      use_avx == 2 ? " (xmm, uppers zero)" : use_avx ? " (ymm)" : "", m);
			CHECK(rl_keep_result == 13 + kinds[k].plus, "%s: rl_keeper(4) = %ld", kinds[k].name,
			      rl_keep_result);
			if (kinds[k].kind == POKETRACE_FMOD_RET) {
				/* the body skipped: the registers it was entered with, but
				 * the return's (without a prototype: rax rdx xmm0-3; their
				 * upper halves are zero, as after a VEX write, their xmm
				 * halves what they held: bits 24-27 with ymm) */
				m = rl_keep_check(5, use_avx);
				if (use_avx)
					m &= ~(0xfL << 8);
				CHECK(m == 0 && rl_keep_result == 555, "fmod_ret override: mask %#lx, result %ld", m,
				      rl_keep_result);
			}
			keep_repl = l[1];
			if (kinds[k].kind != POKETRACE_REPLACE) {
				long five = kinds[k].kind == POKETRACE_FMOD_RET ? 555 : 16;

				CHECK(ipa_sum(1000, 0x1234, 0x77) == ipa_want(1000, 0x1234, 0x77, five),
				      "%s: ipa_sum %ld, want %ld", kinds[k].name, ipa_sum(1000, 0x1234, 0x77),
				      ipa_want(1000, 0x1234, 0x77, five));
			} else
				CHECK(ipa_sum(3, 0, 0) == 1 + 4 + 7 + 3000, "replace: ipa_sum %ld", ipa_sum(3, 0, 0));
			OK(poketrace_links_detach(l, 2));
			printf("%-8s %s: every register kept\n", kinds[k].name,
			       use_avx == 2 ? "xmm, uppers zero" : use_avx ? "ymm" : "xmm");
		}
	}
	CHECK(rl_keep_check(4, 0) == 0 && ipa_sum(1000, 1, 2) == ipa_want(1000, 1, 2, 16), "after detach");
}

/* ------------------------------------------------------ ops by glob */

static atomic_long ops_calls;
static void count_ops(struct poketrace_ctx *ctx)
{
	(void)ctx;
	atomic_fetch_add(&ops_calls, 1);
}

/* Ops with POKETRACE_OPS_RELOCATE hook the functions without a site their
 * glob names (the relocatable ones: every class here, exactly); without
 * it they find none; unregistering puts the bytes back. */
static void ops_relocate(void)
{
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, "rl_*", NULL, NULL, 0 };
	struct poketrace_ops *o;
	uint8_t before[NCLASSES][8];

	OK(poketrace_init(NULL));
	for (size_t i = 0; i < NCLASSES; i++)
		memcpy(before[i], (void *)classes[i].fn, 8);
	OK(poketrace_ops_register(count_ops, &oo, &o));
	CHECK(poketrace_ops_nsites(o) == 0, "without the flag, %ld sites", poketrace_ops_nsites(o));
	OK(poketrace_ops_unregister(o));
	oo.flags = POKETRACE_OPS_RELOCATE;
	OK(poketrace_ops_register(count_ops, &oo, &o));
	CHECK(poketrace_ops_nsites(o) >= (long)NCLASSES, "%ld sites for %zu relocatable functions",
	      poketrace_ops_nsites(o), NCLASSES);
	for (size_t i = 0; i < NCLASSES; i++) {
		long c0 = atomic_load(&ops_calls);

		for (long x = 0; x < 4; x++)
			CHECK(call(i, x) == classes[i].want(x), "%s(%ld) under ops", classes[i].name, x);
		CHECK(atomic_load(&ops_calls) - c0 == 4, "%s: %ld ops calls for 4", classes[i].name,
		      atomic_load(&ops_calls) - c0);
	}
	CHECK(rl_loopback(3) == rl_loopback(3), "a refused function still runs");
	OK(poketrace_ops_unregister(o));
	OK(poketrace_quiesce(2000));
	for (size_t i = 0; i < NCLASSES; i++)
		CHECK(!memcmp(before[i], (void *)classes[i].fn, 8), "%s: bytes not back", classes[i].name);
	oo.flags = 1u << 7;
	CHECK(poketrace_ops_register(count_ops, &oo, &o) == -EINVAL, "unknown flag accepted");
}

/* ------------------------------------------------ unwinding in a copy */

/* Single-stepped (the trap flag) through an fexit-hooked call of each
 * class: at every instruction of its relocated copy, libgcc's unwinder from
 * the SIGTRAP handler reaches stepped_call's frame.  One batch over the
 * classes here and over the same functions in a library of their own:
 * copies near two modules, images between them. */
static uintptr_t step_copy;
static volatile int step_in_copy;
static volatile long steps, reached;

static _Unwind_Reason_Code find_caller(struct _Unwind_Context *c, void *arg)
{
	Dl_info di;

	(void)arg;
	if (dladdr((void *)(_Unwind_GetIP(c) - 1), &di) && di.dli_sname && !strcmp(di.dli_sname, "stepped_call")) {
		reached++;
		return _URC_END_OF_STACK;
	}
	return _URC_NO_REASON;
}

static void on_step(int sig, siginfo_t *si, void *uc)
{
	uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];

	(void)sig, (void)si;
	/* from the copy's entry until it jumps away (a copy is a few dozen
	 * bytes; reloc_fns.S has no unwind info of its own to test) */
	if (ip == step_copy)
		step_in_copy = 1;
	else if (ip < step_copy || ip >= step_copy + 64)
		step_in_copy = 0;
	if (step_in_copy) {
		steps++;
		_Unwind_Backtrace(find_caller, NULL);
	}
}

static int alloc_fail_at, allocs_seen;

static int fail_kth_alloc(const char *what)
{
	return strcmp(what, "alloc") || ++allocs_seen != alloc_fail_at ? 0 : ENOMEM;
}

__attribute__((noinline, visibility("default"))) long stepped_call(fn_t f, long x)
{
	long r;

	__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	r = f(x);
	__asm__ volatile("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
	return r;
}

static void unwind_in_copy(void)
{
	struct poketrace_link_spec spec[2 * NCLASSES];
	struct sigaction sa = { .sa_sigaction = on_step, .sa_flags = SA_SIGINFO };
	void *lib = dlopen(RELOC_LIB, RTLD_NOW | RTLD_LOCAL);
	fn_t fn[2 * NCLASSES];
	int r;

	CHECK(lib, "dlopen %s: %s", RELOC_LIB, dlerror());
	OK(poketrace_init(NULL));
	memset(spec, 0, sizeof(spec));
	for (size_t i = 0; i < 2 * NCLASSES; i++) {
		fn[i] = i < NCLASSES ? classes[i].fn : (fn_t)dlsym(lib, classes[i - NCLASSES].name);
		CHECK(i < NCLASSES || (fn[i] && fn[i] != classes[i % NCLASSES].fn), "%s: not in the library",
		      classes[i % NCLASSES].name);
		spec[i].kind = POKETRACE_FEXIT;
		spec[i].addr = (uintptr_t)fn[i];
		spec[i].handler = (void *)on_exit_;
	}
	/* first with the k-th long-lived allocation of the batch failing (k =
	 * 1, 2, ...: a site's record, the batch's gdb object, a run's unwind
	 * section): each attempt fails whole, and the copies the failed ones
	 * made are unwound through below like the others */
	for (alloc_fail_at = 1;; alloc_fail_at++) {
		allocs_seen = 0;
		pt_fault_hook = fail_kth_alloc;
		r = poketrace_links_attach(spec, 2 * NCLASSES);
		pt_fault_hook = NULL;
		if (allocs_seen < alloc_fail_at)
			break;
		CHECK(r < 0, "allocation %d of the batch failed, and the batch succeeded", alloc_fail_at);
	}
	OK(r);
	CHECK(alloc_fail_at > 2, "the batch made %d long-lived allocations: nothing failed", alloc_fail_at - 1);
	sigemptyset(&sa.sa_mask);
	OK(sigaction(SIGTRAP, &sa, NULL));
	for (size_t i = 0; i < 2 * NCLASSES; i++) {
		const char *name = classes[i % NCLASSES].name, *where = i < NCLASSES ? "" : " (library)";
		long r;

		step_copy = (uintptr_t)poketrace_link_original(spec[i].link);
		steps = reached = 0;
		r = stepped_call(fn[i], 3);
		CHECK((int)r == (int)classes[i % NCLASSES].want(3), "%s%s(3) single-stepped: %ld", name, where, r);
		CHECK(steps > 0, "%s%s: no step in its copy (%#lx)", name, where, (unsigned long)step_copy);
		CHECK(reached == steps, "%s%s: the unwinder reached the caller from %ld of %ld instructions of the "
		      "copy", name, where, reached, steps);
	}
	for (size_t i = 0; i < 2 * NCLASSES; i++)
		OK(poketrace_link_detach(spec[i].link));
}

TEST_MAIN({ "every_kind", every_kind }, { "refused", refused }, { "storm", storm },
	  { "kept_registers", kept_registers }, { "ops_relocate", ops_relocate }, { "unwind_in_copy", unwind_in_copy })
