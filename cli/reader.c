/* The streaming reader (see reader.h).  A stream file is a sequence of
 * packets: a 52-byte header and context (magic, stream id, timestamp_begin,
 * timestamp_end, content_size and packet_size in bits, events_discarded,
 * tid) then events, compact (4-byte header: id:5, clock low 27 bits; uint32
 * function) or extended (id 31, uint32 id, uint64 clock, uint32 function).
 * A compact clock value is completed from the previous one, starting with
 * timestamp_begin, as every CTF reader does.
 *
 * Gaps: events_discarded is the thread's count of dropped events when the
 * packet was closed.  The agent drops events only when no packet is free, so
 * the events counted by a rise between two packets were lost between them:
 * the reader says a gap there, before the later packet's first event.  A
 * damaged part that is skipped is a gap of unknown size. */
#include "cli/reader.h"
#include "cli/reader_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kvfile.h"
#include "cli/cli.h"
#include "base/names.h"

#define PACKET_HEADER 52
#define MAGIC 0xc1fc1fc1u
#define MAX_RAW_EVENT (13 + 4 + 1 + 8 * RD_MAX_ARGS) /* the largest event: entry_args */

void rd_problem(struct trace *t, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* one write: streams may be read on several threads */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "poketrace: %s\n", msg);
	__atomic_add_fetch(&t->problems, 1, __ATOMIC_RELAXED);
}

/* A stream cut short in its last packet, in a trace whose program did not
 * exit (no info file: SIGKILL, a crash): what a kill in the middle of a
 * write leaves, not damage.  Said, not counted as a problem. */
static bool killed_mid_write(struct trace *t, const struct rd_stream *s, uint64_t off)
{
	if (t->have_info)
		return false;
	fprintf(stderr, "poketrace: %s/%s ends inside a packet at offset %llu (the program was killed while it "
		"was written); the %llu events before it are read\n", t->dir, s->file, (unsigned long long)off,
		(unsigned long long)s->events);
	return true;
}

/* --------------------------------------------------------------- decoding */

/* The bytes of s's file at [off, off + need), through the window; *avail
 * says how many there are (fewer at the end of the file). */
