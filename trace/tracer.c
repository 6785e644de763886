/* Tracer handlers.  Each thread keeps a shadow stack of its traced frames
 * (function, entry time, the caller's stack position), which gives the depth
 * for -D, the duration for -t and the profile, and survives longjmp and
 * exceptions: frames deeper than the current stack position are dropped. */
#include "trace/tracer.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>

#include "trace/tbuf.h"

static struct tracer_config cfg;

/* Profile tables are reserved for this many functions (virtual memory; only
 * the pages touched are allocated), so that modules loaded later fit. */
#define PROF_CAP (1u << 20)

struct prof_table {
	struct prof_table *next;
	struct prof_entry e[];
};

static _Atomic(struct prof_table *) tables;
static __thread struct prof_table *my_table __attribute__((tls_model("initial-exec")));

void tracer_configure(const struct tracer_config *c)
{
	cfg = *c;
}

void tracer_set_nfuncs(uint32_t n)
{
	__atomic_store_n(&cfg.nfuncs, n < PROF_CAP ? n : PROF_CAP, __ATOMIC_RELEASE);
}

static struct prof_table *table(void)
{
	struct prof_table *t = my_table;

	if (t)
		return t;
	t = mmap(NULL, sizeof(*t) + PROF_CAP * sizeof(struct prof_entry), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	t->next = atomic_load(&tables);
	while (!atomic_compare_exchange_weak(&tables, &t->next, t))
		;
	return my_table = t;
}

/* The exit of a traced frame of the graph tracer: written, or, if the call
 * was shorter than -t and nothing was written since its entry, its entry is
 * taken back instead. */
static void close_frame(struct tbuf *b, const struct tb_frame *f, uint64_t ts)
{
	if (!f->traced)
		return;
	if (ts - f->ts < cfg.min_time && f->len && f->events == b->events && b->idx >= 0) {
		b->cur -= f->len;
		b->last_ts = f->prev_ts;
		b->events--;
		return;
	}
	tb_put(b, EV_EXIT, f->fn, ts);
}

/* Pops frames left behind by longjmp or an exception: they are deeper in
 * the stack (lower addresses) than a frame being entered or left.  Their
 * exits are written now, so that the trace nests correctly for readers
 * (which do not see stack positions). */
static void resync_slow(struct tbuf *b, const void *sp, bool entering, uint64_t ts)
{
	while (b->depth > 0) {
		const struct tb_frame *f = &b->frames[b->depth - 1];

		if (entering ? f->sp > sp : f->sp >= sp)
			break;
		b->depth--;
		if (cfg.mode == TRACER_GRAPH)
			close_frame(b, f, ts);
	}
}

/* The common case, nothing to pop, without a call. */
static inline void resync(struct tbuf *b, const void *sp, bool entering, uint64_t ts)
{
	const void *top;

	if (!b->depth)
		return;
	top = b->frames[b->depth - 1].sp;
	if (entering ? top > sp : top >= sp)
		return;
	resync_slow(b, sp, entering, ts);
}

void tracer_entry(void *data, const void *stack)
{
	struct tbuf *b = tb_self();
	uint32_t fn = (uint32_t)(uintptr_t)data;
	uint64_t ts = clock_now(cfg.clock);
	struct tb_frame *f;

	if (!b)
		return;
	if (cfg.mode == TRACER_FUNCTION) {
		tb_put(b, EV_ENTRY, fn, ts);
		return;
	}
	resync(b, stack, true, ts);
	if (b->depth == TB_MAX_DEPTH) {
		b->lost++;
		return;
	}
	f = &b->frames[b->depth++];
	f->fn = fn;
	f->sp = stack;
	f->child = 0;
	f->traced = cfg.mode == TRACER_GRAPH && (!cfg.max_depth || b->depth <= cfg.max_depth);
	if (f->traced) {
		uint8_t *before = b->cur;
		uint64_t n = b->events;
		int idx = b->idx;

		f->prev_ts = b->last_ts;
		tb_put(b, EV_ENTRY, fn, ts);
		f->events = b->events;
		/* Can be taken back only if written whole into the same chunk. */
		f->len = b->events == n + 1 && b->idx == idx ? (uint8_t)(b->cur - before) : 0;
	}
	f->ts = ts;
}

void tracer_exit(void *data, const void *stack)
{
	uint64_t ts = clock_now(cfg.clock), dur;
	struct tbuf *b = tb_self();
	struct tb_frame *f;

	if (!b)
		return;
	resync(b, stack, false, ts);
	if (b->depth == 0 || b->frames[b->depth - 1].fn != (uint32_t)(uintptr_t)data)
		return; /* its entry was not seen (lost, or before tracing began) */
	f = &b->frames[--b->depth];
	dur = ts - f->ts;
	if (b->depth > 0)
		b->frames[b->depth - 1].child += dur;
	if (cfg.mode == TRACER_PROFILE) {
		struct prof_table *t = table();
		struct prof_entry *e;

		if (!t || f->fn >= PROF_CAP)
			return;
		e = &t->e[f->fn];
		if (e->calls == 0 || dur < e->min)
			e->min = dur;
		if (dur > e->max)
			e->max = dur;
		e->calls++;
		e->total += dur;
		e->self += dur > f->child ? dur - f->child : 0;
		return;
	}
	close_frame(b, f, ts);
}

void tracer_profile_sum(struct prof_entry *out)
{
	for (struct prof_table *t = atomic_load(&tables); t; t = t->next) {
		for (uint32_t i = 0; i < cfg.nfuncs; i++) {
			struct prof_entry *a = &out[i], *e = &t->e[i];

			if (!e->calls)
				continue;
			if (!a->calls || e->min < a->min)
				a->min = e->min;
			if (e->max > a->max)
				a->max = e->max;
			a->calls += e->calls;
			a->total += e->total;
			a->self += e->self;
		}
	}
}
