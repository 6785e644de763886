/* Tracer handlers.  Each thread keeps a shadow stack of its traced frames
 * (function, entry time, the caller's stack position), which gives the depth
 * for -D, the duration for -t and the profile, and survives longjmp and
 * exceptions: frames deeper than the current stack position are dropped. */
#include "trace/tracer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "arch/x86_64/saferead.h"
#include "arch/x86_64/sync.h"
#include "arch/x86_64/tramp.h"
#include "core/proto.h"
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

/* Per function id, below PROF_CAP (the profile's bound too). */
static uint8_t *fnflags;
static bool focus_any, caller_any;

void tracer_set_flags(uint32_t fn, uint8_t flags)
{
	if (!fnflags && flags)
		fnflags = calloc(PROF_CAP, 1); /* pages untouched until used */
	if (fnflags && fn < PROF_CAP)
		fnflags[fn] = flags;
}

void tracer_set_focus(bool any)
{
	focus_any = any;
}

void tracer_set_caller(bool any)
{
	caller_any = any;
}


/* A -C call is being entered: the entries of the calls it is in that were
 * kept back are written first, outermost first.  Their timestamps are in
 * order: nothing was written since the outermost of them began (anything
 * written below it would have written it). */
static void write_pending(struct tbuf *b)
{
	for (int i = 0; i < b->depth - 1; i++) {
		struct tb_frame *f = &b->frames[i];

		if (!f->pending)
			continue;
		tb_put(b, EV_ENTRY, f->fn, f->ts);
		f->pending = false;
		f->traced = true;
		f->nev = 0;
	}
}

static inline uint8_t flags_of(uint32_t fn)
{
	return fnflags && fn < PROF_CAP ? fnflags[fn] : 0;
}

static uintptr_t lc_range[TRACER_LC_RANGES][2];
static _Atomic int lc_n;
static bool lc_nest;

void tracer_set_libcall(const uintptr_t (*ranges)[2], int n, bool nest)
{
	n = n < TRACER_LC_RANGES ? n : TRACER_LC_RANGES;
	/* (set before the libcall functions' links, added to after: a reader
	 * sees the old count or the new one with its ranges written) */
	for (int i = 0; i < n; i++)
		lc_range[i][0] = ranges[i][0], lc_range[i][1] = ranges[i][1];
	lc_nest = nest;
	atomic_store(&lc_n, n);
}

/* A library function called from the library side (not the program's own
 * code): left out.  stack is just above the return address.  A return into
 * a landing pad is a tail call from the body the pad called: the caller is
 * the innermost traced call, the program's if it is no library call. */
