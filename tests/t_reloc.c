/* Relocating a function's first instructions (arch/x86_64/reloc.c), on the
 * hand-written functions of targets/reloc_fns.S: each relocation class's
 * copy, placed in executable memory near the module and run as "the
 * original" (the copy, then the rest of the function), computes what the
 * function computes; each refusal class is refused with its reason. */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdatomic.h>
#include <string.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/poke.h"
#include "arch/x86_64/reloc.h"
#include "core/dynsite.h"
#include "core/elfscan.h"
#include "core/sites.h"
#include "arch/x86_64/poke.h"
#include "harness.h"

int rl_ripmov(int), rl_riplea(int), rl_ripcmp(int), rl_jcc8(int), rl_jmp8(int), rl_calllast(int), rl_endbr(int);
long rl_frame(long);
long rl_regsave(long, long);
int rl_loopback(int), rl_switch(int), rl_callfirst(int), rl_sys(int), rl_tiny(int), rl_stackodd(int);

static struct es_file self;
static bool self_open;

/* The function's size, from this program's symbol table. */
static size_t size_of(const char *name, void *fn)
{
	const struct es_sym *s;

	if (!self_open) {
		OK(es_open("/proc/self/exe", &self));
		self_open = true;
	}
	s = es_symbol_named(&self, name);
	CHECK(s, "no symbol %s", name);
	(void)fn;
	return s->size;
}

static enum reloc_refusal plan_of(const char *name, void *fn, struct reloc_plan *p, char *why)
{
	return reloc_analyse((const uint8_t *)fn, (uintptr_t)fn, size_of(name, fn), p, why, 256);
}

/* The copy of fn's entry in executable memory near it: "the original". */
static void *copy_of(const char *name, void *fn, struct reloc_plan *p)
{
	uint8_t buf[RELOC_MAX_COPY];
	char why[256];
	void *mem;
	int n;

	CHECK(plan_of(name, fn, p, why) == RELOC_OK, "%s refused: %s", name, why);
	OK(poketrace_execmem_alloc(fn, RELOC_MAX_COPY, &mem));
	memset(buf, 0xcc, sizeof(buf));
	n = reloc_emit(p, (uintptr_t)mem, buf, sizeof(buf));
	CHECK(n > 0, "%s: emit %d", name, n);
	OK(poketrace_execmem_write(mem, buf, sizeof(buf)));
	return mem;
}

#define COPY(fn, p) copy_of(#fn, (void *)fn, p)

static void rip_relative(void)
{
	struct reloc_plan p;
	int (*mov)(int) = COPY(rl_ripmov, &p);

	CHECK(p.len == 6 && p.ninsn == 1, "ripmov: %u bytes, %u instructions", p.len, p.ninsn);
	CHECK(mov(5) == rl_ripmov(5) && mov(5) == 1005, "ripmov copy: %d", mov(5));
	int (*lea)(int) = COPY(rl_riplea, &p);

	for (int i = 0; i < 4; i++)
		CHECK(lea(i) == rl_riplea(i), "riplea(%d): %d", i, lea(i));
	int (*cmp)(int) = COPY(rl_ripcmp, &p);

	CHECK(cmp(999) == 0 && cmp(1001) == 1, "ripcmp copy");
}

static void branches(void)
{
	struct reloc_plan p;
	int (*jcc)(int) = COPY(rl_jcc8, &p);

	CHECK(p.ninsn == 3, "jcc8: %u instructions", p.ninsn);
	for (int x = -2; x <= 2; x++)
		CHECK(jcc(x) == rl_jcc8(x), "jcc8(%d): %d, want %d", x, jcc(x), rl_jcc8(x));
	int (*jmp)(int) = COPY(rl_jmp8, &p);

	CHECK(jmp(3) == 10, "jmp8 copy: %d", jmp(3));
}

static void call_last(void)
{
	struct reloc_plan p;
	int (*c)(int) = COPY(rl_calllast, &p);

	CHECK(p.last_is_call && p.len == 6, "calllast: len %u, call last %d", p.len, p.last_is_call);
	CHECK(c(5) == 16 && rl_calllast(5) == 16, "calllast copy: %d", c(5));
}

