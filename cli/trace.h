/* Reading a trace directory written by the agent: functions, info, the CTF
 * streams (parsed here, our own layout of CTF 1.8), and the profile. */
#ifndef PT_CLI_TRACE_H
#define PT_CLI_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_func {
	uint64_t addr;
	char *module, *symbol; /* symbol demangled */
	char kinds[16];        /* recorded argument kinds ':' return kind (i u p s), or "" */
};

enum { TR_ENTRY = 0, TR_EXIT = 1 };

struct tr_event {
	uint64_t ts;  /* clock cycles */
	uint32_t fn;
	uint8_t type;
	uint8_t nvals;   /* entry: arguments recorded; exit: 1 if the return value was */
	uint32_t vals;   /* where they are in the stream's vals[] (strings: strs[]) */
};

struct tr_stream {
	uint32_t tid;
	char file[256];
	struct tr_event *ev;
	size_t n;
	size_t nraw;          /* events in the file, argument strings included */
	uint64_t *vals;       /* recorded arguments and return values */
	char **strs;          /* per vals[] slot: its string (string arguments), or NULL */
	size_t nvals, capvals;
	uint64_t lost, bytes;
	bool damaged;
};

struct tr_prof {
	uint64_t calls, total, self, min, max;
};

struct trace {
	char dir[4096];
	struct tr_func *funcs;
	uint32_t nfuncs;
	struct tr_stream *streams;
	size_t nstreams;
	uint64_t freq;          /* clock cycles per second */
	char tracer[16];
	char command[1024];
	char error[512];        /* the agent's write error, if any */
	uint64_t info_events, info_lost, info_lost_on_disk, info_bytes, duration_ns, info_threads;
	bool have_info;
	struct tr_prof *prof;   /* profile tracer: per function, or NULL */
	int problems;           /* damaged parts reported */
	bool counts_only;       /* streams checked and counted, no event kept */
};

/* Loads dir; damaged or truncated parts are reported on stderr (file and
 * offset) and skipped, the rest is kept.  -1 if nothing could be read. */
int trace_load(const char *dir, struct trace *t);
/* The same, keeping no events (tr_stream.ev is NULL, n counts them): for
 * counts of a trace too big to hold (24 bytes per event). */
int trace_load_counts(const char *dir, struct trace *t);
void trace_free(struct trace *t);
double trace_ns(const struct trace *t, uint64_t cycles);
int trace_remove_streams(const char *dir);
double trace_streams_bytes(const char *dir);
void trace_print_summary(const char *dir, double secs);

int parse_duration(const char *s, unsigned long long *ns);
/* "(1, 0x7f.., \"abc\")" for an entry with arguments, into buf. */
void trace_format_args(const struct trace *t, const struct tr_stream *s, const struct tr_event *e, char *buf,
		       size_t cap);
void trace_format_ret(const struct trace *t, const struct tr_stream *s, const struct tr_event *e, char *buf,
		      size_t cap);

#endif
