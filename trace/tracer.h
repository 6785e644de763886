/* The tracers: function (entry events), graph (entry and exit events:
 * a call tree with durations) and profile (counts and times per function,
 * kept in the process; only a table is written). */
#ifndef PT_TRACE_TRACER_H
#define PT_TRACE_TRACER_H

#include <stdbool.h>
#include <stdint.h>

#include "poketrace.h"
#include "trace/clock.h"

enum tracer_mode { TRACER_FUNCTION = 0, TRACER_GRAPH, TRACER_PROFILE };

struct tracer_config {
	enum tracer_mode mode;
	int max_depth;         /* 0: no limit; counted from a FOCUS function */
	uint64_t min_time;     /* clock cycles; calls shorter are dropped (graph) */
	uint32_t nfuncs;
	const struct trace_clock *clock;
};

struct prof_entry {
	uint64_t calls, total, self, min, max; /* profile tracer: complete calls; total: the outermost */
	uint64_t hits;                          /* every tracer: entries seen */
	uint64_t active;                        /* profile, per thread: its calls on the shadow stack */
};

void tracer_configure(const struct tracer_config *c);

/* uftrace's filters (graph tracer), per function: FOCUS (-F: the function
 * and what it calls), HIDE_TREE (-N: neither), HIDE (-H: the function
 * only, its callees shown).  With any FOCUS function, calls outside every
 * focused call are not written.  Set before the function's links. */
enum { TRACER_FOCUS = 1, TRACER_HIDE_TREE = 2, TRACER_HIDE = 4, TRACER_CALLER = 8, TRACER_LIBCALL = 16 };
void tracer_set_flags(uint32_t fn, uint8_t flags);
/* Whether some function has TRACER_FOCUS (before any link). */
void tracer_set_focus(bool any);
/* uftrace's -C: whether some function has TRACER_CALLER; then only the
 * calls of such functions and the calls they are in are written (each
 * entry kept back until a CALLER call below it, or dropped at its exit). */
void tracer_set_caller(bool any);
/* Library calls (uftrace's default view): a TRACER_LIBCALL function is
 * traced when called from the program's own code, a return address in one
 * of the n ranges [lo, hi), or from anywhere but poketrace with nest
 * (--nest-libcall).  Calls that are not are left out of every view, their
 * time their caller's own.  Replaces the ranges (at most TRACER_LC_RANGES). */
#define TRACER_LC_RANGES 16
void tracer_set_libcall(const uintptr_t (*ranges)[2], int n, bool nest);
/* Functions known so far (ids below it); grows as modules are loaded. */
void tracer_set_nfuncs(uint32_t n);
/* Raw link handlers (POKETRACE_LINK_RAW): data is the function's id, stack
 * the caller's stack position (identifies the frame). */
void tracer_entry(void *data, const void *stack);
void tracer_exit(void *data, const void *stack);
/* Argument and return value capture (-A/-R): a ctx-form link's data. */
struct capture {
	uint32_t fn;
	uint8_t nargs;           /* integer-register arguments recorded */
	uint8_t kind[6];         /* PROTO_ARG_* of each */
	uint8_t retkind;         /* 0: the return value is not recorded */
};
void tracer_entry_capture(struct poketrace_ctx *ctx);
void tracer_exit_capture(struct poketrace_ctx *ctx);

/* Entries of function id seen so far, all threads. */
uint64_t tracer_hits(uint32_t id);
/* Handlers do nothing from now on; returns once no thread is inside one
 * (so that buffers may be sealed from another thread).  resume undoes it.
 * stop: the trace is over (calls meanwhile are not lost events). */
void tracer_pause(bool stop);
void tracer_resume(void);
/* In a forked child that is not traced: handlers do nothing from now on
 * (no thread to wait for). */
void tracer_forked(void);
/* In a forked child that is traced (after tb_forked): counts start again
 * from zero; the profile leaves out the calls in progress (the parent's). */
void tracer_forked_go(void);
/* Every thread's counts back to zero, for a new trace; no handler may run. */
void tracer_reset(void);
/* Sums every thread's profile into out[nfuncs]. */
void tracer_profile_sum(struct prof_entry *out);

#endif
