/* The small files of a trace (reader.h), loaded whole: each process
 * image's functions (one id for a function of the same module and name in
 * all of them), info, metadata (the clock and pid of a trace without info),
 * thread names and profile table; and the images themselves, the
 * directory and its pid-PID[.N] directories. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/kvfile.h"
#include "base/names.h"
#include "cli/cli.h"
#include "cli/reader.h"
#include "cli/reader_files.h"

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
			rd_problem(t, "%s: malformed line %u; functions after it are unnamed", path, n + 1);
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
	else if (!strcmp(key, "over_max"))
		t->info_over_max = n;
	else if (!strcmp(key, "max_size"))
		t->max_size = n;
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
	t->info_over_max += one.info_over_max;
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
			rd_problem(t, "%s/%s: cannot read its functions (%s); that process is left out", dir,
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
