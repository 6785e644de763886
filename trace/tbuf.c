/* Per-thread buffers (see tbuf.h).  Everything a traced thread does here may
 * run in a signal handler that interrupted malloc or a lock holder, so its
 * slow paths use only inline system calls (mmap, futex) and the vDSO clock. */
#include "trace/tbuf.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "arch/x86_64/rawsys.h"

static struct tb_config cfg = { 64 * 1024, 4, 0, TB_WAIT, NULL };
static _Atomic(struct tbuf *) all;
static _Atomic size_t mapped, peak;
static _Atomic int no_waits; /* the trace is ending: nobody waits */
__thread struct tbuf *tb_current __attribute__((tls_model("initial-exec")));
__thread bool tb_untraced __attribute__((tls_model("initial-exec")));

/* The writer's futex: a counter bumped by the thread that wakes it. */
static _Atomic uint32_t writer_seq;
static _Atomic int writer_asleep;
static _Atomic uint64_t given_back; /* chunks the writer gave back: its progress */

void tb_configure(const struct tb_config *c)
{
	cfg = *c;
	atomic_store(&no_waits, 0);
}

void tb_stop_waiting(bool stop)
{
	atomic_store(&no_waits, stop);
}

struct tbuf *tb_all(void)
{
	return atomic_load(&all);
}

size_t tb_mapped_bytes(void)
{
	return atomic_load(&mapped);
}

size_t tb_peak_bytes(void)
{
	return atomic_load(&peak);
}

/* ------------------------------------------------------------ the queues */

static void q_push(struct tb_queue *q, int i)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);

	q->slot[t % TB_MAX_CHUNKS] = (uint16_t)i;
	/* seq_cst, not only release: the wake-up checks that follow it (writer
	 * asleep? thread waiting?) must not be ordered before it */
	atomic_store(&q->tail, t + 1);
}

static int q_pop(struct tb_queue *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	int i;

	if (h == atomic_load(&q->tail))
		return -1;
	i = q->slot[h % TB_MAX_CHUNKS];
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return i;
}

static bool q_empty(const struct tb_queue *q)
{
	return atomic_load_explicit(&q->head, memory_order_relaxed) == atomic_load(&q->tail);
}

/* ------------------------------------------------------------ chunks */

/* Maps one more chunk for b, if the cap allows (a thread always gets
 * TB_MIN_CHUNKS).  Its number, or -1. */
static int grow(struct tbuf *b)
{
	size_t now = atomic_load(&mapped), size = b->chunk_size;
	uint8_t *mem;

	if (b->nchunks >= TB_MAX_CHUNKS)
		return -1;
	do {
		if (cfg.max_bytes && now + size > cfg.max_bytes && b->nchunks >= TB_MIN_CHUNKS)
			return -1;
	} while (!atomic_compare_exchange_weak(&mapped, &now, now + size));
	mem = raw_mmap_anon(size);
	if (!mem) {
		atomic_fetch_sub(&mapped, size);
		return -1;
	}
	now += size;
	for (size_t p = atomic_load(&peak); now > p && !atomic_compare_exchange_weak(&peak, &p, now);)
		;
	b->chunks[b->nchunks].data = mem;
	return b->nchunks++;
}

static void start_chunk(struct tbuf *b, int i, uint64_t ts)
{
	struct tb_chunk *c = &b->chunks[i];

	b->idx = i;
	c->ts_begin = ts;
	c->events_at_start = b->events;
	b->last_ts = ts;
	b->cur = c->data + TB_PACKET_HEADER;
	b->end = c->data + b->chunk_size;
}

struct tbuf *tb_create(void)
{
	struct tbuf *b = tb_current;

