/* Trace reading.  A stream file is a sequence of packets: a 52-byte header
 * and context (magic, stream id, timestamp_begin/end, content_size and
 * packet_size in bits, events_discarded, tid) then events, compact (4-byte
 * header: id:5, clock low 27 bits; uint32 function) or extended (id 31,
 * uint32 id, uint64 clock, uint32 function).  A compact clock value is
 * completed from the previous one, starting with timestamp_begin, as every
 * CTF reader does. */
#include "cli/trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kvfile.h"
#include "cli/cli.h"

#define PACKET_HEADER 52
#define MAGIC 0xc1fc1fc1u

char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

static char *demangle(const char *s)
{
	int st = -1;
	char *d = (s[0] == '_' && s[1] == 'Z') ? __cxa_demangle(s, NULL, NULL, &st) : NULL;

	return st == 0 && d ? d : strdup(s);
}

static void problem(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct trace *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "poketrace: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t->problems++;
}

static int load_functions(struct trace *t)
{
	char path[4200], line[8192];
	uint32_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/poketrace/functions", t->dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned id;
		unsigned long long addr;
		char mod[4096], sym[4096];

		if (line[0] == '#')
			continue;
		char kinds[16] = "";

		if (sscanf(line, "%u\t%llx\t%4095[^\t]\t%4095[^\t\n]\t%15s", &id, &addr, mod, sym, kinds) < 4 ||
		    id != t->nfuncs) {
			problem(t, "%s: malformed line %u; functions after it are unnamed", path, t->nfuncs + 1);
			break;
		}
		if (t->nfuncs == cap) {
			struct tr_func *nv = realloc(t->funcs, (cap = cap ? cap * 2 : 256) * sizeof(*nv));

			if (!nv) {
				fclose(f);
				return -ENOMEM;
			}
			t->funcs = nv;
		}
		t->funcs[t->nfuncs].addr = addr;
		t->funcs[t->nfuncs].module = strdup(mod);
		t->funcs[t->nfuncs].symbol = demangle(sym);
		snprintf(t->funcs[t->nfuncs].kinds, sizeof(t->funcs[0].kinds), "%s", strcmp(kinds, "-") ? kinds : "");
		t->nfuncs++;
	}
	fclose(f);
	return 0;
}

static void info_item(const char *key, const char *v, void *ctx)
{
	struct trace *t = ctx;

	if (!strcmp(key, "clock_freq"))
		t->freq = strtoull(v, NULL, 10);
	else if (!strcmp(key, "tracer"))
		snprintf(t->tracer, sizeof(t->tracer), "%s", v);
	else if (!strcmp(key, "command"))
		snprintf(t->command, sizeof(t->command), "%s", v);
	else if (!strcmp(key, "error"))
		snprintf(t->error, sizeof(t->error), "%s", v);
	else if (!strcmp(key, "events"))
		t->info_events = strtoull(v, NULL, 10);
	else if (!strcmp(key, "lost"))
		t->info_lost = strtoull(v, NULL, 10);
	else if (!strcmp(key, "lost_on_disk"))
		t->info_lost_on_disk = strtoull(v, NULL, 10);
	else if (!strcmp(key, "bytes"))
		t->info_bytes = strtoull(v, NULL, 10);
	else if (!strcmp(key, "threads"))
		t->info_threads = strtoull(v, NULL, 10);
	else if (!strcmp(key, "duration_ns"))
		t->duration_ns = strtoull(v, NULL, 10);
}

static void load_info(struct trace *t)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/poketrace/info", t->dir);
	t->have_info = kvfile_read(path, info_item, t) == 0;
}

/* Without info (the program was killed), the clock comes from metadata. */
static void load_freq_from_metadata(struct trace *t)
{
	char path[4200], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/metadata", t->dir);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " freq = %lu;", &t->freq) == 1)
			break;
	fclose(f);
}

static int push(const struct trace *t, struct tr_stream *s, size_t *cap, uint64_t ts, uint32_t fn, uint8_t type)
{
	if (t->counts_only) {
		s->n++;
		return 0;
	}
	if (s->n == *cap) {
		struct tr_event *nv = realloc(s->ev, (*cap = *cap ? *cap * 2 : 4096) * sizeof(*nv));

		if (!nv)
			return -1;
		s->ev = nv;
	}
	s->ev[s->n++] = (struct tr_event){ ts, fn, type, 0, (uint32_t)s->nvals };
	return 0;
}

