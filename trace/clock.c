/* Calibrating the TSC: two (CLOCK_MONOTONIC, rdtsc) pairs 50 ms apart give
 * the frequency; a (CLOCK_REALTIME, rdtsc) pair places value 0 in time. */
#include "trace/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool tsc_usable(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool constant = false, nonstop = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t t0_ns, t0_cyc;

static void place_origin(struct trace_clock *c)
{
	struct timespec rt;
	uint64_t cyc, now_ns, origin_ns;

	clock_gettime(CLOCK_REALTIME, &rt);
	cyc = c->tsc ? rdtsc() : clock_mono_ns();
	now_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	/* origin = now - cyc / freq, as seconds + cycles */
	origin_ns = now_ns - (uint64_t)((double)cyc * 1e9 / (double)c->freq);
	c->origin_s = origin_ns / 1000000000u;
	c->origin_cyc = (uint64_t)((double)(origin_ns % 1000000000u) * (double)c->freq / 1e9);
}

void clock_setup(struct trace_clock *c)
{
	/* 5 ms, in the traced program's constructor: a first estimate (the
	 * clock's jitter is a few µs: 0.1%), refined over the whole run by
	 * clock_refine before anything is converted for readers. */
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	uint64_t n1, c1;

	memset(c, 0, sizeof(*c));
	c->tsc = tsc_usable();
	c->freq = 1000000000u;
	if (c->tsc) {
		t0_ns = clock_mono_ns();
		t0_cyc = rdtsc();
		nanosleep(&pause, NULL);
		n1 = clock_mono_ns();
		c1 = rdtsc();
		c->freq = (uint64_t)((double)(c1 - t0_cyc) * 1e9 / (double)(n1 - t0_ns));
	}
	place_origin(c);
}

void clock_refine(struct trace_clock *c)
{
	uint64_t n1, c1;

	if (!c->tsc)
		return;
	n1 = clock_mono_ns();
	c1 = rdtsc();
	if (n1 - t0_ns > 20 * 1000 * 1000u) { /* a longer base is more precise */
		c->freq = (uint64_t)((double)(c1 - t0_cyc) * 1e9 / (double)(n1 - t0_ns));
		place_origin(c);
	}
}