static void prologues(void)
{
	struct reloc_plan p;
	long (*f)(long) = COPY(rl_frame, &p);

	CHECK(f(7) == 21, "frame copy: %ld", f(7));
	CHECK(p.len == 8 && p.ninsn == 3, "frame: %u bytes, %u instructions", p.len, p.ninsn);
	CHECK(p.cfa[1].cfa_off == 16 && p.cfa[1].saved[RELOC_DWREG_RBP] == 2 && p.cfa[2].rbp_based,
	      "frame: CFA after push %u, rbp based after mov %d", p.cfa[1].cfa_off, p.cfa[2].rbp_based);
	/* rbp and rbx saved, then ordinary registers: unwinding finds the
	 * caller's values where the pushes put them */
	long (*g)(long, long) = COPY(rl_regsave, &p);

	CHECK(g(5, 3) == 13, "regsave copy: %ld", g(5, 3));
	CHECK(p.ninsn == 3 && p.cfa[1].saved[RELOC_DWREG_RBP] == 2 && p.cfa[3].cfa_off == 24 &&
		      p.cfa[3].saved[RELOC_DWREG_RBX] == 3 && !p.cfa[3].rbp_based,
	      "regsave: %u instructions, CFA %u, rbp at %u, rbx at %u", p.ninsn, p.cfa[3].cfa_off,
	      p.cfa[3].saved[RELOC_DWREG_RBP], p.cfa[3].saved[RELOC_DWREG_RBX]);
	int (*e)(int) = COPY(rl_endbr, &p);

	CHECK(p.start == (uintptr_t)rl_endbr + 4, "endbr64 stays: start at +%lu", (unsigned long)(p.start - (uintptr_t)rl_endbr));
	CHECK(e(10) == 9, "endbr copy: %d", e(10));
}

static void ip_map(void)
{
	struct reloc_plan p;
	void *c = COPY(rl_jcc8, &p);

	/* every boundary of the region maps into the copy, nothing else does */
	for (unsigned i = 0; i < p.ninsn; i++)
		CHECK(reloc_map_ip(&p, (uintptr_t)c, p.start + p.old_off[i]) == (uintptr_t)c + p.new_off[i], "boundary %u", i);
	CHECK(reloc_map_ip(&p, (uintptr_t)c, p.start + 1) == 0, "inside an instruction");
}

static void refusals(void)
{
	static const struct {
		const char *name;
		void *fn;
		enum reloc_refusal want;
	} cases[] = {
		{ "rl_loopback", (void *)rl_loopback, RELOC_BRANCH_INTO },
		{ "rl_switch", (void *)rl_switch, RELOC_INDIRECT_JUMP },
		{ "rl_callfirst", (void *)rl_callfirst, RELOC_CALL_NOT_LAST },
		{ "rl_sys", (void *)rl_sys, RELOC_SYSTEM },
		{ "rl_tiny", (void *)rl_tiny, RELOC_TOO_SHORT },
		{ "rl_stackodd", (void *)rl_stackodd, RELOC_STACK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reloc_plan p;
		char why[256];
		enum reloc_refusal r = plan_of(cases[i].name, cases[i].fn, &p, why);

		CHECK(r == cases[i].want, "%s: refusal %d (%s), want %d (%s)", cases[i].name, r, why, cases[i].want,
		      reloc_refusal_text(cases[i].want));
		CHECK(why[0], "%s: no reason given", cases[i].name);
		printf("%-14s %s: %s\n", cases[i].name, reloc_refusal_text(r), why);
	}
}

/* The live protocol on a relocated entry (poke_commit with an original
 * side): threads call rl_jcc8 and rl_frame while the test installs a jump
 * to their copies and removes it, again and again.  Every call computes its
 * result; threads met inside a region are moved into the copy. */
static atomic_int stop;
static atomic_long calls;

static void *caller(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int x = -2; x <= 2; x++)
			CHECK(rl_jcc8(x) == (x ? 2 * x : 100), "rl_jcc8(%d)", x);
		CHECK(rl_frame(5) == 15, "rl_frame");
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static int relocate(struct poke_entry *e, size_t n, bool install, struct poke_result *res)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t jmp[5];

		insn_encode(INSN_JMP, e[i].addr, e[i].copy, jmp);
		if (install) {
			memcpy(e[i].old, (const void *)e[i].addr, 5); /* the original bytes */
			memcpy(e[i].new, jmp, 5);
		} else {
			memcpy(e[i].old, jmp, 5);
		}
		e[i].orig = install ? POKE_ORIG_OLD : POKE_ORIG_NEW;
	}
	poke_lock();
	int r = poke_commit(e, n, res);
	poke_unlock();
	return r;
}

