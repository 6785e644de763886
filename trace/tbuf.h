/* Per-thread trace buffers.  Each thread owns a ring of chunks; a chunk is
 * one CTF packet.  The traced thread appends events to its current chunk
 * with no lock, system call or allocation; when the chunk is full it is
 * handed to the writer thread (a state flag) and the next chunk of the ring
 * is used.  If the writer has not emptied that one yet, events are counted
 * as lost until it has. */
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

enum tb_event_id {
	EV_ENTRY = 0,       /* { uint32 fn } */
	EV_EXIT = 1,        /* { uint32 fn } */
	EV_ENTRY_ARGS = 2,  /* { uint32 fn; uint8 nargs; uint64 args[nargs] }: an entry */
	EV_ARG_STRING = 3,  /* { uint32 fn; uint8 index; string value }: follows its entry */
	EV_EXIT_RET = 4,    /* { uint32 fn; uint64 ret }: an exit */
	EV_EXTENDED = 31,
};

#define TB_MAX_STRING 32    /* bytes of a string argument recorded, NUL excluded */

enum tb_chunk_state {
	CHUNK_FREE = 0,    /* the thread's */
	CHUNK_FULL = 1,    /* the writer's */
};

struct tb_chunk {
	_Atomic int state;
	uint32_t len;          /* bytes used, packet header included */
	uint64_t ts_begin, ts_end, discarded;
	uint64_t nevents, events_at_start;
	uint8_t *data;
};

struct tb_frame {
	uint32_t fn;
	bool traced;           /* an entry event was written */
	uint64_t ts;
	const void *sp;        /* the caller's stack position: identifies the frame */
	uint64_t events;       /* the thread's event count after the entry's events */
	uint64_t prev_ts;      /* last_ts before them */
	uint8_t *pos;          /* where they begin */
	uint8_t nev;           /* how many; 0: they cannot be taken back (-t) */
	uint64_t child;        /* time spent in traced callees (profile) */
};

struct tbuf {
	uint8_t *cur, *end;    /* current chunk; cur == end while events are dropped */
	uint64_t last_ts;
	uint64_t lost;         /* events lost so far (free-running, as CTF wants) */
	uint64_t events;
	uint32_t tid;
	int idx, nchunks;      /* current chunk (-1: none), ring size */
	size_t chunk_size;     /* its own: a later trace may configure another */
	int wr_idx;            /* the writer's next chunk */
	int wr_next_hint;      /* the thread's next chunk while it drops events */
	int fd;                /* the writer's stream file */
	bool write_failed;
	volatile int busy;     /* inside a tracer handler (tracer_pause waits) */
	int depth;
	struct tb_frame frames[TB_MAX_DEPTH];
	struct tbuf *next;     /* all buffers, for the writer */
	struct tb_chunk chunks[];
};

struct tb_config {
	size_t chunk_size;     /* bytes per chunk (packet) */
	int nchunks;           /* chunks per thread */
	const struct trace_clock *clock;
};

void tb_configure(const struct tb_config *c);
/* This thread's buffer, created (mmap) at its first event; NULL if that failed. */
struct tbuf *tb_create(void);
extern __thread struct tbuf *tb_current __attribute__((tls_model("initial-exec")));

static inline struct tbuf *tb_self(void)
{
	struct tbuf *b = tb_current;

	return __builtin_expect(b != NULL, 1) ? b : tb_create();
}
struct tbuf *tb_all(void);
/* Starts the next chunk; false when it is not free yet (the event is lost). */
bool tb_switch(struct tbuf *b, uint64_t ts);
/* Hands the current chunk, if it has events, to the writer (end of trace). */
void tb_seal(struct tbuf *b);

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