	if (b || tb_untraced)
		return b;
	b = raw_mmap_anon(sizeof(*b));
	if (!b)
		return NULL;
	b->chunk_size = cfg.chunk_size;
	b->tid = (uint32_t)raw_gettid();
	/* its name now: a thread may end before its stream is opened */
	raw_syscall4(SYS_prctl, 16 /* PR_GET_NAME */, (long)b->name, 0, 0);
	b->fd = -1;
	b->idx = -1;
	for (int i = 0; i < cfg.nchunks; i++) {
		int c = grow(b);

		if (c < 0)
			break;
		if (c > 0)
			q_push(&b->free, c);
	}
	if (b->nchunks == 0)
		return NULL; /* no memory at all: this thread records nothing (the
				buffer is kept, unused, so as not to retry) */
	start_chunk(b, 0, clock_now(cfg.clock));
	b->next = atomic_load(&all);
	while (!atomic_compare_exchange_weak(&all, &b->next, b))
		;
	tb_current = b;
	return b;
}

void tb_forked(void)
{
	struct tbuf *self = tb_current, *next;

	/* Only this thread runs: the list and the queues are ours alone. */
	for (struct tbuf *b = atomic_load(&all); b; b = next) {
		next = b->next;
		if (b == self)
			continue;
		for (int i = 0; i < b->nchunks; i++)
			munmap(b->chunks[i].data, b->chunk_size);
		atomic_fetch_sub(&mapped, (size_t)b->nchunks * b->chunk_size);
		munmap(b, sizeof(*b));
	}
	atomic_store(&all, self);
	atomic_store(&peak, atomic_load(&mapped));
	atomic_store(&writer_asleep, 0);
	if (!self)
		return;
	self->next = NULL;
	atomic_store(&self->full.head, 0);
	atomic_store(&self->full.tail, 0);
	atomic_store(&self->free.head, 0);
	atomic_store(&self->free.tail, 0);
	for (int i = 1; i < self->nchunks; i++)
		q_push(&self->free, i);
	self->tid = (uint32_t)raw_gettid();
	self->events = self->lost = 0;
	self->waits = self->wait_ns = self->wait_timeouts = 0;
	self->dropping = self->write_failed = false;
	atomic_store(&self->waiting, 0);
	self->fd = -1;
	for (int i = 0; i < self->depth; i++)
		self->frames[i].nev = 0;
	start_chunk(self, 0, clock_now(cfg.clock));
}

/* The current chunk to the writer; the writer woken if it sleeps. */
static void hand_over(struct tbuf *b)
{
	struct tb_chunk *c = &b->chunks[b->idx];

	c->len = (uint32_t)(b->cur - c->data);
	c->ts_end = b->last_ts;
	c->discarded = b->lost;
	c->nevents = b->events - c->events_at_start;
	q_push(&b->full, b->idx);
	b->idx = -1;
	b->cur = b->end; /* every event now goes through tb_switch */
	if (atomic_load(&writer_asleep) && atomic_exchange(&writer_asleep, 0)) {
		atomic_fetch_add(&writer_seq, 1);
		raw_futex_wake(&writer_seq, 1);
	}
}

/* Waits for the writer to give a chunk back.  The writer serves threads in
 * turn, one chunk each, so a waiting thread is served within one round.
 * Bounded: a writer that gives nothing back to anyone for TB_STALL_NS is
 * stuck (a write blocked on a dead file system, a stopped process), and
 * the thread drops events until a chunk comes back rather than stall the
 * program further.  The writer takes no lock a traced thread may hold and
 * never waits for one, so a thread waiting here (in a signal handler,
 * holding the program's locks) cannot keep it from giving chunks back. */
static int wait_free(struct tbuf *b)
{
	uint64_t t0 = clock_mono_ns(), seen = atomic_load(&given_back), since = t0, now = t0;
	int i = -1;

	b->waits++;
	while (!atomic_load(&no_waits) && now - since < (uint64_t)TB_STALL_NS) {
		uint64_t g;

		atomic_store(&b->waiting, 1);
		if ((i = q_pop(&b->free)) >= 0)
			break;
		/* 10 ms slices: the end of the trace is seen without a wake-up */
		raw_futex_wait(&b->waiting, 1, 10 * 1000000L);
		if ((i = q_pop(&b->free)) >= 0)
			break;
		now = clock_mono_ns();
		if ((g = atomic_load(&given_back)) != seen)
			seen = g, since = now; /* the writer is working */
	}
	atomic_store(&b->waiting, 0);
	b->wait_ns += clock_mono_ns() - t0;
	if (i < 0 && !atomic_load(&no_waits)) {
		b->wait_timeouts++;
		b->dropping = true;
	}
	return i;
}

