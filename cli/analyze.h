/* Calls reconstructed from a stream's entry and exit events. */
#ifndef PT_CLI_ANALYZE_H
#define PT_CLI_ANALYZE_H

#include "cli/trace.h"

struct call {
	uint32_t fn;
	uint32_t depth;
	int64_t parent;       /* index of the calling call, -1 at the top */
	uint64_t start, end;  /* clock cycles */
	uint64_t child;       /* time in callees */
	bool complete;        /* its exit was seen (else it ends at its caller's exit or the trace's end) */
	size_t entry, exit;   /* indices of its events in the stream (exit: SIZE_MAX if not seen) */
};

/* Calls of s in order of entry.  Exits whose entry is missing are skipped;
 * calls left by longjmp or exceptions end with the exit of their caller. */
int calls_build(const struct tr_stream *s, struct call **out, size_t *n);
char *format_time(char *buf, size_t cap, double ns);

#endif
