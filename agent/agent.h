/* libpoketrace-agent.so: preloaded into the traced program by
 * `poketrace record`; reads the configuration record left in the trace
 * directory, enables the tracer, and writes the trace. */
#ifndef PT_AGENT_H
#define PT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trace/clock.h"
#include "trace/tracer.h"

/* The default cap of all threads' buffers together (record --buffer-max). */
#define AGENT_BUFFER_MAX (256ull << 20)

struct agent_config {
	char dir[4096];         /* the trace: its configuration, the first process's files */
	char out[4096];         /* this process image's files: dir, or dir/pid-PID[.N] */
	bool follow;            /* children (fork) and new images (exec) traced too */
	int libcall;            /* library calls: 0 none, 1 the program's (default), 2 nested too */
	uint64_t max_size;      /* record --max-size: bytes this process writes at most (0: no cap) */
	bool defer_warnings;    /* "nothing matched" left for record's summary */
	enum tracer_mode mode;
	char *filter, *notrace, *modules, *args, *rets; /* comma-separated globs, any length (malloc'd) */
	char *focus, *hide_tree, *hide, *caller;         /* uftrace's -F, -N, -H, -C (graph) */
	char *patch;                                     /* -P: functions without sites, relocated */
	int max_depth;
	bool paused;            /* record --paused: start with nothing attached */
	uint64_t min_time_ns;
	uint64_t chunk_size;
	int nchunks;
	uint64_t buffer_max;    /* all threads' chunks together */
	bool drop;              /* on a full buffer: drop events instead of waiting */
};

int agent_config_read(const char *dir, struct agent_config *c);
/* The agent's own threads (writer, watcher, control) take no signal of the
 * program's: a handler of the program running in one would be traced, and
 * the writer must never wait for a buffer itself; and nothing they call is
 * traced (library calls).  Call first thing. */
void agent_thread_start(void);
/* A module was loaded: trace its functions that match the filters. */
void agent_module_loaded(void);

/* select.c: which functions are traced, and turning that into links. */
/* Once, before the agent's own fork handler is registered: a fork waits
 * for an update in progress, and the child's handlers find the lock free. */
void select_init(void);
int select_start(const struct agent_config *c);
/* Applies a change (NULL: just new modules) and brings the links in line:
 * one batch.  Changes: filter/notrace/modules lists, tracing on/off. */
struct select_change {
	const char *filter, *notrace, *modules; /* NULL: unchanged */
	int enable;                             /* -1 unchanged, 0 off, 1 on */
};
int select_update(const struct select_change *ch);
size_t select_nfuncs(void);
bool select_stale(void);
struct select_status {
	bool enabled;
	size_t known, selected, attached;
};
void select_status(struct select_status *st);
/* "hits N SYMBOL" lines, most called first, at most top of them. */
void select_print_hits(FILE *f, size_t top);

/* In a forked child tracing into out: the functions file copied there. */
void select_forked(const char *out);

/* exec_exit.c: every exec function writes the trace out first (the new
 * image keeps nothing of this one), and, when children are followed, makes
 * the new image load the agent even if the caller's environment dropped
 * it; _exit and _Exit write it too. */
void agent_before_exec(void);
/* For _exit: the trace written as far as it can be without locks. */
void agent_on_exit_now(void);
void agent_exec_failed(void);
/* For exec.c: whether (and where) the new image is traced. */
bool agent_follows(void);
const char *agent_trace_dir(void);

/* Forgets every function (all links detached): for a new trace. */
void select_reset(void);

/* Everything traced so far written out, and the trace's metadata and
 * info: a line for the answer on out. */
int agent_flush(FILE *out);

/* Whether a trace is being made (record, attach; not after detach). */
bool agent_active(void);

/* Tracer off, trace written: for poketrace detach. */
int agent_detach(void);

/* modwatch.c: modules loaded without the agent seeing the dlopen (after
 * attach; dlmopen) are found by a thread that looks every 50 ms. */
int modwatch_start(void);
void modwatch_stop(void);
/* In a forked child, where the thread is not. */
void modwatch_forget(void);

/* control.c: the control socket. */
/* At sock if given (attach), else where control_socket_path says. */
int control_start(const char *sock);
void control_stop(void);
/* In a forked child: the parent's socket closed, left to the parent. */
void control_forget(void);

/* The writer thread: moves full chunks to the stream files; fresh: every
 * buffer's counts and shadow stack start again (a new trace). */
int writer_start(const char *dir, bool fresh);
/* --max-size: past max bytes of this process's streams, chunks are counted,
 * not written (0: no cap). */
void writer_set_max(uint64_t max);
/* Seals every thread's chunk, writes everything, stops the thread. */
void writer_finish(void);
/* Writes every full chunk now (and, if seal, every thread's current one:
 * only while no handler runs) and syncs the files; the thread goes on. */
void writer_sync(bool seal);
/* In a forked child, where the thread is not: forget it and the files. */
void writer_forget(void);
/* From a fatal signal handler: writes what is full, nothing else. */
void writer_emergency(void);
struct writer_totals {
	uint64_t events, lost, bytes, lost_on_disk;
	uint64_t over_max;      /* events not written: --max-size reached */
	uint64_t waits, wait_ns, wait_timeouts; /* threads waiting for a free chunk */
	uint64_t buffer_bytes, buffer_peak;     /* all threads' chunks, now and at most */
	uint32_t threads;
	int error;              /* errno of the first failed write, or 0 */
	char error_file[256];
};
void writer_totals(struct writer_totals *t);

/* threads.c: thread names for the readers.  threads_note: a stream file is
 * opened for tid (async-signal-safe); threads_refresh: the trace's end, names
 * that changed since are noted. */
void threads_note(const char *dir, int dirfd, uint32_t tid, const char *first_name);
void threads_refresh(const char *dir, int dirfd);

/* The traced functions' symbols by id (an array of select_nfuncs() pointers,
 * valid until select_reset; free the array), for the trace's metadata. */
const char **select_symbols(size_t *n);

#endif
