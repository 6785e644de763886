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

static void problem(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct trace *t, const char *fmt, ...)
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

/* ------------------------------------------------------------ small files */

/* Functions by module and symbol, to give a later image's functions the
 * ids the trace already has for them: an open-addressing table of ids. */
struct fn_index {
	uint32_t *slot; /* id + 1, 0: empty */
	size_t mask;
};

static size_t fn_hash(const char *module, const char *sym)
{
	size_t h = 1469598103934665603ull;

	for (const char *p = module; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ '\t') * 1099511628211ull;
	for (const char *p = sym; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static int fn_index_add(struct fn_index *x, const struct trace *t, uint32_t id)
{
	size_t i;

	if (!x->slot || (size_t)t->nfuncs * 2 > x->mask) {
		size_t n = 1024;
		uint32_t *v;

		while (n < (size_t)t->nfuncs * 4)
			n *= 2;
		if (!(v = calloc(n, sizeof(*v))))
			return -ENOMEM;
		free(x->slot);
		x->slot = v;
		x->mask = n - 1;
		for (uint32_t k = 0; k < t->nfuncs; k++) {
			for (i = fn_hash(t->funcs[k].module, t->funcs[k].name[NAME_MANGLED]) & x->mask; x->slot[i];
			     i = (i + 1) & x->mask)
				;
			x->slot[i] = k + 1;
		}
		return 0;
	}
	for (i = fn_hash(t->funcs[id].module, t->funcs[id].name[NAME_MANGLED]) & x->mask; x->slot[i];
	     i = (i + 1) & x->mask)
		;
	x->slot[i] = id + 1;
	return 0;
}

static int fn_index_find(const struct fn_index *x, const struct trace *t, const char *module, const char *sym)
{
	if (!x->slot)
		return -1;
	for (size_t i = fn_hash(module, sym) & x->mask; x->slot[i]; i = (i + 1) & x->mask) {
		const struct rd_func *f = &t->funcs[x->slot[i] - 1];

		if (!strcmp(f->module, module) && !strcmp(f->name[NAME_MANGLED], sym))
			return (int)(x->slot[i] - 1);
	}
	return -1;
}

/* One image's functions file.  The first image's ids are the trace's;
 * a later image's are mapped (img->fnmap) to the same function's id, or
 * to a new one. */
static int load_functions(struct trace *t, struct rd_image *img, struct fn_index *x)
{
	char path[4200], line[8192];
	uint32_t cap = t->nfuncs, mapcap = 0, n = 0;
	FILE *f;
	bool first = img == &t->images[0];

	snprintf(path, sizeof(path), "%s/%spoketrace/functions", t->dir, img->sub);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned id;
		unsigned long long addr;
		char mod[4096], sym[4096], kinds[16] = "";
		struct rd_func *fn;
		int known;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%u\t%llx\t%4095[^\t]\t%4095[^\t\n]\t%15s", &id, &addr, mod, sym, kinds) < 4 ||
		    id != n) {
			problem(t, "%s: malformed line %u; functions after it are unnamed", path, n + 1);
			break;
		}
		if (!first && n == mapcap) {
			uint32_t *nv = realloc(img->fnmap, (mapcap = mapcap ? mapcap * 2 : 256) * sizeof(*nv));

			if (!nv)
				goto nomem;
			img->fnmap = nv;
		}
		if (!first && (known = fn_index_find(x, t, mod, sym)) >= 0) {
			img->fnmap[n++] = (uint32_t)known;
			continue;
		}
		if (t->nfuncs == cap) {
			struct rd_func *nv = realloc(t->funcs, (cap = cap ? cap * 2 : 256) * sizeof(*nv));

			if (!nv)
				goto nomem;
			t->funcs = nv;
		}
		fn = &t->funcs[t->nfuncs];
		fn->addr = addr;
		fn->module = strdup(mod);
		names_make(sym, fn->name);
		snprintf(fn->kinds, sizeof(fn->kinds), "%s", strcmp(kinds, "-") ? kinds : "");
		if (!first)
			img->fnmap[n] = t->nfuncs;
		n++;
		t->nfuncs++;
		if (fn_index_add(x, t, t->nfuncs - 1) < 0)
			goto nomem;
	}
	img->nmap = n;
	fclose(f);
	return 0;
nomem:
	fclose(f);
	return -ENOMEM;
}

