/* Trace timestamps: the TSC (rdtsc, ~9 ns here, no system call), calibrated
 * against CLOCK_MONOTONIC and CLOCK_REALTIME so that readers convert it to
 * nanoseconds and wall-clock time.  Where the TSC is not constant and
 * invariant (no constant_tsc/nonstop_tsc), CLOCK_MONOTONIC in ns is used. */
#ifndef PT_TRACE_CLOCK_H
#define PT_TRACE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct trace_clock {
	bool tsc;              /* false: values are CLOCK_MONOTONIC ns */
	uint64_t freq;         /* Hz */
	uint64_t origin_s;     /* wall-clock time of value 0: seconds ... */
	uint64_t origin_cyc;   /* ... plus this many clock cycles */
};

void clock_setup(struct trace_clock *c);
/* CLOCK_MONOTONIC in ns (the vDSO's: async-signal-safe, no system call). */
uint64_t clock_mono_ns(void);
/* Refines freq with a second measurement (call at the end of a trace). */
void clock_refine(struct trace_clock *c);

static inline uint64_t clock_now(const struct trace_clock *c)
{
	if (__builtin_expect(c->tsc, 1)) {
		uint32_t lo, hi;

		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return (uint64_t)hi << 32 | lo;
	}
	return clock_mono_ns();
}

#endif