bool tb_switch(struct tbuf *b, uint64_t ts)
{
	int next;

	if (b->idx >= 0)
		hand_over(b);
	next = q_pop(&b->free);
	/* drop mode keeps the ring it started with: growing is waiting's
	 * first step, for a trace that loses nothing */
	if (next < 0 && cfg.on_full == TB_WAIT)
		next = grow(b);
	if (next < 0 && cfg.on_full == TB_WAIT && !b->dropping)
		next = wait_free(b);
	if (next < 0)
		return false;
	b->dropping = false;
	start_chunk(b, next, ts);
	return true;
}

void tb_seal(struct tbuf *b)
{
	if (b->idx >= 0 && b->cur > b->chunks[b->idx].data + TB_PACKET_HEADER)
		hand_over(b);
}

/* ------------------------------------------------------------ the writer's side */

int tb_next_full(struct tbuf *b)
{
	return q_pop(&b->full);
}

void tb_give_back(struct tbuf *b, int i)
{
	q_push(&b->free, i);
	atomic_fetch_add_explicit(&given_back, 1, memory_order_relaxed);
	if (atomic_load(&b->waiting) && atomic_exchange(&b->waiting, 0))
		raw_futex_wake(&b->waiting, 1);
}

void tb_writer_sleep(long timeout_ns)
{
	uint32_t seq = atomic_load(&writer_seq);

	/* Announce the sleep, then look once more: a chunk queued before the
	 * announcement is seen here, one queued after it wakes us. */
	atomic_store(&writer_asleep, 1);
	for (struct tbuf *b = tb_all(); b; b = b->next) {
		if (!q_empty(&b->full)) {
			atomic_store(&writer_asleep, 0);
			return;
		}
	}
	raw_futex_wait(&writer_seq, seq, timeout_ns);
	atomic_store(&writer_asleep, 0);
}

void tb_writer_wake(void)
{
	atomic_fetch_add(&writer_seq, 1);
	raw_futex_wake(&writer_seq, 1);
}

uint64_t tb_buffered(const struct tbuf *b)
{
	uint32_t h = atomic_load(&b->full.head), t = atomic_load(&b->full.tail);
	uint64_t n = 0;

	for (; h != t; h++)
		n += b->chunks[b->full.slot[h % TB_MAX_CHUNKS]].len;
	if (b->idx >= 0)
		n += (uint64_t)(b->cur - b->chunks[b->idx].data);
	return n;
}

bool tb_put_payload(struct tbuf *b, uint32_t id, uint32_t fn, uint64_t ts, const void *payload, size_t len)
{
	uint8_t *p = b->cur;

	if (p + TB_MAX_EVENT + len > b->end) {
		if (!tb_switch(b, ts) || b->cur + TB_MAX_EVENT + len > b->end) {
			b->lost++;
			return false;
		}
		p = b->cur;
	}
	if (ts - b->last_ts < (1u << 27)) {
		uint32_t h = id | (uint32_t)(ts & 0x7ffffff) << 5;

		memcpy(p, &h, 4);
		p += 4;
	} else {
		p[0] = EV_EXTENDED;
		memcpy(p + 1, &id, 4);
		memcpy(p + 5, &ts, 8);
		p += 13;
	}
	memcpy(p, &fn, 4);
	memcpy(p + 4, payload, len);
	b->cur = p + 4 + len;
	b->last_ts = ts;
	b->events++;
	return true;
}
