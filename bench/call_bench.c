/* One timing of the call workload, for comparing builds of the same
 * functions (bench/micro.sh runs each build in turn, several rounds):
 *
 *   call_bench 1|1000 CALLS [on]
 *
 * 1: hb_0 called CALLS times in a loop; 1000: CALLS calls spread over 1,000
 * distinct functions (hb_sweep).  Prints ns per call.  Built once per
 * instrumentation (bench/bench.mk); what `on` means depends on the build:
 *   -DXRAY_BUILD   on: LLVM XRay's sleds patched, with an empty handler
 *   -DPT_BUILD     poketrace_init first (gcc's 5 x nop become one nop);
 *                  on: an empty fentry on every hb_ function
 * With no `on`, every build runs its sites as compiled (off). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef XRAY_BUILD
/* clang's xray_interface.h is C++ only: the three entry points we use */
enum xray_entry_type { XRAY_ENTRY_TYPE_ANY };
int __xray_set_handler(void (*)(int32_t, enum xray_entry_type));
int __xray_patch(void);
#define NOT_TRACED __attribute__((xray_never_instrument))
__attribute__((xray_never_instrument)) static void empty_handler(int32_t id, enum xray_entry_type t)
{
	(void)id;
	(void)t;
}
#else
#define NOT_TRACED
#endif
#ifdef PT_BUILD
#include "poketrace.h"
#endif

extern long hb_0(long x);
extern long hb_sweep(long x);
extern long (*const hb_table[])(long);
extern const long hb_count;

static volatile long sink;

#ifdef PT_BUILD
static void empty_typed(long x)
{
	(void)x;
}
#endif

NOT_TRACED static int turn_on(void)
{
#if defined(XRAY_BUILD)
	/* 1: XRayPatchingStatus SUCCESS */
	return __xray_set_handler(empty_handler) && __xray_patch() == 1 ? 0 : -1;
#elif defined(PT_BUILD)
	struct poketrace_link_spec *s = calloc((size_t)hb_count, sizeof(*s));

	for (long i = 0; s && i < hb_count; i++) {
		s[i].kind = POKETRACE_FENTRY;
		s[i].addr = (uintptr_t)hb_table[i];
		s[i].handler = (void *)empty_typed;
		s[i].opts.sz = sizeof(s[i].opts);
		s[i].opts.flags = POKETRACE_LINK_TYPED;
	}
	return s && poketrace_links_attach(s, (size_t)hb_count) == 0 ? 0 : -1;
#else
	return -1;
#endif
}

NOT_TRACED int main(int argc, char **argv)
{
	long k = argc > 1 ? atol(argv[1]) : 1, n = argc > 2 ? atol(argv[2]) : 10000000, s = 0;
	struct timespec t0, t1;

	if (argc < 3 || (k != 1 && k != 1000) || n <= 0) {
		fprintf(stderr, "usage: call_bench 1|1000 CALLS [on]\n");
		return 2;
	}
#ifdef PT_BUILD
	if (poketrace_init(NULL) < 0) {
		fprintf(stderr, "call_bench: %s\n", poketrace_last_error());
		return 1;
	}
#endif
	if (argc > 3 && !strcmp(argv[3], "on") && turn_on() < 0) {
		fprintf(stderr, "call_bench: this build cannot turn its sites on\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (k == 1)
		for (long i = 0; i < n; i++)
			s += hb_0(i);
	else
		for (long i = 0; i < n / hb_count; i++)
			s += hb_sweep(i);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sink = s;
	printf("%.3f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
				 (double)(k == 1 ? n : n / hb_count * hb_count));
	return 0;
}
