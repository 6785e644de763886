/* The smallest use of poketrace: live-patch a function with a jmp to a new
 * version, and undo it.  Build with patch sites and link the library:
 *   clang -O2 -fpatchable-function-entry=5 minimal.c -lpoketrace */
#include <poketrace.h>
#include <stdio.h>

static volatile int base = 41;

__attribute__((noinline)) int answer(void) { return base; }
__attribute__((noinline)) int answer_fixed(void) { return base + 1; }

int main(void)
{
	struct poketrace_patch p = { (uintptr_t)answer, POKETRACE_INSN_JMP, (void *)answer_fixed };
	struct poketrace_batch_stats st;

	printf("before: %d\n", answer());
	if (poketrace_init(NULL) < 0 || poketrace_patch(&p, 1, &st) < 0) {
		fprintf(stderr, "poketrace: %s\n", poketrace_last_error());
		return 1;
	}
	printf("after:  %d (%zu site, %u syncs)\n", answer(), st.sites, st.syncs);
	p.insn = POKETRACE_INSN_NOP;
	if (poketrace_patch(&p, 1, NULL) < 0) {
		fprintf(stderr, "poketrace: %s\n", poketrace_last_error());
		return 1;
	}
	printf("undone: %d\n", answer());
	return 0;
}
