/* Call reconstruction (see calls.h). */
#include "cli/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------- open calls per function */

static uint32_t slot(uint32_t key, uint32_t cap)
{
	return (key * 2654435761u) & (cap - 1);
}

static uint32_t *active_ref(struct cthread *th, uint32_t fn, bool add)
{
	uint32_t key = fn + 1, i;

	if (add && (th->active_used + 1) * 2 > th->active_cap) {
		uint32_t ocap = th->active_cap, ncap = ocap ? ocap * 2 : 64;
		uint32_t *ok = th->active, *on = th->active_n;
		uint32_t *nk = calloc(ncap, sizeof(*nk)), *nn = calloc(ncap, sizeof(*nn));

		if (!nk || !nn) {
			free(nk);
			free(nn);
			return NULL;
		}
		for (uint32_t j = 0; j < ocap; j++) {
			if (!ok[j])
				continue;
			for (i = slot(ok[j], ncap); nk[i]; i = (i + 1) & (ncap - 1))
				;
			nk[i] = ok[j];
			nn[i] = on[j];
		}
		free(ok);
		free(on);
		th->active = nk;
		th->active_n = nn;
		th->active_cap = ncap;
	}
	if (!th->active_cap)
		return NULL;
	for (i = slot(key, th->active_cap); th->active[i]; i = (i + 1) & (th->active_cap - 1))
		if (th->active[i] == key)
			return &th->active_n[i];
	if (!add)
		return NULL;
	th->active[i] = key;
	th->active_n[i] = 0;
	th->active_used++;
	return &th->active_n[i];
}

/* Removes fn's slot (no call of it open any more): backward-shift deletion
 * keeps the table as small as the stack. */
