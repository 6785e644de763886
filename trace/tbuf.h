/* Per-thread trace buffers.  Each thread owns a set of chunks; a chunk is
 * one CTF packet.  The traced thread appends events to its current chunk
 * with no lock, system call or allocation.  When the chunk is full it is
 * queued for the writer thread and the thread takes a free one:
 *
 *   1. a chunk the writer has given back (the free queue), else
 *   2. a new chunk, mapped now, while all threads' chunks together stay
 *      under the memory cap (tb_config.max_bytes), else
 *   3. (on_full = wait, the default) it waits for the writer to give one
 *      back: a futex wait, bounded by the writer's progress (TB_STALL_NS);
 *      with on_full = drop (which also keeps the chunks a thread started
 *      with), or after a wait that gave up, its events are counted as lost
 *      until a chunk is free again.
 *
 * Each thread has two single-producer single-consumer queues of chunk
 * numbers: full (thread -> writer) and free (writer -> thread).  A thread's
 * own code never runs re-entered (the images' recursion guard), so each
 * queue end has exactly one user.  The writer sleeps on a futex when every
 * queue is empty and is woken by the thread that queues a chunk (at most one
 * system call per chunk, and none while the writer is awake). */
#ifndef PT_TRACE_TBUF_H
#define PT_TRACE_TBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "trace/clock.h"

/* CTF packet header (magic, stream id) + context (timestamp_begin,
 * timestamp_end, content_size, packet_size, events_discarded, tid). */
#define TB_PACKET_HEADER 52
#define TB_MAX_EVENT 17     /* an extended header (13) + a uint32 payload */
#define TB_MAX_DEPTH 8192 /* deeper calls are counted as lost */
#define TB_MAX_CHUNKS 4096  /* per thread (a power of two: the queues' size) */
#define TB_MIN_CHUNKS 2     /* a thread gets these even past the memory cap */
/* A thread waiting for a free chunk gives up (and drops events until one
 * comes back) once the writer has given no chunk back to any thread for
 * this long: it is then stuck (a write blocked on a dead file system, a
 * stopped process), not slow. */
#define TB_STALL_NS (2 * 1000000000L)

enum tb_event_id {
	EV_ENTRY = 0,       /* { uint32 fn } */
	EV_EXIT = 1,        /* { uint32 fn } */
	EV_ENTRY_ARGS = 2,  /* { uint32 fn; uint8 nargs; uint64 args[nargs] }: an entry */
	EV_ARG_STRING = 3,  /* { uint32 fn; uint8 index; string value }: follows its entry */
	EV_EXIT_RET = 4,    /* { uint32 fn; uint64 ret }: an exit */
	EV_EXTENDED = 31,
};

#define TB_MAX_STRING 32    /* bytes of a string argument recorded, NUL excluded */

struct tb_chunk {
	uint32_t len;          /* bytes used, packet header included */
	uint64_t ts_begin, ts_end, discarded;
	uint64_t nevents, events_at_start;
	uint8_t *data;
};

/* Chunk numbers; head is the consumer's, tail the producer's. */
struct tb_queue {
	_Atomic uint32_t head, tail;
	uint16_t slot[TB_MAX_CHUNKS];
};

struct tb_frame {
	uint32_t fn;
	bool traced;           /* an entry event was written */
	bool left_out;         /* a library call from the library side (tracer_set_libcall) */
	uint8_t scope;         /* TB_IN_FOCUS, TB_HIDDEN: inherited by callees */
	bool pending;          /* -C: wanted, its entry written only if a -C call comes below it */
	uint16_t fdepth;       /* depth for -D: 1 at a -F function, else the caller's + 1 */
	uint64_t ts;
	const void *sp;        /* the caller's stack position: identifies the frame */
	uint64_t events;       /* the thread's event count after the entry's events */
	uint64_t prev_ts;      /* last_ts before them */
	uint8_t *pos;          /* where they begin */
	uint8_t nev;           /* how many; 0: they cannot be taken back (-t) */
	uint64_t child;        /* time spent in traced callees (profile) */
};

enum { TB_IN_FOCUS = 1, TB_HIDDEN = 2 };