static void live_install(void)
{
	static struct reloc_plan p[2];
	struct poke_entry e[2];
	uint8_t saved[2][5];
	pthread_t t[2];
	uint64_t moved = 0;
	long batches = 0;
	double end;

	OK(poketrace_init(NULL));
	memset(e, 0, sizeof(e));
	e[0].copy = (uintptr_t)COPY(rl_jcc8, &p[0]);
	e[1].copy = (uintptr_t)COPY(rl_frame, &p[1]);
	for (int i = 0; i < 2; i++) {
		e[i].addr = p[i].start;
		e[i].plan = &p[i];
		memcpy(saved[i], (const void *)e[i].addr, 5);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	end = test_now() + 1;
	/* a second of batches at least, and until a thread was met mid-region
	 * once (how often depends on the scheduler; 20 s at most) */
	while (test_now() < end || (!moved && test_now() < end + 20)) {
		struct poke_result res;

		OK(relocate(e, 2, true, &res));
		moved += res.moved;
		CHECK(((uint8_t *)e[0].addr)[0] == 0xe9, "installed");
		for (int i = 0; i < 2; i++)
			memcpy(e[i].new, saved[i], 5);
		OK(relocate(e, 2, false, &res));
		CHECK(!memcmp((const void *)e[0].addr, saved[0], 5) && !memcmp((const void *)e[1].addr, saved[1], 5),
		      "removed: the original bytes");
		batches += 2;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%ld batches, %ld rounds of calls, %lu threads moved out of a region\n", batches, atomic_load(&calls),
	       (unsigned long)moved);
	CHECK(atomic_load(&calls) > 0, "no call ran");
}

/* The move out of a region, made to happen: a thread stopped (by a ptrace
 * helper that single-steps it) at rl_frame+4, inside the bytes the jump
 * overwrites, while the batch installs the jump.  It takes the engine's
 * signal when it is let go, and continues at the same instruction in the
 * copy: every result stays right, and the move is counted. */
static atomic_long w_calls, w_bad;
static atomic_int w_stop;
static _Atomic pid_t w_tid;

static void *stepped(void *arg)
{
	(void)arg;
	atomic_store(&w_tid, (pid_t)syscall(SYS_gettid));
	while (!atomic_load(&w_stop)) {
		if (rl_frame(5) != 15)
			atomic_fetch_add(&w_bad, 1);
		atomic_fetch_add(&w_calls, 1);
	}
	return NULL;
}

/* The helper: stops tid at want, says so on up, waits on down, lets it go. */
static int stepper(pid_t tid, uintptr_t want, int up, int down)
{
	struct user_regs_struct regs;
	int st;
	char c = 1;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0 || ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
	    waitpid(tid, &st, __WALL) != tid)
		return 1;
	for (long i = 0; i < 100000000; i++) {
		if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
			return 2;
		if (regs.rip == want)
			break;
		if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0 || waitpid(tid, &st, __WALL) != tid)
			return 3;
	}
	if (regs.rip != want || write(up, &c, 1) != 1 || read(down, &c, 1) != 1)
		return 4;
	ptrace(PTRACE_DETACH, tid, 0, 0); /* the engine's signal stays pending: taken now */
	return 0;
}