static void info_item(const char *key, const char *v, void *ctx)
{
	struct trace *t = ctx;
	uint64_t n = strtoull(v, NULL, 10);

	if (!strcmp(key, "clock_freq"))
		t->freq = n;
	else if (!strcmp(key, "tracer"))
		snprintf(t->tracer, sizeof(t->tracer), "%s", v);
	else if (!strcmp(key, "command"))
		snprintf(t->command, sizeof(t->command), "%s", v);
	else if (!strcmp(key, "error"))
		snprintf(t->error, sizeof(t->error), "%s", v);
	else if (!strcmp(key, "clock"))
		snprintf(t->clock, sizeof(t->clock), "%s", v);
	else if (!strcmp(key, "on_full"))
		snprintf(t->on_full, sizeof(t->on_full), "%s", v);
	else if (!strcmp(key, "pid"))
		t->pid = (int)n;
	else if (!strcmp(key, "events"))
		t->info_events = n;
	else if (!strcmp(key, "lost"))
		t->info_lost = n;
	else if (!strcmp(key, "lost_on_disk"))
		t->info_lost_on_disk = n;
	else if (!strcmp(key, "bytes"))
		t->info_bytes = n;
	else if (!strcmp(key, "threads"))
		t->info_threads = n;
	else if (!strcmp(key, "duration_ns"))
		t->duration_ns = n;
	else if (!strcmp(key, "buffer_max"))
		t->buffer_max = n, t->have_buffer_max = true;
	else if (!strcmp(key, "waits"))
		t->waits = n, t->have_waits = true;
	else if (!strcmp(key, "wait_ns"))
		t->wait_ns = n, t->have_wait_ns = true;
}

static void image_item(const char *key, const char *v, void *ctx)
{
	struct rd_image *img = ctx;

	if (!strcmp(key, "image"))
		snprintf(img->kind, sizeof(img->kind), "%s", v);
	else if (!strcmp(key, "ppid"))
		img->ppid = atoi(v);
	else if (!strcmp(key, "ended"))
		img->ended_exec = !strcmp(v, "exec");
}

/* An image's info: the first's into the trace; a later one's added to
 * the totals (and the trace's tracer and clock, if the first has none). */
static void load_info(struct trace *t, struct rd_image *img)
{
	char path[4200];
	bool first = img == &t->images[0];
	struct trace one, *in = first ? t : &one;

	memset(&one, 0, sizeof(one));
	snprintf(path, sizeof(path), "%s/%spoketrace/info", t->dir, img->sub);
	img->have_info = kvfile_read(path, info_item, in) == 0;
	kvfile_read(path, image_item, img);
	if (!img->kind[0])
		snprintf(img->kind, sizeof(img->kind), "%s", first ? "first" : "?");
	snprintf(img->command, sizeof(img->command), "%s", in->command);
	snprintf(img->error, sizeof(img->error), "%s", in->error);
	img->pid = in->pid;
	img->events = in->info_events;
	img->lost = in->info_lost;
	img->lost_on_disk = in->info_lost_on_disk;
	img->threads = in->info_threads;
	if (first) {
		t->have_info = img->have_info;
		return;
	}
	t->info_events += one.info_events;
	t->info_lost += one.info_lost;
	t->info_lost_on_disk += one.info_lost_on_disk;
	t->info_bytes += one.info_bytes;
	t->info_threads += one.info_threads;
	if (!t->tracer[0])
		snprintf(t->tracer, sizeof(t->tracer), "%s", one.tracer);
	if (!t->error[0])
		snprintf(t->error, sizeof(t->error), "%s", one.error);
	if (!t->freq)
		t->freq = one.freq;
}

/* Without info (the program was killed), the clock and the pid come from
 * the metadata. */
static void load_metadata(struct trace *t, struct rd_image *img)
{
	char path[4200], line[512], name[16];
	unsigned long long freq;
	int pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%smetadata", t->dir, img->sub);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!t->freq && sscanf(line, " freq = %llu;", &freq) == 1)
			t->freq = freq;
		else if (!img->pid && sscanf(line, " vpid = %d;", &pid) == 1)
			img->pid = pid;
		else if (!img->command[0] && sscanf(line, " procname = \"%15[^\"]\";", name) == 1)
			snprintf(img->command, sizeof(img->command), "%s", name); /* no info: its name */
	}
	fclose(f);
	if (img == &t->images[0] && !t->pid)
		t->pid = img->pid;
}

/* Thread names, "TID\tNAME" lines; a later line for a tid wins. */
static void load_threads(struct trace *t, const struct rd_image *img)
{
	char path[4200], line[256];
	size_t cap = t->nthreads;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%spoketrace/threads", t->dir, img->sub);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned tid;
		char name[32];
		size_t i;

		if (sscanf(line, "%u\t%31[^\n]", &tid, name) != 2)
			continue;
		for (i = 0; i < t->nthreads && t->threads[i].tid != tid; i++)
			;
		if (i == t->nthreads) {
			if (t->nthreads == cap) {
				void *nv = realloc(t->threads, (cap = cap ? cap * 2 : 64) * sizeof(*t->threads));

				if (!nv)
					break;
				t->threads = nv;
			}
			t->nthreads++;
		}
		t->threads[i].tid = tid;
		snprintf(t->threads[i].name, sizeof(t->threads[i].name), "%s", name);
	}
	fclose(f);
}