static void active_remove(struct cthread *th, uint32_t fn)
{
	uint32_t mask = th->active_cap - 1, i, j;

	for (i = slot(fn + 1, th->active_cap); th->active[i] != fn + 1; i = (i + 1) & mask)
		if (!th->active[i])
			return;
	th->active[i] = 0;
	th->active_used--;
	for (j = (i + 1) & mask; th->active[j]; j = (j + 1) & mask) {
		uint32_t home = slot(th->active[j], th->active_cap);

		/* j's entry may move into the hole at i if its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			th->active[i] = th->active[j];
			th->active_n[i] = th->active_n[j];
			th->active[j] = 0;
			i = j;
		}
	}
}

/* ------------------------------------------------------------ the stack */

void calls_init(struct cthread *th, uint32_t tid)
{
	memset(th, 0, sizeof(*th));
	th->tid = tid;
}

void calls_free(struct cthread *th)
{
	free(th->stack);
	free(th->active);
	free(th->active_n);
	memset(th, 0, sizeof(*th));
}

struct cframe *calls_shown_parent(struct cthread *th, struct cframe *f)
{
	while (f > th->stack) {
		f--;
		if (f->shown)
			return f;
	}
	return NULL;
}

static void push(const struct calls_cfg *c, struct cthread *th, const struct rd_event *e)
{
	struct cframe *f, *p;

	if (th->depth == th->cap) {
		uint32_t cap = th->cap ? th->cap * 2 : 64;
		struct cframe *nv = realloc(th->stack, cap * sizeof(*nv));

		if (!nv)
			return; /* out of memory: the call is not followed (its exit is unmatched) */
		th->stack = nv;
		th->cap = cap;
	}
	p = th->depth ? &th->stack[th->depth - 1] : NULL; /* after the stack moved */
	f = &th->stack[th->depth++];
	memset(f, 0, sizeof(*f));
	f->fn = e->fn;
	f->start = e->ts;
	f->level = p ? p->level + p->shown : 0;
	f->focus = !c->focus_fn || (p && p->focus) || c->focus_fn[e->fn];
	f->hidden = (p && p->hidden) || (c->hide_fn && c->hide_fn[e->fn]);
	f->shown = e->ts >= c->from && f->focus && !f->hidden && (!c->max_depth || f->level < c->max_depth);
	f->same = -1;
	if (f->shown) {
		uint32_t *n = active_ref(th, e->fn, true);

		if (n) {
			f->same = (int32_t)*n - 1;
			*n = th->depth; /* 1 + this frame's index */
		}
		if (c->enter)
			c->enter(c->arg, th, f, e);
	}
}

/* What a shown call ending adds to its function's total (see calls.h):
 * timed and outermost, its duration; timed inside another call of the
 * function, nothing now (kept with that call in case it is cut); cut, what it
 * kept, passed on the same way. */
static void total_of(struct cthread *th, struct cframe *f, uint64_t d, enum cut cut)
{
	struct cframe *up = f->same >= 0 ? &th->stack[f->same] : NULL;
	uint64_t t = cut ? f->pend : d;
	uint32_t n = cut ? f->pend_n : 1;

	f->total = 0;
	f->total_n = 0;
	if (up) {
		up->pend += t;
		up->pend_n += n;
	} else {
		f->total = t;
		f->total_n = n;
	}
}

/* Pops the innermost call; exit is its exit event (NULL: cut at end). */
static void pop(const struct calls_cfg *c, struct cthread *th, uint64_t end, enum cut cut, const struct rd_event *exit)
{
	struct cframe *f = &th->stack[th->depth - 1];

	if (!cut && th->depth > 1)
		th->stack[th->depth - 2].child += end - f->start;
	if (f->shown) {
		uint32_t *n = active_ref(th, f->fn, false);

		if (cut)
			th->cut++;
		total_of(th, f, end - f->start, cut);
		if (c->leave)
			c->leave(c->arg, th, f, end, cut, exit);
		if (n && f->same >= 0)
			*n = (uint32_t)f->same + 1;
		else if (n)
			active_remove(th, f->fn);
	}
	th->depth--;
}

static void cut_all(const struct calls_cfg *c, struct cthread *th, enum cut why)
{
	while (th->depth)
		pop(c, th, th->last_ts, why, NULL);
}

void calls_event(const struct calls_cfg *c, struct cthread *th, const struct rd_event *e)
{
	if (th->closed)
		return;
	if (e->ts > c->to) {
		/* past the range: what is open is cut there */
		cut_all(c, th, CUT_RANGE);
		th->closed = true;
		return;
	}
	switch (e->kind) {
	case RD_ENTRY:
		push(c, th, e);
		break;
	case RD_EXIT: {
		uint32_t k = th->depth;

		while (k > 0 && th->stack[k - 1].fn != e->fn)
			k--;
		if (k == 0) {
			th->unmatched++; /* its entry is not in the trace */
			break;
		}
		while (th->depth > k)
			pop(c, th, e->ts, CUT_NESTING, NULL);
		pop(c, th, e->ts, CUT_NONE, e);
		break;
	}
	case RD_GAP:
		cut_all(c, th, CUT_GAP);
		th->gaps++;
		th->lost += e->lost;
		if (c->gap)
			c->gap(c->arg, th, e);
		break;
	}
	th->last_ts = e->ts;
}

void calls_finish(const struct calls_cfg *c, struct cthread *th)
{
	if (!th->closed)
		cut_all(c, th, CUT_END);
	th->closed = true;
}

/* ------------------------------------------------------------- formats */

char *format_time(char *buf, size_t cap, double ns)
{
	if (ns < 1e3)
		snprintf(buf, cap, "%7.3f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, cap, "%7.3f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, cap, "%7.3f ms", ns / 1e6);
	else
		snprintf(buf, cap, "%7.3f  s", ns / 1e9);
	return buf;
}

/* One side of a range into cycles; "" is open (dflt). */
static int range_side(const struct trace *t, const char *s, size_t len, uint64_t dflt, uint64_t *out)
{
	char buf[64], *end;
	double v;

	if (!len) {
		*out = dflt;
		return 0;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, &end);
	if (end == buf || v < 0)
		return -1;
	if (*end) {
		/* an elapsed time since the trace's first event */
		static const struct { const char *unit; double ns; } units[] = {
			{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 },
		};
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].unit)) {
				*out = t->t0 + trace_cycles(t, v * units[i].ns);
				return 0;
			}
		return -1;
	}
	/* a timestamp as -f time prints it: seconds.nanoseconds, exactly */
	{
		unsigned long long sec = strtoull(buf, &end, 10), ns = 0;
		int digits = 0;

		if (*end == '.')
			for (end++; *end >= '0' && *end <= '9'; end++, digits++)
				if (digits < 9)
					ns = ns * 10 + (unsigned long long)(*end - '0');
		if (*end)
			return -1;
		for (; digits < 9; digits++)
			ns *= 10;
		*out = (uint64_t)(((unsigned __int128)sec * 1000000000u + ns) * t->freq / 1000000000u);
		return 0;
	}
}

int parse_time_range(const struct trace *t, const char *s, uint64_t *from, uint64_t *to)
{
	const char *sep = strchr(s, '~');

	if (!sep || strchr(sep + 1, '~'))
		return -1;
	if (range_side(t, s, (size_t)(sep - s), 0, from) < 0 ||
	    range_side(t, sep + 1, strlen(sep + 1), UINT64_MAX, to) < 0 || *from > *to)
		return -1;
	return 0;
}
