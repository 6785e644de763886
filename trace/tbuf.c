/* Per-thread buffers (see tbuf.h).  Created with mmap at a thread's first
 * event: an async-signal-safe allocation, since that first event may come
 * from a signal handler interrupting malloc. */
#include "trace/tbuf.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"

static struct tb_config cfg = { 64 * 1024, 4, NULL };
static _Atomic(struct tbuf *) all;
__thread struct tbuf *tb_current __attribute__((tls_model("initial-exec")));

void tb_configure(const struct tb_config *c)
{
	cfg = *c;
}

struct tbuf *tb_all(void)
{
	return atomic_load(&all);
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
	size_t head = sizeof(struct tbuf) + (size_t)cfg.nchunks * sizeof(struct tb_chunk);
	size_t total = ((head + 4095) & ~4095UL) + (size_t)cfg.nchunks * cfg.chunk_size;
	struct tbuf *b = tb_current;
	uint8_t *mem;

	if (b)
		return b;
	mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	b = (struct tbuf *)mem;
	b->nchunks = cfg.nchunks;
	b->chunk_size = cfg.chunk_size;
	b->tid = (uint32_t)raw_gettid();
	b->fd = -1;
	b->idx = -1;
	for (int i = 0; i < cfg.nchunks; i++)
		b->chunks[i].data = mem + ((head + 4095) & ~4095UL) + (size_t)i * cfg.chunk_size;
	start_chunk(b, 0, clock_now(cfg.clock));
	b->next = atomic_load(&all);
	while (!atomic_compare_exchange_weak(&all, &b->next, b))
		;
	tb_current = b;
	return b;
}

static void hand_over(struct tbuf *b)
{
	struct tb_chunk *c = &b->chunks[b->idx];

	c->len = (uint32_t)(b->cur - c->data);
	c->ts_end = b->last_ts;
	c->discarded = b->lost;
	c->nevents = b->events - c->events_at_start;
	atomic_store_explicit(&c->state, CHUNK_FULL, memory_order_release);
	b->idx = -1;
	b->cur = b->end; /* every event now goes through tb_switch */
}

bool tb_switch(struct tbuf *b, uint64_t ts)
{
	int next;

	if (b->idx >= 0) {
		next = (b->idx + 1) % b->nchunks;
		hand_over(b);
		b->wr_next_hint = next;
	} else {
		next = b->wr_next_hint;
	}
	if (atomic_load_explicit(&b->chunks[next].state, memory_order_acquire) != CHUNK_FREE)
		return false;
	start_chunk(b, next, ts);
	return true;
}

void tb_seal(struct tbuf *b)
{
	if (b->idx >= 0 && b->cur > b->chunks[b->idx].data + TB_PACKET_HEADER) {
		int next = (b->idx + 1) % b->nchunks;

		hand_over(b);
		b->wr_next_hint = next;
	}
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
