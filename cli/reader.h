/* The streaming trace reader under every reading command.  A trace
 * directory's small files (functions, info, thread names, profile) are
 * loaded whole; its streams (one per thread) are decoded event by event
 * through a fixed window of the file, never held in memory, and merged by
 * timestamp with a heap over the threads.
 *
 * Memory: RD_WINDOW bytes per stream plus the tables of the small files; the
 * commands above add what is bounded by the number of distinct functions
 * (report), call paths (graph, flame) and the stack depth (every command),
 * never by the number of events. */
#ifndef PT_CLI_READER_H
#define PT_CLI_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RD_WINDOW (64 * 1024) /* bytes of a stream file in memory at a time */
#define RD_MAX_ARGS 6
#define RD_MAX_STRING 32

struct rd_func {
	uint64_t addr;
	char *module;
	char *name[3];        /* NAME_MANGLED, NAME_FULL, NAME_SIMPLE (see names.h) */
	char kinds[16];       /* recorded argument kinds ':' return kind (i u p s), or "" */
};

enum rd_kind {
	RD_ENTRY = 0,
	RD_EXIT = 1,
	RD_GAP = 2,           /* events are missing here (discarded, or a damaged part skipped) */
};

struct rd_event {
	uint64_t ts;          /* clock cycles; a gap: the first timestamp after it */
	uint32_t fn;
	uint8_t kind;
	uint8_t nvals;        /* entry: arguments recorded; exit: 1 if the return value was */
	uint8_t has_str;      /* bit i: strs[i] holds string argument i */
	uint64_t vals[RD_MAX_ARGS];
	uint64_t lost;        /* gap: events discarded (0: unknown, a damaged part) */
	char strs[RD_MAX_ARGS][RD_MAX_STRING + 1];
};

struct rd_stream {
	uint32_t tid;
	int pid;                         /* its process's (0: unknown) */
	size_t image;                    /* its process image: trace.images[image] */
	const uint32_t *fnmap;           /* the image's function ids to the trace's (NULL: the same) */
	uint32_t nmap;
	char file[320];                  /* in the trace directory */
	int fd;
	uint64_t size;                   /* of the file */
	uint8_t *win;                    /* RD_WINDOW bytes of the file from win_off */
	uint64_t win_off, win_len;
	/* the packet being decoded: file offsets of its events, its end and the next packet */
	uint64_t pos, content_end, next_packet;
	uint64_t ts_end, prev_ts, prev_end, discarded;
	bool in_packet, last_packet, done;
	uint64_t stop_after;             /* packets beginning later are not read (time range) */
	struct rd_event head;            /* the next event, valid while has_head */
	bool has_head;
	struct rd_event pending;         /* an event decoded while a gap is said first */
	bool has_pending;
	/* what was read */
	uint64_t events, nraw, lost, gaps;
	bool damaged;
	const char *name;                /* the thread's name at record time, or NULL */
};

/* A process image of the trace: the first process (the directory itself),
 * then each forked child and each exec'd image (DIR/pid-PID[.N]). */
struct rd_image {
	char sub[64];                    /* "" or "pid-PID[.N]/" */
	char kind[8];                    /* first, fork, exec */
	char command[1024];
	int pid, ppid;
	bool have_info, ended_exec;
	uint64_t events, lost, lost_on_disk, threads;
	char error[512];
	uint32_t *fnmap, nmap;           /* its function ids to the trace's (NULL for the first) */
};

struct trace {
	char dir[4096];
	struct rd_image *images;         /* [0]: the first process */
	size_t nimages;
	struct rd_func *funcs;
	uint32_t nfuncs;
	struct rd_stream *streams;
	size_t nstreams;
	uint64_t freq;                   /* clock cycles per second */
	uint64_t t0;                     /* the first timestamp of any stream */
	char tracer[16];
	char command[1024];
	char error[512];                 /* the agent's write error, if any */
	char clock[16];
	char on_full[16];
	int pid;
	uint64_t info_events, info_lost, info_lost_on_disk, info_bytes, duration_ns, info_threads;
	uint64_t info_over_max, max_size; /* record --max-size: events not written past it */
	uint64_t buffer_max, waits, wait_ns;
	bool have_info, have_buffer_max, have_waits, have_wait_ns;
	struct {
		uint32_t tid;
		char name[32];
	} *threads;                      /* names recorded by the agent */
	size_t nthreads;
	struct tr_prof *prof;            /* profile tracer: per function, or NULL */
	int problems;                    /* damaged parts reported */
	int name_form;                   /* which rd_func.name is shown */
};

struct tr_prof {
	uint64_t calls, total, self, min, max;
};

/* Opens dir: loads the small files of every process image in it (a
 * function of the same module and name is one function in all of them),
 * opens every stream and decodes its first event.  Damaged parts are
 * reported on stderr (file and offset) as they are met and skipped.  -1
 * (said) if dir is not a trace.  The totals (info_events ...) are all the
 * images'; command, pid and tracer the first's. */
int trace_open(const char *dir, struct trace *t);
/* trace_open in two steps: the small files only (-1, said: not a trace;
 * trace_close undoes it), then the streams. */
int trace_open_info(const char *dir, struct trace *t);
int trace_open_streams(struct trace *t);
/* Whether name is a later image's directory, "pid-PID" or "pid-PID.N" (n: 1
 * for the first). */
bool trace_image_name(const char *name, long *pid, long *n);
void trace_close(struct trace *t);
double trace_ns(const struct trace *t, uint64_t cycles);
uint64_t trace_cycles(const struct trace *t, double ns);
const char *trace_fn_name(const struct trace *t, uint32_t fn);
const char *trace_thread_name(const struct trace *t, uint32_t tid);

/* Decodes s's next event into s->head (has_head false at its end). */
void rd_advance(struct trace *t, struct rd_stream *s);

/* Streams in order of their head events' timestamps. */
struct rd_merge {
	struct rd_stream **heap;
	size_t n;
};
int rd_merge_init(struct trace *t, struct rd_merge *m, bool (*want)(const struct rd_stream *, void *), void *arg);
/* The stream whose head event is the earliest, or NULL when all are done. */
static inline struct rd_stream *rd_merge_top(const struct rd_merge *m)
{
	return m->n ? m->heap[0] : NULL;
}
/* After the top stream's head was consumed: its next event, and the heap in order. */
void rd_merge_next(struct trace *t, struct rd_merge *m);
/* After the top stream was advanced by rd_advance: the heap in order again. */
void rd_merge_fix(struct rd_merge *m);
void rd_merge_free(struct rd_merge *m);

/* "(1, 0x7f.., \"abc\")" for an entry with arguments, " = 3" for an exit with a value. */
void trace_format_args(const struct trace *t, const struct rd_event *e, char *buf, size_t cap);
void trace_format_ret(const struct trace *t, const struct rd_event *e, char *buf, size_t cap);

/* tracefiles.c, for record: the files of every image of a trace (all that
 * poketrace writes there, nothing else) removed; the streams' total size;
 * the summary line (exited: the first process exited by itself, whatever
 * its status), which returns the events a failed write lost (0: none). */
void trace_remove_files(const char *dir);
double trace_streams_bytes(const char *dir);
uint64_t trace_print_summary(const char *dir, double secs, bool exited);
/* What an attached agent had to say as it started (poketrace/unmatched). */
void trace_print_agent_said(const char *dir);
int parse_duration(const char *s, unsigned long long *ns);

#endif
