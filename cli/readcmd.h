/* What the reading commands share: their common options (--tid, -r,
 * --demangle) and opening the trace with them applied. */
#ifndef PT_CLI_READCMD_H
#define PT_CLI_READCMD_H

#include <getopt.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/calls.h"
#include "cli/reader.h"

struct readopts {
	const char *dir;
	long tid;               /* 0: every thread */
	const char *range;      /* -r START~END, or NULL */
	int form;               /* NAME_* */
	uint64_t from, to;      /* the range in cycles, once the trace is open */
};

#define READ_LONGOPTS                                                                                      \
	{ "tid", required_argument, NULL, 'T' }, { "time-range", required_argument, NULL, 'r' },          \
		{ "demangle", required_argument, NULL, 'M' }, { "help", no_argument, NULL, 'h' }
#define READ_SHORTOPTS "hr:"
#define READ_USAGE                                                                                         \
	"      --tid TID          only thread TID\n"                                                       \
	"  -r, --time-range START~END\n"                                                                   \
	"                         only calls that begin in the range: timestamps as\n"                    \
	"                         'replay -f time' prints them (12345.678901234), or times\n"             \
	"                         since the trace's first event with a unit (100us, 2.5s);\n"             \
	"                         either side may be left out; calls still open at END are\n"             \
	"                         cut there\n"                                                             \
	"      --demangle=simple|full|no\n"                                                                \
	"                         C++ names without parameters and template arguments\n"                  \
	"                         (default), in full, or as in the binary\n"

void readopts_init(struct readopts *o);
/* Handles one of the common options: 1 if it was one, -1 if its argument is
 * bad (said), 0 if it is not one of them. */
int readopts_option(struct readopts *o, int c, const char *arg, const char *usage);
/* The trace directory argument and nothing after it (or FUNCTION if func is
 * given).  -1 (said) on extra arguments. */
int readopts_args(struct readopts *o, int argc, char **argv, const char **func, const char *usage);
/* Opens the trace with the options applied (names, time range).  -1 if it
 * cannot be read (said); 2 if -r is bad (said). */
int readopts_open(struct readopts *o, struct trace *t);
/* -1 with a message if t holds no events to show (a profile trace). */
int readopts_events(const struct trace *t, const char *cmd);
bool readopts_want(const struct rd_stream *s, void *o);
/* A calls_cfg for these options (range only; filters left to the caller). */
void readopts_calls(const struct readopts *o, struct calls_cfg *c);
/* The status a reading command exits with. */
int readopts_status(const struct trace *t);

#endif

/* What the tracker met, summed over the threads read. */
struct read_totals {
	uint64_t cut, lost, gaps;
};
void read_totals_add(struct read_totals *tot, const struct cthread *th);
/* How a command's aggregate is split over threads reading streams in
 * parallel: part() makes an empty one like c->arg, merge() adds a part into
 * c->arg and frees it. */
struct read_split {
	void *(*part)(void *arg);
	void (*merge)(void *arg, void *part);
};
/* Every wanted stream through the tracker (commands whose figures do not
 * depend on the order of threads): with split, on as many threads as there
 * are online CPUs (at most READ_JOBS; POKETRACE_READ_JOBS=N says otherwise),
 * each stream on one of them; without, one after the other.  The figures
 * are the same either way. */
#define READ_JOBS 8
void read_streams(struct trace *t, const struct readopts *o, const struct calls_cfg *c, struct read_totals *tot,
		  const struct read_split *split);
/* "# N calls cut ..." lines after a command's output, when there were any. */
void read_say_cut(FILE *f, const struct read_totals *tot);