static bool libcall_left_out(const struct tbuf *b, uint8_t fl, const void *stack)
{
	uintptr_t ret;
	int n;

	if (!(fl & TRACER_LIBCALL) || lc_nest)
		return false;
	ret = ((const uintptr_t *)stack)[-1];
	n = atomic_load_explicit(&lc_n, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (ret >= lc_range[i][0] && ret < lc_range[i][1])
			return false;
	if (b->depth && !b->frames[b->depth - 1].left_out &&
	    !(flags_of(b->frames[b->depth - 1].fn) & TRACER_LIBCALL) && tramp_is_pad_return(ret))
		return false;
	return true;
}

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

	if (__builtin_expect(t != NULL, 1))
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
static void close_frame(struct tbuf *b, const struct tb_frame *f, uint64_t ts, const uint64_t *ret)
{
	if (!f->traced)
		return;
	if (ts - f->ts < cfg.min_time && f->nev && f->events == b->events && b->idx >= 0) {
		b->cur = f->pos;
		b->last_ts = f->prev_ts;
		b->events -= f->nev;
		return;
	}
	if (ret)
		tb_put_payload(b, EV_EXIT_RET, f->fn, ts, ret, sizeof(*ret));
	else
		tb_put(b, EV_EXIT, f->fn, ts);
}

/* A call of the profile ends: its counts and times. */
static void profile_close(const struct tb_frame *f, uint64_t dur)
{
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
	if (--e->active == 0)
		e->total += dur; /* the outermost call of the function (uftrace's rule) */
	e->self += dur > f->child ? dur - f->child : 0;
}

/* The frame on top of b's stack ends at ts (popped): its time is its
 * caller's child time, and its exit is written or counted. */
static void frame_end(struct tbuf *b, uint64_t ts, const uint64_t *ret)
{
	const struct tb_frame *f = &b->frames[--b->depth];
	uint64_t dur = ts - f->ts;

	if (f->left_out)
		return; /* its time is its caller's own */
	if (b->depth > 0)
		b->frames[b->depth - 1].child += dur;
	if (cfg.mode == TRACER_PROFILE)
		profile_close(f, dur);
	else
		close_frame(b, f, ts, ret);
}

/* Pops frames left behind by longjmp or an exception: they are deeper in
 * the stack (lower addresses) than a frame being entered or left.  They
 * end now, when this is first seen: their exits are written (so that the
 * trace nests correctly for readers, which do not see stack positions),
 * and the profile counts them as calls (the graph shows them). */
static void resync_slow(struct tbuf *b, const void *sp, bool entering, uint64_t ts)
{
	while (b->depth > 0) {
		const struct tb_frame *f = &b->frames[b->depth - 1];

		if (entering ? f->sp > sp : f->sp >= sp)
			break;
		frame_end(b, ts, NULL);
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

/* A string argument, read so that a bad pointer cannot fault: up to
 * TB_MAX_STRING bytes, as far as they are mapped. */
static void put_string(struct tbuf *b, uint32_t fn, uint8_t index, uint64_t ptr, uint64_t ts)
{
	char buf[1 + TB_MAX_STRING + 1];
	size_t n = ptr ? safe_read(buf + 1, (uintptr_t)ptr, TB_MAX_STRING) : 0;

	if (!n)
		return; /* NULL or unreadable: the reader shows the pointer */
	buf[0] = (char)index;
	buf[1 + n] = '\0';
	tb_put_payload(b, EV_ARG_STRING, fn, ts, buf, 1 + strlen(buf + 1) + 1);
}

static void entry(uint32_t fn, const void *stack, const struct poketrace_ctx *ctx, const struct capture *cap)
{
	struct tbuf *b = tb_self();
	uint64_t ts = clock_now(cfg.clock);
	struct tb_frame *f;
	bool out;

	if (!b)
		return;
	out = libcall_left_out(b, flags_of(fn), stack);
	if (!out) {
		struct prof_table *t = table();

		b->traced = true;
		if (t && fn < PROF_CAP)
			t->e[fn].hits++;
	}
	if (cfg.mode == TRACER_FUNCTION) {
		if (out)
			return;
		tb_put(b, EV_ENTRY, fn, ts);
		return;
	}
	resync(b, stack, true, ts);
	if (b->depth == TB_MAX_DEPTH) {
		b->lost += !out;
		return;
	}
	f = &b->frames[b->depth++];
	if (cfg.mode == TRACER_PROFILE && my_table && fn < PROF_CAP && !out)
		my_table->e[fn].active++; /* a recursive call's time is in its outermost call's */
	f->fn = fn;
	f->sp = stack;
	f->child = 0;
	f->left_out = out;
	if (out) {
		/* its exit pops this frame: the calls below stay in the caller's scope */
		const struct tb_frame *up = b->depth > 1 ? &b->frames[b->depth - 2] : NULL;

		f->scope = up ? up->scope : focus_any ? 0 : TB_IN_FOCUS;
		f->fdepth = up ? up->fdepth : 0;
		f->traced = f->pending = false;
		f->ts = ts;
		return;
	}
	{
		/* the caller's scope, this function's filters added */
		uint8_t fl = flags_of(fn);
		const struct tb_frame *up = b->depth > 1 ? &b->frames[b->depth - 2] : NULL;
		bool want;

		f->scope = up ? up->scope : focus_any ? 0 : TB_IN_FOCUS;
		f->scope |= (fl & TRACER_FOCUS ? TB_IN_FOCUS : 0) | (fl & TRACER_HIDE_TREE ? TB_HIDDEN : 0);
		/* uftrace's -D with -F: depth from the focused call */
		f->fdepth = fl & TRACER_FOCUS || !up ? 1 : up->fdepth < UINT16_MAX ? up->fdepth + 1 : UINT16_MAX;
		want = cfg.mode == TRACER_GRAPH && (!cfg.max_depth || f->fdepth <= cfg.max_depth) &&
		       f->scope == TB_IN_FOCUS && !(fl & TRACER_HIDE);
		f->pending = want && caller_any && !(fl & TRACER_CALLER);
		f->traced = want && !f->pending;
	}
	f->ts = ts;
	if (f->traced && caller_any)
		write_pending(b);
	if (f->traced) {
		uint64_t n = b->events;
		int idx = b->idx;

		f->prev_ts = b->last_ts;
		f->pos = b->cur;
		if (cap && cap->nargs) {
			uint8_t payload[1 + 6 * 8];

			payload[0] = cap->nargs;
			memcpy(payload + 1, ctx->args, 8u * cap->nargs);
			tb_put_payload(b, EV_ENTRY_ARGS, fn, ts, payload, 1 + 8u * cap->nargs);
			for (uint8_t i = 0; i < cap->nargs; i++)
				if (cap->kind[i] == PROTO_ARG_STR)
					put_string(b, fn, i, ctx->args[i], ts);
		} else {
			tb_put(b, EV_ENTRY, fn, ts);
		}
		f->events = b->events;
		/* Can be taken back only if written whole into the same chunk. */
		f->nev = b->idx == idx && b->events > n && b->events - n < 8 ? (uint8_t)(b->events - n) : 0;
	}
}

static void leave(uint32_t fn, const void *stack, const uint64_t *ret)
{
	uint64_t ts = clock_now(cfg.clock);
	struct tbuf *b = tb_self();

	if (!b)
		return;
	resync(b, stack, false, ts);
	if (b->depth == 0 || b->frames[b->depth - 1].fn != fn)
		return; /* its entry was not seen (lost, or before tracing began) */
	frame_end(b, ts, ret);
}

/* Every handler runs with its thread's busy count raised, and does nothing
 * while the tracer is paused (but count a lost event: not when stopped, the
 * trace being over).  tracer_pause sets
 * the flag, then makes every thread execute a full barrier (sync_cores):
 * after that, each thread either shows its busy count or sees the flag.
 * No fence on the hot path, only compiler barriers. */
static volatile int paused;

static inline struct tbuf *guard_enter(void)
{
	struct tbuf *b = tb_self();

	if (!b)
		return NULL;
	b->busy++;
	__asm__ volatile("" ::: "memory");
	if (__builtin_expect(paused, 0)) {
		b->lost += paused == 1;
		__asm__ volatile("" ::: "memory");
		b->busy--;
		return NULL;
	}
	return b;
}

static inline void guard_leave(struct tbuf *b)
{
	__asm__ volatile("" ::: "memory");
	b->busy--;
}

void tracer_pause(bool stop)
{
	struct timespec pause = { 0, 50000 };

	paused = stop ? 2 : 1;
	if (stop)
		tb_stop_waiting(true); /* a thread waiting for the writer gives up */
	if (sync_cores() < 0)
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL); /* no barrier to send: wait instead */
	/* A handler takes well under a microsecond; a count that stays up for a
	 * second belongs to a thread that left a handler by longjmp from a
	 * signal handler, and never comes down. */
	for (struct tbuf *b = tb_all(); b; b = b->next)
		for (int i = 0; b != tb_current && b->busy && i < 20000; i++)
			nanosleep(&pause, NULL); /* (the caller's own count: a fatal
						    signal in a handler) */
}

void tracer_forked(void)
{
	paused = 2;
	tb_stop_waiting(true);
}

void tracer_resume(void)
{
	paused = 0;
}

void tracer_entry(void *data, const void *stack)
{
	struct tbuf *b = guard_enter();

	if (b) {
		entry((uint32_t)(uintptr_t)data, stack, NULL, NULL);
		guard_leave(b);
	}
}

void tracer_exit(void *data, const void *stack)
{
	struct tbuf *b = guard_enter();

	if (b) {
		leave((uint32_t)(uintptr_t)data, stack, NULL);
		guard_leave(b);
	}
}

void tracer_entry_capture(struct poketrace_ctx *ctx)
{
	const struct capture *cap = ctx->data;
	struct tbuf *b = guard_enter();

	if (b) {
		entry(cap->fn, ctx->stack, ctx, cap);
		guard_leave(b);
	}
}

void tracer_exit_capture(struct poketrace_ctx *ctx)
{
	const struct capture *cap = ctx->data;
	struct tbuf *b = guard_enter();

	if (b) {
		leave(cap->fn, ctx->stack, cap->retkind ? &ctx->ret : NULL);
		guard_leave(b);
	}
}

uint64_t tracer_hits(uint32_t id)
{
	uint64_t n = 0;

	if (id >= PROF_CAP)
		return 0;
	for (struct prof_table *t = atomic_load(&tables); t; t = t->next)
		n += __atomic_load_n(&t->e[id].hits, __ATOMIC_RELAXED);
	return n;
}

void tracer_reset(void)
{
	for (struct prof_table *t = atomic_load(&tables); t; t = t->next)
		memset(t->e, 0, cfg.nfuncs * sizeof(t->e[0]));
}

void tracer_forked_go(void)
{
	struct tbuf *b = tb_current;

	tracer_reset();
	/* The profile counts complete calls: those in progress were entered
	 * in the parent, which counts them; their returns here are not calls
	 * of the child's (no function id: leave() passes them by, and
	 * resync drops them once the stack is above them). */
	if (cfg.mode != TRACER_PROFILE || !b)
		return;
	for (int i = 0; i < b->depth; i++)
		b->frames[i].fn = UINT32_MAX;
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