static const uint8_t *window(struct rd_stream *s, uint64_t off, size_t need, size_t *avail)
{
	if (off < s->win_off || off + need > s->win_off + s->win_len) {
		size_t got = 0;

		while (got < RD_WINDOW && off + got < s->size) {
			ssize_t n = pread(s->fd, s->win + got, RD_WINDOW - got, (off_t)(off + got));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		s->win_off = off;
		s->win_len = got;
	}
	*avail = (size_t)(s->win_off + s->win_len - off);
	return s->win + (off - s->win_off);
}

enum raw_result { RAW_EVENT, RAW_GAP, RAW_END };

struct raw {
	uint32_t id, fn;
	uint64_t ts, at;       /* at: file offset */
	const uint8_t *payload;
	size_t room;           /* payload bytes before the packet's end */
	uint64_t lost;
};

static enum raw_result stream_end(struct rd_stream *s)
{
	s->done = true;
	return RAW_END;
}

/* Starts the packet at s->next_packet.  RAW_GAP when events were discarded
 * before it, RAW_EVENT when it simply begins. */
static enum raw_result open_packet(struct trace *t, struct rd_stream *s, struct raw *r)
{
	uint64_t off = s->next_packet, tsb, tse, content, psize, lost;
	uint32_t magic, tid;
	const uint8_t *h;
	size_t avail;

	if (s->last_packet || off >= s->size)
		return stream_end(s);
	h = window(s, off, PACKET_HEADER, &avail);
	if (avail < PACKET_HEADER) {
		if (!killed_mid_write(t, s, off)) {
			rd_problem(t, "%s/%s: truncated at offset %llu (a partial packet header); the %llu events before "
				"it are read", t->dir, s->file, (unsigned long long)off, (unsigned long long)s->events);
			s->damaged = true;
		}
		return stream_end(s);
	}
	memcpy(&magic, h, 4);
	memcpy(&tsb, h + 8, 8);
	memcpy(&tse, h + 16, 8);
	memcpy(&content, h + 24, 8);
	memcpy(&psize, h + 32, 8);
	memcpy(&lost, h + 40, 8);
	memcpy(&tid, h + 48, 4);
	if (magic != MAGIC) {
		rd_problem(t, "%s/%s: corrupted at offset %llu (no packet magic); the %llu events before it are read, "
			"the rest of the file is skipped", t->dir, s->file, (unsigned long long)off,
			(unsigned long long)s->events);
		s->damaged = true;
		return stream_end(s);
	}
	if (content % 8 || psize % 8 || content < PACKET_HEADER * 8 || psize < content || psize / 8 > 1 << 30 ||
	    tse < tsb || tsb < s->prev_end) {
		rd_problem(t, "%s/%s: corrupted packet header at offset %llu; the %llu events before it are read",
			t->dir, s->file, (unsigned long long)off, (unsigned long long)s->events);
		s->damaged = true;
		return stream_end(s);
	}
	if (tsb > s->stop_after)
		return stream_end(s); /* begins after the time range: not needed */
	s->content_end = off + content / 8;
	s->next_packet = off + psize / 8;
	if (s->next_packet > s->size) {
		if (!killed_mid_write(t, s, off)) {
			rd_problem(t, "%s/%s: truncated at offset %llu (the packet there needs %llu bytes, %llu remain); "
				"its events up to the end of the file are read", t->dir, s->file,
				(unsigned long long)off, (unsigned long long)(psize / 8),
				(unsigned long long)(s->size - off));
			s->damaged = true;
		}
		s->last_packet = true;
		if (s->content_end > s->size)
			s->content_end = s->size;
	}
	s->pos = off + PACKET_HEADER;
	s->prev_ts = tsb;
	s->ts_end = tse;
	s->in_packet = true;
	if (lost > s->discarded) {
		r->lost = lost - s->discarded;
		r->ts = tsb;
		s->discarded = s->lost = lost;
		return RAW_GAP;
	}
	return RAW_EVENT;
}

/* The rest of the packet is skipped: a gap of unknown size. */
static enum raw_result skip_packet(struct rd_stream *s, struct raw *r)
{
	s->damaged = true;
	s->in_packet = false;
	s->prev_end = s->ts_end;
	r->lost = 0;
	r->ts = s->ts_end;
	return RAW_GAP;
}

/* The next event of s as written (an argument string is an event of its own). */
static enum raw_result next_raw(struct trace *t, struct rd_stream *s, struct raw *r)
{
	for (;;) {
		const uint8_t *p, *base;
		size_t avail, left;
		uint32_t h;

		if (s->done)
			return RAW_END;
		if (!s->in_packet) {
			enum raw_result o = open_packet(t, s, r);

			if (o != RAW_EVENT)
				return o;
			continue;
		}
		left = (size_t)(s->content_end - s->pos);
		if (left < 8) {
			s->in_packet = false;
			s->prev_end = s->ts_end;
			continue;
		}
		base = p = window(s, s->pos, left < MAX_RAW_EVENT ? left : MAX_RAW_EVENT, &avail);
		if (avail < left)
			left = avail; /* as far as the window (or the file) goes: enough for one event */
		r->at = s->pos;
		memcpy(&h, p, 4);
		if ((h & 31) != 31) {
			r->id = h & 31;
			r->ts = (s->prev_ts & ~0x7ffffffULL) | (h >> 5);
			if (r->ts < s->prev_ts)
				r->ts += 1ULL << 27;
			p += 4;
			left -= 4;
		} else {
			if (left < 17)
				break;
			memcpy(&r->id, p + 1, 4);
			memcpy(&r->ts, p + 5, 8);
			p += 13;
			left -= 13;
		}
		memcpy(&r->fn, p, 4);
		p += 4;
		left -= 4;
		if (r->id > 4 || r->fn >= (s->fnmap ? s->nmap : t->nfuncs) || r->ts < s->prev_ts || r->ts > s->ts_end) {
			rd_problem(t, "%s/%s: corrupted event at offset %llu (event id %u, function %u); the rest of that "
				"packet is skipped", t->dir, s->file, (unsigned long long)r->at, r->id, r->fn);
			return skip_packet(s, r);
		}
		r->payload = p;
		r->room = left;
		s->prev_ts = r->ts;
		s->pos = r->at + (size_t)(p - base);
		s->nraw++;
		return RAW_EVENT;
	}
	s->in_packet = false;
	s->prev_end = s->ts_end;
	return next_raw(t, s, r);
}

/* Consumes the payload of r (bytes after its function id).  false: it does
 * not fit in the packet (corrupted). */
static bool take(struct rd_stream *s, const struct raw *r, size_t n)
{
	if (n > r->room)
		return false;
	s->pos += n;
	return true;
}

/* An entry, exit or argument string from r into e.  false: corrupted. */
static bool convert(struct rd_stream *s, const struct raw *r, struct rd_event *e)
{
	e->ts = r->ts;
	e->fn = s->fnmap ? s->fnmap[r->fn] : r->fn;
	e->nvals = 0;
	e->has_str = 0;
	e->lost = 0;
	e->kind = r->id == 0 || r->id == 2 ? RD_ENTRY : RD_EXIT;
	if (r->id == 2) {
		uint8_t n = r->room ? r->payload[0] : 0xff;

		if (n > RD_MAX_ARGS || !take(s, r, 1 + 8u * n))
			return false;
		memcpy(e->vals, r->payload + 1, 8u * n);
		e->nvals = n;
	} else if (r->id == 4) {
		if (!take(s, r, 8))
			return false;
		memcpy(e->vals, r->payload, 8);
		e->nvals = 1;
	}
	return true;
}

/* An argument string event r for the entry e. */
static bool attach_string(struct rd_stream *s, const struct raw *r, struct rd_event *e)
{
	uint8_t index = r->room ? r->payload[0] : 0xff;
	size_t len = r->room > 1 ? strnlen((const char *)r->payload + 1, r->room - 1) : 0;

	if (r->room < 2 || 1 + len >= r->room || e->kind != RD_ENTRY || index >= e->nvals)
		return false;
	if (len > RD_MAX_STRING)
		len = RD_MAX_STRING;
	memcpy(e->strs[index], r->payload + 1, len);
	e->strs[index][len] = '\0';
	e->has_str |= (uint8_t)(1u << index);
	return take(s, r, 1 + strnlen((const char *)r->payload + 1, r->room - 1) + 1);
}

static void set_gap(struct rd_event *e, const struct raw *r)
{
	memset(e, 0, offsetof(struct rd_event, strs));
	e->kind = RD_GAP;
	e->ts = r->ts;
	e->lost = r->lost;
}

static void corrupted(struct trace *t, struct rd_stream *s, const struct raw *r, const char *what,
		      struct rd_event *e)
{
	struct raw g;

	rd_problem(t, "%s/%s: corrupted %s at offset %llu; the rest of that packet is skipped", t->dir, s->file, what,
		(unsigned long long)r->at);
	skip_packet(s, &g);
	set_gap(e, &g);
}

void rd_advance(struct trace *t, struct rd_stream *s)
{
	struct raw r;
	struct rd_event *e = &s->head;

	s->has_head = false;
	if (s->has_pending) {
		*e = s->pending;
		s->has_pending = false;
		s->has_head = true;
		return;
	}
	switch (next_raw(t, s, &r)) {
	case RAW_END:
		return;
	case RAW_GAP:
		set_gap(e, &r);
		s->gaps++;
		s->has_head = true;
		return;
	case RAW_EVENT:
		break;
	}
	s->has_head = true;
	if (r.id == 3) {
		corrupted(t, s, &r, "string argument (no entry before it)", e);
		s->gaps++;
		return;
	}
	if (!convert(s, &r, e)) {
		corrupted(t, s, &r, "arguments", e);
		s->gaps++;
		return;
	}
	s->events++;
	if (r.id != 2)
		return;
	/* An entry with arguments: its strings follow it (in the next packet
	 * if this one was full).  The first event that is not one is kept for
	 * the next call. */
	for (;;) {
		enum raw_result k = next_raw(t, s, &r);

		if (k == RAW_END)
			return;
		if (k == RAW_GAP) {
			set_gap(&s->pending, &r);
			s->gaps++;
			s->has_pending = true;
			return;
		}
		if (r.id == 3) {
			if (!attach_string(s, &r, e)) {
				corrupted(t, s, &r, "string argument", &s->pending);
				s->gaps++;
				s->has_pending = true;
				return;
			}
			continue;
		}
		s->has_pending = true;
		if (!convert(s, &r, &s->pending)) {
			corrupted(t, s, &r, "arguments", &s->pending);
			s->gaps++;
		} else {
			s->events++;
		}
		return;
	}
}

/* ------------------------------------------------------------------ open */

static int by_tid(const void *a, const void *b)
{
	const struct rd_stream *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* One file descriptor per stream stays open while the trace is read: as many
 * as the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_stream(struct trace *t, struct rd_stream *s, size_t image, const char *name)
{
	const struct rd_image *img = &t->images[image];
	char path[4500];
	struct stat st;

	memset(s, 0, sizeof(*s));
	snprintf(s->file, sizeof(s->file), "%s%s", img->sub, name);
	s->tid = (uint32_t)atoi(name + 7);
	s->pid = img->pid;
	s->image = image;
	s->fnmap = img->fnmap;
	s->nmap = img->nmap;
	s->stop_after = UINT64_MAX;
	snprintf(path, sizeof(path), "%s/%s", t->dir, s->file);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0 || !(s->win = malloc(RD_WINDOW))) {
		rd_problem(t, "cannot read %s: %s", path, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		return -1;
	}
	s->size = (uint64_t)st.st_size;
	s->win_off = 0;
	s->win_len = 0;
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

int trace_open_streams(struct trace *t)
{
	size_t cap = 0;

	raise_fd_limit();
	for (size_t k = 0; k < t->nimages; k++) {
		char path[4200];
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "%s/%s", t->dir, t->images[k].sub);
		if (!(d = opendir(path))) {
			cli_error("cannot list %s: %s", path, strerror(errno));
			return -1;
		}
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, "stream_", 7))
				continue;
			if (t->nstreams == cap) {
				struct rd_stream *nv = realloc(t->streams, (cap = cap ? cap * 2 : 16) * sizeof(*nv));

				if (!nv)
					break;
				t->streams = nv;
			}
			if (open_stream(t, &t->streams[t->nstreams], k, e->d_name) == 0)
				t->nstreams++;
		}
		closedir(d);
	}
	if (t->nstreams)
		qsort(t->streams, t->nstreams, sizeof(*t->streams), by_tid);
	t->t0 = UINT64_MAX;
	for (size_t i = 0; i < t->nstreams; i++) {
		struct rd_stream *s = &t->streams[i];

		s->name = trace_thread_name(t, s->tid);
		rd_advance(t, s);
		if (s->has_head && s->head.ts < t->t0)
			t->t0 = s->head.ts;
	}
	if (t->t0 == UINT64_MAX)
		t->t0 = 0;
	return 0;
}