static void ip_fixup(void)
{
	static struct reloc_plan p;
	struct poke_entry e;
	uint64_t moved0;
	int up[2], down[2], st;
	pthread_t t;
	pid_t helper;
	long c0;
	char c;

	OK(poketrace_init(NULL));
	memset(&e, 0, sizeof(e));
	e.copy = (uintptr_t)COPY(rl_frame, &p);
	e.addr = p.start;
	e.plan = &p;
	CHECK(p.old_off[2] == 4, "rl_frame's third instruction is at +%u", p.old_off[2]);
	pthread_create(&t, NULL, stepped, NULL);
	while (!atomic_load(&w_tid))
		;
	CHECK(pipe(up) == 0 && pipe(down) == 0, "pipe");
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama: let the helper trace us */
	helper = fork();
	if (helper == 0)
		_exit(stepper(atomic_load(&w_tid), p.start + 4, up[1], down[0]));
	CHECK(read(up[0], &c, 1) == 1, "the helper could not stop the thread at rl_frame+4 (ptrace refused?)");
	moved0 = poke_moved();
	c0 = atomic_load(&w_calls);
	{
		struct poke_result res;

		memcpy(e.old, (const void *)e.addr, 5);
		insn_encode(INSN_JMP, e.addr, e.copy, e.new);
		e.orig = POKE_ORIG_OLD;
		poke_lock();
		OK(poke_commit(&e, 1, &res));
		poke_unlock();
	}
	CHECK(write(down[1], &c, 1) == 1 && waitpid(helper, &st, 0) == helper && WIFEXITED(st) && !WEXITSTATUS(st),
	      "helper: status %#x", st);
	CHECK(WAIT_FOR(atomic_load(&w_calls) > c0 + 1000, 60), "the thread did not go on");
	atomic_store(&w_stop, 1);
	pthread_join(t, NULL);
	printf("moved %lu, %ld calls after, %ld wrong\n", (unsigned long)(poke_moved() - moved0),
	       atomic_load(&w_calls) - c0, atomic_load(&w_bad));
	CHECK(poke_moved() == moved0 + 1, "the stopped thread was moved %lu times", (unsigned long)(poke_moved() - moved0));
	CHECK(atomic_load(&w_bad) == 0, "%ld wrong results", atomic_load(&w_bad));
}

/* Judging functions without sites in the loaded modules: ours relocatable or
 * refused with the analysis' reason, glibc's that poketrace imports refused
 * as such (the set derived from this program's own imports). */
static int read_mem(void *ctx, uintptr_t a, void *buf, size_t n)
{
	(void)ctx;
	memcpy(buf, (const void *)a, n);
	return 0;
}

static struct dynsite_verdict judge(void *fn, const char *name)
{
	struct dynsite_verdict v;
	struct pt_module *m;
	const struct es_sym *sym;

	poke_lock();
	m = sites_module_at((uintptr_t)fn);
	CHECK(m, "no module holds %s", name);
	sym = es_symbol_named(&m->elf, name);
	CHECK(sym, "%s: no symbol %s", m->path, name);
	OK(dynsite_judge(m, sym, read_mem, NULL, &v));
	poke_unlock();
	printf("%-16s %s\n", name, v.how == DYNSITE_RELOCATABLE ? "relocatable" : v.why);
	return v;
}

static void verdicts(void)
{
	struct dynsite_verdict v;

	OK(poketrace_init(NULL));
	v = judge((void *)rl_frame, "rl_frame");
	CHECK(v.how == DYNSITE_RELOCATABLE && v.plan.len == 8, "rl_frame: %s", v.why);
	v = judge((void *)rl_loopback, "rl_loopback");
	CHECK(v.how == DYNSITE_REFUSED && v.refusal == RELOC_BRANCH_INTO, "rl_loopback: %s", v.why);
	v = judge((void *)dl_iterate_phdr, "dl_iterate_phdr");
	CHECK(v.how == DYNSITE_REFUSED && v.own_import, "dl_iterate_phdr, which poketrace imports: %s", v.why);
}

TEST_MAIN(CASE(verdicts), CASE(live_install), CASE(ip_fixup), CASE(rip_relative), CASE(branches), CASE(call_last), CASE(prologues), CASE(ip_map), CASE(refusals))