struct tbuf {
	uint8_t *cur, *end;    /* current chunk; cur == end while events are dropped */
	uint64_t last_ts;
	uint64_t lost;         /* events lost so far (free-running, as CTF wants) */
	uint64_t events;
	uint32_t tid;
	bool traced;           /* a traced call was entered (not only left-out library calls) */
	char name[16];         /* the thread's name at its first event */
	int idx;               /* current chunk (-1: none) */
	int nchunks;           /* chunks mapped */
	size_t chunk_size;     /* its own: a later trace may configure another */
	bool dropping;         /* a wait timed out: drop until a chunk is free */
	_Atomic uint32_t waiting; /* futex word: 1 while the thread waits for a chunk */
	uint64_t waits, wait_ns, wait_timeouts;
	int fd;                /* the writer's stream file */
	bool write_failed;
	volatile int busy;     /* inside a tracer handler (tracer_pause waits) */
	int depth;
	struct tb_queue full, free;
	struct tb_chunk chunks[TB_MAX_CHUNKS];
	struct tb_frame frames[TB_MAX_DEPTH];
	struct tbuf *next;     /* all buffers, for the writer */
};

enum tb_on_full { TB_WAIT = 0, TB_DROP = 1 };

struct tb_config {
	size_t chunk_size;     /* bytes per chunk (packet) */
	int nchunks;           /* chunks a thread starts with */
	size_t max_bytes;      /* all threads' chunks together (0: no cap) */
	enum tb_on_full on_full;
	const struct trace_clock *clock;
};

void tb_configure(const struct tb_config *c);
/* This thread's buffer, created (mmap) at its first event; NULL if that failed. */
struct tbuf *tb_create(void);
extern __thread struct tbuf *tb_current __attribute__((tls_model("initial-exec")));
/* Set in poketrace's own threads: they get no buffer, their calls no event. */
extern __thread bool tb_untraced __attribute__((tls_model("initial-exec")));

static inline struct tbuf *tb_self(void)
{
	struct tbuf *b = tb_current;

	return __builtin_expect(b != NULL, 1) ? b : tb_create();
}
struct tbuf *tb_all(void);
/* Queues the current chunk and starts the next; false when none can be had
 * (the event is lost). */
bool tb_switch(struct tbuf *b, uint64_t ts);
/* Queues the current chunk, if it has events, for the writer (end of trace). */
void tb_seal(struct tbuf *b);
/* In a forked child that goes on tracing: the other threads' buffers (the
 * parent's threads, which do not exist here) are unmapped and the caller's
 * emptied, its events being the parent's; its shadow stack is kept (the
 * calls in progress return here too) but nothing in it can be taken back. */
void tb_forked(void);
/* From now on no thread waits for a chunk (the trace is ending); waits in
 * progress give up. */
void tb_stop_waiting(bool stop);

/* The writer's side.  The next full chunk of b (its number), or -1. */
int tb_next_full(struct tbuf *b);
/* Gives chunk i of b back to its thread (waking it if it waits). */
void tb_give_back(struct tbuf *b, int i);
/* Sleeps until a chunk is queued, at most timeout_ns. */
void tb_writer_sleep(long timeout_ns);
void tb_writer_wake(void);
/* Bytes of events held in b's chunks, not yet written. */
uint64_t tb_buffered(const struct tbuf *b);
/* All threads' chunks, in bytes, now and at most. */
size_t tb_mapped_bytes(void);
size_t tb_peak_bytes(void);

/* An event with a payload after the function id (argument capture). */
bool tb_put_payload(struct tbuf *b, uint32_t id, uint32_t fn, uint64_t ts, const void *payload, size_t len);

static inline void tb_put(struct tbuf *b, uint32_t id, uint32_t fn, uint64_t ts)
{
	uint8_t *p = b->cur;

	if (__builtin_expect(p + TB_MAX_EVENT > b->end, 0)) {
		if (!tb_switch(b, ts)) {
			b->lost++;
			return;
		}
		p = b->cur;
	}
	if (__builtin_expect(ts - b->last_ts < (1u << 27), 1)) {
		/* compact header: id in bits 0-4, low 27 bits of the clock above */
		uint32_t h = id | (uint32_t)(ts & 0x7ffffff) << 5;

		memcpy(p, &h, 4);
		memcpy(p + 4, &fn, 4);
		b->cur = p + 8;
	} else {
		p[0] = EV_EXTENDED;
		memcpy(p + 1, &id, 4);
		memcpy(p + 5, &ts, 8);
		memcpy(p + 13, &fn, 4);
		b->cur = p + 17;
	}
	b->last_ts = ts;
	b->events++;
}

#endif
