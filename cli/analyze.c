/* Matching entries and exits into calls (see analyze.h). */
#include "cli/analyze.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int calls_build(const struct tr_stream *s, struct call **out, size_t *n)
{
	struct call *c = malloc((s->n + 1) * sizeof(*c));
	int64_t *stack = malloc((s->n + 1) * sizeof(*stack));
	size_t nc = 0, depth = 0;
	uint64_t last = s->n ? s->ev[s->n - 1].ts : 0;

	if (!c || !stack) {
		free(c);
		free(stack);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct tr_event *e = &s->ev[i];

		if (e->type == TR_ENTRY) {
			c[nc] = (struct call){ e->fn, (uint32_t)depth, depth ? stack[depth - 1] : -1, e->ts, e->ts,
					       0, false, i, SIZE_MAX };
			stack[depth++] = (int64_t)nc++;
			continue;
		}
		{
			size_t k = depth;

			while (k > 0 && c[stack[k - 1]].fn != e->fn)
				k--;
			if (k == 0)
				continue; /* its entry is not in the trace */
			while (depth >= k) {
				struct call *x = &c[stack[--depth]];

				x->end = e->ts;
				x->complete = depth == k - 1;
				if (x->complete)
					x->exit = i;
				if (x->parent >= 0)
					c[x->parent].child += x->end - x->start;
				if (depth == k - 1)
					break;
			}
		}
	}
	while (depth > 0) {
		struct call *x = &c[stack[--depth]];

		x->end = last;
		if (x->parent >= 0)
			c[x->parent].child += x->end - x->start;
	}
	free(stack);
	*out = c;
	*n = nc;
	return 0;
}

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
