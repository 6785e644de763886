/* Calls reconstructed on the fly from one thread's events, for every
 * reading command.  The thread's stack of open calls is all that is kept:
 * memory is bounded by the stack depth.
 *
 * Rules (the same in every command):
 * - an exit closes the innermost open call of its function; one without an
 *   open call is ignored (its entry is not in the trace);
 * - a gap (events lost or skipped) cuts every open call: an entry before a
 *   gap is never paired with an exit after it.  So does the end of the
 *   stream, or of the time range, for the calls still open then.  A cut call
 *   has no duration: it is counted as cut, never in a time;
 * - recursion: a function's total time counts a call only if no other shown
 *   call of the function encloses it (uftrace's rule), so a total never
 *   exceeds the time the thread spent in the function.  When the enclosing
 *   call is cut, the calls of the function it enclosed that were timed count
 *   instead (outermost among the timed): the total stays at least the self
 *   time, and every call it counts lies between Min and Max.
 * - shown: inside the time range and the filters (-F, -N, -D of replay). */
#ifndef PT_CLI_CALLS_H
#define PT_CLI_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/reader.h"

enum cut {
	CUT_NONE = 0,   /* the call's exit was seen */
	CUT_GAP,        /* open when events were lost */
	CUT_END,        /* open at the end of its thread's stream */
	CUT_RANGE,      /* open at the end of the time range */
	CUT_NESTING,    /* left without its exit when a caller's exit came (damage) */
};

struct cframe {
	uint32_t fn;
	uint32_t level;      /* shown calls below it in the stack: its indentation */
	uint64_t start;
	uint64_t child;      /* time in its callees whose exits were seen */
	int32_t same;        /* the stack index of the innermost shown call of fn enclosing it, or -1 */
	uint64_t pend;       /* timed calls of fn inside it that would count if it is cut: time */
	uint32_t pend_n;     /* ... and how many */
	uint64_t total;      /* at leave: what the call adds to its function's total */
	uint32_t total_n;    /* ... as that many (outermost) calls */
	bool shown;
	bool focus;          /* -F: it or a caller is a -F function */
	bool hidden;         /* -N: it or a caller is a -N function */
	uint32_t node;       /* the command's (call-path node) */
};

struct cthread {
	uint32_t tid;
	struct cframe *stack;
	uint32_t depth, cap;
	uint32_t *active;    /* fn + 1 -> 1 + stack index of its innermost open shown call */
	uint32_t *active_n;
	uint32_t active_cap, active_used;
	uint64_t last_ts;
	bool closed;         /* past the time range */
	uint64_t cut, lost, gaps, unmatched;
};

struct calls_cfg {
	uint64_t from, to;          /* time range in cycles, inclusive */
	const bool *focus_fn;       /* per function: -F (NULL: none given) */
	const bool *hide_fn;        /* per function: -N (NULL: none) */
	uint32_t max_depth;         /* -D: shown levels, 0 = all */
	void *arg;
	/* a shown call begins (e: its entry event) */
	void (*enter)(void *arg, struct cthread *th, struct cframe *f, const struct rd_event *e);
	/* a shown call ends; exit: its exit event (NULL when cut) */
	void (*leave)(void *arg, struct cthread *th, struct cframe *f, uint64_t end, enum cut cut,
		      const struct rd_event *exit);
	/* events were lost (after the calls open were cut) */
	void (*gap)(void *arg, struct cthread *th, const struct rd_event *e);
};

void calls_init(struct cthread *th, uint32_t tid);
void calls_free(struct cthread *th);
/* One event of the thread. */
void calls_event(const struct calls_cfg *c, struct cthread *th, const struct rd_event *e);
/* The thread's stream is over: its open calls are cut. */
void calls_finish(const struct calls_cfg *c, struct cthread *th);
/* The innermost shown call below f in the stack, or NULL. */
struct cframe *calls_shown_parent(struct cthread *th, struct cframe *f);

char *format_time(char *buf, size_t cap, double ns);
/* uftrace's -r START~END: timestamps (as replay -f time shows them, seconds)
 * or elapsed times with a unit (100us, 1.5s); either side may be empty.
 * 0, or -1 if s is not a range. */
int parse_time_range(const struct trace *t, const char *s, uint64_t *from, uint64_t *to);

#endif