int trace_open(const char *dir, struct trace *t)
{
	if (trace_open_info(dir, t) < 0 || trace_open_streams(t) < 0) {
		trace_close(t);
		return -1;
	}
	return 0;
}

void trace_close(struct trace *t)
{
	for (uint32_t i = 0; i < t->nfuncs; i++) {
		free(t->funcs[i].module);
		names_free(t->funcs[i].name);
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		close(t->streams[i].fd);
		free(t->streams[i].win);
	}
	for (size_t k = 0; k < t->nimages; k++)
		free(t->images[k].fnmap);
	free(t->images);
	free(t->funcs);
	free(t->streams);
	free(t->threads);
	free(t->prof);
	t->images = NULL;
	t->nimages = 0;
	t->funcs = NULL;
	t->streams = NULL;
	t->threads = NULL;
	t->prof = NULL;
	t->nfuncs = 0;
	t->nstreams = 0;
}

double trace_ns(const struct trace *t, uint64_t cycles)
{
	return (double)cycles * 1e9 / (double)t->freq;
}

uint64_t trace_cycles(const struct trace *t, double ns)
{
	return (uint64_t)(ns * (double)t->freq / 1e9 + 0.5);
}

const char *trace_fn_name(const struct trace *t, uint32_t fn)
{
	return t->funcs[fn].name[t->name_form];
}

