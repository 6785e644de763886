/* Relocating a function's first instructions (arch/x86_64/reloc.c), on the
 * hand-written functions of targets/reloc_fns.S: each relocation class's
 * copy, placed in executable memory near the module and run as "the
 * original" (the copy, then the rest of the function), computes what the
 * function computes; each refusal class is refused with its reason. */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/reloc.h"
#include "core/elfscan.h"
#include "harness.h"

int rl_ripmov(int), rl_riplea(int), rl_ripcmp(int), rl_jcc8(int), rl_jmp8(int), rl_calllast(int), rl_endbr(int);
long rl_frame(long);
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
	CHECK(p.cfa[1].cfa_off == 16 && p.cfa[1].rbp_saved && p.cfa[2].rbp_based, "frame: CFA after push %u, "
	      "rbp based after mov %d", p.cfa[1].cfa_off, p.cfa[2].rbp_based);
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

TEST_MAIN(CASE(rip_relative), CASE(branches), CASE(call_last), CASE(prologues), CASE(ip_map), CASE(refusals))