/* An image's profile table, added to the trace's (by the trace's ids). */
static void load_profile(struct trace *t, const struct rd_image *img)
{
	char path[4200], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%spoketrace/profile", t->dir, img->sub);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!t->prof)
		t->prof = calloc(t->nfuncs ? t->nfuncs : 1, sizeof(*t->prof));
	while (t->prof && fgets(line, sizeof(line), f)) {
		unsigned id;
		struct tr_prof p, *a;

		if (line[0] == '#' || sscanf(line, "%u\t%lu\t%lu\t%lu\t%lu\t%lu", &id, &p.calls, &p.total, &p.self,
					     &p.min, &p.max) != 6)
			continue;
		if (img->fnmap && id >= img->nmap)
			continue;
		id = img->fnmap ? img->fnmap[id] : id;
		if (id >= t->nfuncs || !p.calls)
			continue;
		a = &t->prof[id];
		if (!a->calls || p.min < a->min)
			a->min = p.min;
		if (p.max > a->max)
			a->max = p.max;
		a->calls += p.calls;
		a->total += p.total;
		a->self += p.self;
	}
	fclose(f);
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
			problem(t, "%s/%s: truncated at offset %llu (a partial packet header); the %llu events before "
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
		problem(t, "%s/%s: corrupted at offset %llu (no packet magic); the %llu events before it are read, "
			"the rest of the file is skipped", t->dir, s->file, (unsigned long long)off,
			(unsigned long long)s->events);
		s->damaged = true;
		return stream_end(s);
	}
	if (content % 8 || psize % 8 || content < PACKET_HEADER * 8 || psize < content || psize / 8 > 1 << 30 ||
	    tse < tsb || tsb < s->prev_end) {
		problem(t, "%s/%s: corrupted packet header at offset %llu; the %llu events before it are read",
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
			problem(t, "%s/%s: truncated at offset %llu (the packet there needs %llu bytes, %llu remain); "
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
			problem(t, "%s/%s: corrupted event at offset %llu (event id %u, function %u); the rest of that "
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

	problem(t, "%s/%s: corrupted %s at offset %llu; the rest of that packet is skipped", t->dir, s->file, what,
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
		problem(t, "cannot read %s: %s", path, strerror(errno));
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

/* "pid-PID" or "pid-PID.N", as the agent names a later image's directory. */
bool trace_image_name(const char *name, long *pid, long *n)
{
	char *end;

	if (strncmp(name, "pid-", 4))
		return false;
	*pid = strtol(name + 4, &end, 10);
	*n = 1;
	if (*end == '.')
		*n = strtol(end + 1, &end, 10);
	return *pid > 0 && *n > 0 && !*end;
}

static int by_image(const void *a, const void *b)
{
	long pa, na, pb, nb;

	trace_image_name(((const struct rd_image *)a)->sub, &pa, &na);
	trace_image_name(((const struct rd_image *)b)->sub, &pb, &nb);
	return pa != pb ? (pa < pb ? -1 : 1) : na < nb ? -1 : na > nb;
}

/* The first image (the directory) and the later ones (its pid-* directories
 * that hold a functions file), in order of pid. */
static int find_images(struct trace *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	size_t cap = 4;

	if (!(t->images = calloc(cap, sizeof(*t->images))))
		return -ENOMEM;
	t->nimages = 1;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[4400];
		long pid, n;

		if (!trace_image_name(e->d_name, &pid, &n) || strlen(e->d_name) > 60)
			continue;
		snprintf(path, sizeof(path), "%s/%s/poketrace/functions", t->dir, e->d_name);
		if (access(path, F_OK) < 0)
			continue;
		if (t->nimages == cap) {
			struct rd_image *nv = realloc(t->images, (cap *= 2) * sizeof(*nv));

			if (!nv)
				break;
			t->images = nv;
		}
		memset(&t->images[t->nimages], 0, sizeof(*t->images));
		snprintf(t->images[t->nimages].sub, sizeof(t->images->sub), "%s", e->d_name);
		t->nimages++;
	}
	closedir(d);
	qsort(t->images + 1, t->nimages - 1, sizeof(*t->images), by_image);
	for (size_t k = 1; k < t->nimages; k++)
		strcat(t->images[k].sub, "/");
	return 0;
}

int trace_open_info(const char *dir, struct trace *t)
{
	struct fn_index x = { NULL, 0 };
	int r;

	memset(t, 0, sizeof(*t));
	t->name_form = NAME_SIMPLE;
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	if (find_images(t) < 0)
		return -1;
	if ((r = load_functions(t, &t->images[0], &x)) < 0) {
		free(x.slot);
		cli_error("%s is not a poketrace trace directory (cannot read %s/poketrace/functions: %s); record one "
			  "with 'poketrace record'", dir, dir, strerror(-r));
		return -1;
	}
	for (size_t k = 1; k < t->nimages; k++) {
		if ((r = load_functions(t, &t->images[k], &x)) < 0) {
			problem(t, "%s/%s: cannot read its functions (%s); that process is left out", dir,
				t->images[k].sub, strerror(-r));
			free(t->images[k].fnmap);
			memmove(&t->images[k], &t->images[k + 1], (t->nimages - k - 1) * sizeof(*t->images));
			t->nimages--;
			k--;
		}
	}
	free(x.slot);
	for (size_t k = 0; k < t->nimages; k++) {
		load_info(t, &t->images[k]);
		load_metadata(t, &t->images[k]);
		load_threads(t, &t->images[k]);
	}
	if (!t->freq) {
		cli_error("%s: no clock frequency in info or metadata", dir);
		return -1;
	}
	for (size_t k = 0; k < t->nimages; k++)
		load_profile(t, &t->images[k]);
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