const char *trace_thread_name(const struct trace *t, uint32_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return t->threads[i].name;
	return NULL;
}

/* ----------------------------------------------------------------- merge */

static bool earlier(const struct rd_stream *a, const struct rd_stream *b)
{
	return a->head.ts < b->head.ts || (a->head.ts == b->head.ts && a->tid < b->tid);
}

static void sift_down(struct rd_merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		struct rd_stream *tmp;

		if (l < m->n && earlier(m->heap[l], m->heap[min]))
			min = l;
		if (r < m->n && earlier(m->heap[r], m->heap[min]))
			min = r;
		if (min == i)
			return;
		tmp = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = tmp;
		i = min;
	}
}

int rd_merge_init(struct trace *t, struct rd_merge *m, bool (*want)(const struct rd_stream *, void *), void *arg)
{
	m->n = 0;
	m->heap = malloc((t->nstreams ? t->nstreams : 1) * sizeof(*m->heap));
	if (!m->heap)
		return -1;
	for (size_t i = 0; i < t->nstreams; i++)
		if (t->streams[i].has_head && (!want || want(&t->streams[i], arg)))
			m->heap[m->n++] = &t->streams[i];
	for (size_t i = m->n / 2; i-- > 0;)
		sift_down(m, i);
	return 0;
}