static int push_val(struct tr_stream *s, uint64_t v)
{
	if (s->nvals == s->capvals) {
		size_t cap = s->capvals ? s->capvals * 2 : 256;
		uint64_t *nv = realloc(s->vals, cap * sizeof(*nv));
		char **ns = realloc(s->strs, cap * sizeof(*ns));

		if (nv)
			s->vals = nv;
		if (ns)
			s->strs = ns;
		if (!nv || !ns)
			return -1;
		s->capvals = cap;
	}
	s->strs[s->nvals] = NULL;
	s->vals[s->nvals++] = v;
	return 0;
}

static void parse_stream(struct trace *t, struct tr_stream *s, const uint8_t *d, size_t size)
{
	size_t off = 0, cap = 0;
	uint64_t prev_end = 0;

	while (off < size) {
		uint32_t magic, tid;
		uint64_t tsb, tse, content, psize, lost, prev;
		size_t end, pos;

		if (size - off < PACKET_HEADER) {
			problem(t, "%s/%s: truncated at offset %zu (a partial packet header); the %zu events "
				"before it are read", t->dir, s->file, off, s->n);
			s->damaged = true;
			return;
		}
		memcpy(&magic, d + off, 4);
		if (magic != MAGIC) {
			problem(t, "%s/%s: corrupted at offset %zu (no packet magic); the %zu events before it "
				"are read, the rest of the file is skipped", t->dir, s->file, off, s->n);
			s->damaged = true;
			return;
		}
		memcpy(&tsb, d + off + 8, 8);
		memcpy(&tse, d + off + 16, 8);
		memcpy(&content, d + off + 24, 8);
		memcpy(&psize, d + off + 32, 8);
		memcpy(&lost, d + off + 40, 8);
		memcpy(&tid, d + off + 48, 4);
		s->tid = tid;
		if (lost > s->lost)
			s->lost = lost;
		if (content % 8 || psize % 8 || content < PACKET_HEADER * 8 || psize < content || psize / 8 > 1 << 30 ||
		    tse < tsb || tsb < prev_end) {
			problem(t, "%s/%s: corrupted packet header at offset %zu; the %zu events before it are "
				"read", t->dir, s->file, off, s->n);
			s->damaged = true;
			return;
		}
		end = off + content / 8;
		if (off + psize / 8 > size) {
			problem(t, "%s/%s: truncated at offset %zu (the packet there needs %llu bytes, %zu "
				"remain); its events up to the end of the file are read", t->dir, s->file, off,
				(unsigned long long)(psize / 8), size - off);
			s->damaged = true;
			end = size;
		}
		prev = tsb;
		for (pos = off + PACKET_HEADER; pos < end;) {
			uint32_t h, id, fn;
			uint64_t ts;
			size_t at = pos;

			if (end - pos < 8)
				break;
			memcpy(&h, d + pos, 4);
			if ((h & 31) != 31) {
				id = h & 31;
				ts = (prev & ~0x7ffffffULL) | (h >> 5);
				if (ts < prev)
					ts += 1ULL << 27;
				pos += 4;
			} else {
				if (end - pos < 17)
					break;
				memcpy(&id, d + pos + 1, 4);
				memcpy(&ts, d + pos + 5, 8);
				pos += 13;
			}
			memcpy(&fn, d + pos, 4);
			pos += 4;
			if (id > 4 || fn >= t->nfuncs || ts < prev || ts > tse || pos > end) {
				problem(t, "%s/%s: corrupted event at offset %zu (event id %u, function %u); the "
					"rest of that packet is skipped", t->dir, s->file, at, id, fn);
				s->damaged = true;
				break;
			}
			prev = ts;
			s->nraw++;
			if (id == 3) { /* a string argument of the entry just read */
				const char *str = (const char *)d + pos + 1;
				size_t len = pos < end ? strnlen(str, end - pos - 1) : 0;
				struct tr_event *e = s->n && s->ev ? &s->ev[s->n - 1] : NULL;
				uint8_t index = pos < end ? d[pos] : 0xff;

				if (t->counts_only && pos + 1 + len < end) {
					pos += 1 + len + 1;
					continue;
				}
				if (pos + 1 + len >= end || !e || e->type != TR_ENTRY || index >= e->nvals) {
					problem(t, "%s/%s: corrupted string argument at offset %zu", t->dir, s->file, at);
					s->damaged = true;
					break;
				}
				s->strs[e->vals + index] = strndup(str, len);
				pos += 1 + len + 1;
				continue;
			}
			if (push(t, s, &cap, ts, fn, id == 0 || id == 2 ? TR_ENTRY : TR_EXIT) < 0)
				return;
			if (id == 2) {
				uint8_t nargs = pos < end ? d[pos] : 7;

				if (nargs > 6 || pos + 1 + 8u * nargs > end) {
					problem(t, "%s/%s: corrupted arguments at offset %zu", t->dir, s->file, at);
					s->damaged = true;
					s->n--;
					break;
				}
				for (uint8_t i = 0; i < nargs && !t->counts_only; i++) {
					uint64_t v;

					memcpy(&v, d + pos + 1 + 8 * i, 8);
					if (push_val(s, v) < 0)
						break; /* out of memory: the values kept are the ones said */
					s->ev[s->n - 1].nvals = (uint8_t)(i + 1);
				}
				pos += 1 + 8u * nargs;
			} else if (id == 4) {
				uint64_t v;

				if (pos + 8 > end) {
					s->n--;
					break;
				}
				memcpy(&v, d + pos, 8);
				if (!t->counts_only && push_val(s, v) == 0)
					s->ev[s->n - 1].nvals = 1;
				pos += 8;
			}
		}
		if (end == size && off + psize / 8 > size)
			return;
		prev_end = tse;
		off += psize / 8;
	}
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*out = NULL;
	*size = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !(*out = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	/* one read(2) returns at most 0x7ffff000 bytes: a stream of 2 GiB or
	 * more takes several */
	while (*size < (size_t)st.st_size) {
		n = read(fd, *out + *size, (size_t)st.st_size - *size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*size += (size_t)n;
	}
	close(fd);
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	const struct tr_stream *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void load_profile(struct trace *t)
{
	char path[4200], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/poketrace/profile", t->dir);
	f = fopen(path, "re");
	if (!f)
		return;
	t->prof = calloc(t->nfuncs ? t->nfuncs : 1, sizeof(*t->prof));
	while (t->prof && fgets(line, sizeof(line), f)) {
		unsigned id;
		struct tr_prof p;

		if (line[0] == '#' || sscanf(line, "%u\t%lu\t%lu\t%lu\t%lu\t%lu", &id, &p.calls, &p.total, &p.self,
					     &p.min, &p.max) != 6)
			continue;
		if (id < t->nfuncs)
			t->prof[id] = p;
	}
	fclose(f);
}

static int load(const char *dir, struct trace *t, bool counts_only)
{
	struct dirent *e;
	size_t cap = 0;
	DIR *d;
	int r;

	memset(t, 0, sizeof(*t));
	t->counts_only = counts_only;
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	if ((r = load_functions(t)) < 0) {
		cli_error("%s is not a poketrace trace directory (cannot read %s/poketrace/functions: %s); record one "
			  "with 'poketrace record'", dir, dir, strerror(-r));
		return -1;
	}
	load_info(t);
	if (!t->freq)
		load_freq_from_metadata(t);
	if (!t->freq) {
		cli_error("%s: no clock frequency in info or metadata", dir);
		return -1;
	}
	load_profile(t);
	d = opendir(dir);
	if (!d) {
		cli_error("cannot list %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char path[4400];
		uint8_t *data;
		size_t size;
		struct tr_stream *s;

		if (strncmp(e->d_name, "stream_", 7))
			continue;
		if (t->nstreams == cap) {
			struct tr_stream *nv = realloc(t->streams, (cap = cap ? cap * 2 : 16) * sizeof(*nv));

			if (!nv)
				break;
			t->streams = nv;
		}
		s = &t->streams[t->nstreams];
		memset(s, 0, sizeof(*s));
		snprintf(s->file, sizeof(s->file), "%s", e->d_name);
		s->tid = (uint32_t)atoi(e->d_name + 7);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (read_file(path, &data, &size) < 0) {
			problem(t, "cannot read %s", path);
			continue;
		}
		s->bytes = size;
		parse_stream(t, s, data, size);
		free(data);
		t->nstreams++;
	}
	closedir(d);
	if (t->nstreams)
		qsort(t->streams, t->nstreams, sizeof(*t->streams), by_tid);
	return 0;
}

int trace_load(const char *dir, struct trace *t)
{
	return load(dir, t, false);
}

int trace_load_counts(const char *dir, struct trace *t)
{
	return load(dir, t, true);
}

void trace_free(struct trace *t)
{
	for (uint32_t i = 0; i < t->nfuncs; i++) {
		free(t->funcs[i].module);
		free(t->funcs[i].symbol);
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		for (size_t k = 0; k < t->streams[i].nvals; k++)
			free(t->streams[i].strs[k]);
		free(t->streams[i].ev);
		free(t->streams[i].vals);
		free(t->streams[i].strs);
	}
	free(t->funcs);
	free(t->streams);
	free(t->prof);
}

double trace_ns(const struct trace *t, uint64_t cycles)
{
	return (double)cycles * 1e9 / (double)t->freq;
}

int trace_remove_streams(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[4400];

		if (strncmp(e->d_name, "stream_", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return 0;
}

double trace_streams_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	double sum = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[4400];
		struct stat st;

		if (strncmp(e->d_name, "stream_", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0)
			sum += (double)st.st_size;
	}
	closedir(d);
	return sum;
}

/* From the agent's info and the files' sizes: the trace is not parsed
 * (it may be gigabytes).  Only a trace without info (the program did not
 * exit normally) is read to count its events. */
void trace_print_summary(const char *dir, double secs)
{
	struct trace t;
	uint64_t events = 0, lost = 0;
	double bytes = trace_streams_bytes(dir);
	size_t threads = 0;
	bool parsed = false;

	memset(&t, 0, sizeof(t));
	snprintf(t.dir, sizeof(t.dir), "%s", dir);
	load_info(&t);
	if (t.have_info) {
		events = t.info_events;
		lost = t.info_lost;
		threads = t.info_threads;
	} else if (trace_load(dir, &t) == 0) {
		parsed = true;
		for (size_t i = 0; i < t.nstreams; i++) {
			events += t.streams[i].n;
			lost += t.streams[i].lost;
		}
		threads = t.nstreams;
	}
	if (!strcmp(t.tracer, "profile"))
		fprintf(stderr, "poketrace: profile of %zu thread%s written, %.2f s: %s\n", threads,
			threads == 1 ? "" : "s", secs, dir);
	else
		fprintf(stderr, "poketrace: %llu events, %llu lost, %.1f KB in %zu thread%s (%.1f bytes/event), "
			"%.2f s: %s%s\n", (unsigned long long)events, (unsigned long long)lost, bytes / 1024,
			threads, threads == 1 ? "" : "s", events ? bytes / (double)events : 0.0, secs, dir,
			t.have_info ? "" : " (the program did not exit normally)");
	if (t.error[0])
		fprintf(stderr, "poketrace: %s\n", t.error);
	if (parsed)
		trace_free(&t);
}

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

void trace_format_args(const struct trace *t, const struct tr_stream *s, const struct tr_event *e, char *buf,
		       size_t cap)
{
	const char *k = t->funcs[e->fn].kinds;
	size_t n = 0;

	buf[0] = '\0';
	if (e->type != TR_ENTRY || !e->nvals)
		return;
	n += (size_t)snprintf(buf + n, cap - n, "(");
	for (uint8_t i = 0; i < e->nvals && n < cap; i++) {
		char v[64];

		format_value(k[i], s->vals[e->vals + i], s->strs[e->vals + i], v, sizeof(v));
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", v);
	}
	if (n < cap)
		snprintf(buf + n, cap - n, ")");
}

void trace_format_ret(const struct trace *t, const struct tr_stream *s, const struct tr_event *e, char *buf,
		      size_t cap)
{
	const char *k = strchr(t->funcs[e->fn].kinds, ':');
	char v[64];

	buf[0] = '\0';
	if (e->type != TR_EXIT || !e->nvals)
		return;
	format_value(k ? k[1] : 'i', s->vals[e->vals], NULL, v, sizeof(v));
	snprintf(buf, cap, " = %s", v);
}