void rd_merge_fix(struct rd_merge *m)
{
	if (!m->heap[0]->has_head)
		m->heap[0] = m->heap[--m->n];
	sift_down(m, 0);
}

void rd_merge_next(struct trace *t, struct rd_merge *m)
{
	rd_advance(t, m->heap[0]);
	rd_merge_fix(m);
}

void rd_merge_free(struct rd_merge *m)
{
	free(m->heap);
	m->heap = NULL;
}

/* ------------------------------------------------------------ formatting */

static void format_value(char kind, uint64_t v, const char *str, char *buf, size_t cap)
{
	if (kind == 's' && str)
		snprintf(buf, cap, "\"%s\"", str);
	else if (kind == 's' || kind == 'p')
		snprintf(buf, cap, "%#llx", (unsigned long long)v);
	else if (kind == 'u')
		snprintf(buf, cap, "%llu", (unsigned long long)v);
	else
		snprintf(buf, cap, "%lld", (long long)v);
}

void trace_format_args(const struct trace *t, const struct rd_event *e, char *buf, size_t cap)
{
	const char *k = t->funcs[e->fn].kinds;
	size_t n = 0;

	buf[0] = '\0';
	if (e->kind != RD_ENTRY || !e->nvals)
		return;
	n += (size_t)snprintf(buf + n, cap - n, "(");
	for (uint8_t i = 0; i < e->nvals && n < cap; i++) {
		char v[64];

		format_value(k[i], e->vals[i], (e->has_str >> i & 1) ? e->strs[i] : NULL, v, sizeof(v));
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", v);
	}
	if (n < cap)
		snprintf(buf + n, cap - n, ")");
}

void trace_format_ret(const struct trace *t, const struct rd_event *e, char *buf, size_t cap)
{
	const char *k = strchr(t->funcs[e->fn].kinds, ':');
	char v[64];

	buf[0] = '\0';
	if (e->kind != RD_EXIT || !e->nvals)
		return;
	format_value(k ? k[1] : 'i', e->vals[0], NULL, v, sizeof(v));
	snprintf(buf, cap, " = %s", v);
}
