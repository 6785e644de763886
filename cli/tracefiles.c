/* A trace directory as record sees it: the files of every process image
 * (the directory itself, then DIR/pid-PID[.N] for each child and exec'd
 * image), their size, and the summary line with what the agents could not
 * say themselves (a glob that matched nothing in any process, a trace with
 * no patch site in any of them). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/reader.h"

/* f(dir of each image, arg): the directory, then its image directories. */
static void each_image_dir(const char *dir, void (*f)(const char *, void *), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	f(dir, arg);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[4400];
		long pid, n;

		if (!trace_image_name(e->d_name, &pid, &n))
			continue;
		snprintf(sub, sizeof(sub), "%.4000s/%s", dir, e->d_name);
		f(sub, arg);
	}
	closedir(d);
}

/* f(path of each stream file of one image directory, arg). */
static void each_stream(const char *dir, void (*f)(const char *, void *), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4400];

		if (strncmp(e->d_name, "stream_", 7))
			continue;
		snprintf(path, sizeof(path), "%.4000s/%s", dir, e->d_name);
		f(path, arg);
	}
	closedir(d);
}

static void unlink_one(const char *path, void *arg)
{
	(void)arg;
	unlink(path);
}

/* An image's files: its poketrace/ files, metadata, streams; a later
 * image's directory too, if nothing else is in it. */
static void remove_image(const char *dir, void *top)
{
	char path[4400];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%.4000s/poketrace", dir);
	if ((d = opendir(path))) {
		while ((e = readdir(d))) {
			char f[4800];

			snprintf(f, sizeof(f), "%.4400s/%.200s", path, e->d_name);
			if (e->d_type == DT_REG)
				unlink(f);
		}
		closedir(d);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%.4000s/metadata", dir);
	unlink(path);
	each_stream(dir, unlink_one, NULL);
	if (strcmp(dir, top))
		rmdir(dir);
}

void trace_remove_files(const char *dir)
{
	each_image_dir(dir, remove_image, (void *)dir);
}

static void add_size(const char *path, void *arg)
{
	struct stat st;

	if (stat(path, &st) == 0)
		*(double *)arg += (double)st.st_size;
}

static void image_bytes(const char *dir, void *arg)
{
	each_stream(dir, add_size, arg);
}

double trace_streams_bytes(const char *dir)
{
	double sum = 0;

	each_image_dir(dir, image_bytes, &sum);
	return sum;
}

static void say_nosites(bool children)
{
	fprintf(stderr, "poketrace: no function of this program or its libraries has a patch site%s, so "
		"nothing can be traced: build with -fpatchable-function-entry=5 (gcc or clang) or gcc "
		"-pg -mfentry -mnop-mcount -mrecord-mcount, or name functions to relocate with -P GLOB "
		"('poketrace sites PROG' shows what a binary has)\n", children ? " (nor of any process it started)" : "");
}

static void say_glob(const char *glob, bool children)
{
	fprintf(stderr, "poketrace: -F '%s' matches no function with a patch site%s (names match "
		"mangled, demangled or without parameters: 'ns::Class::method')\n", glob,
		children ? " in any of its processes" : "");
}

/* A "say" line, once: lines already said are in *said (a list of n). */
static void say_once(const char *msg, char ***said, size_t *n)
{
	char **v;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*said)[i], msg))
			return;
	fprintf(stderr, "poketrace: %s\n", msg);
	if (!(v = realloc(*said, (*n + 1) * sizeof(*v))))
		return; /* said, not remembered */
	*said = v;
	if ((v[*n] = strdup(msg)))
		(*n)++;
}

/* Lines of an agent's poketrace/unmatched (one process). */
static void say_lines(FILE *f, char ***said, size_t *nsaid, bool *patched, char ***nopatch, size_t *nnopatch)
{
	char line[8192];

	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "say\t", 4))
			say_once(line + 4, said, nsaid);
		else if (!strncmp(line, "patched\t", 8))
			*patched = true;
		else if (!strncmp(line, "nopatch\t", 8)) {
			char **v = realloc(*nopatch, (*nnopatch + 1) * sizeof(*v));

			if (v && (*nopatch = v) && (v[*nnopatch] = strdup(line + 8)))
				(*nnopatch)++;
		}
	}
}

/* A -P glob that matched nothing is said when no process relocated
 * anything: in a trace of many processes the glob names some one's. */
static void say_nopatch(bool patched, char **nopatch, size_t n, char ***said, size_t *nsaid)
{
	for (size_t i = 0; i < n; i++) {
		if (!patched)
			say_once(nopatch[i], said, nsaid);
		free(nopatch[i]);
	}
	free(nopatch);
}

void trace_print_agent_said(const char *dir)
{
	char path[4200], line[8192], **said = NULL, **nopatch = NULL;
	size_t nsaid = 0, nnopatch = 0;
	bool patched = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/poketrace/unmatched", dir);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "nosites"))
			say_nosites(false);
		else if (!strncmp(line, "glob\t", 5))
			say_glob(line + 5, false);
	}
	rewind(f);
	say_lines(f, &said, &nsaid, &patched, &nopatch, &nnopatch);
	fclose(f);
	say_nopatch(patched, nopatch, nnopatch, &said, &nsaid);
	for (size_t i = 0; i < nsaid; i++)
		free(said[i]);
	free(said);
}

/* What the agents left in poketrace/unmatched: "nosites" (no function of
 * that process has a patch site), "glob\tPATTERN" (a -F or --select glob
 * that selected nothing there) and "say\tMESSAGE".  Said once for all the
 * processes: a glob that matched nothing in any process with sites; no
 * site in any; each message. */
static void say_unmatched(const struct trace *t)
{
	char **globs = NULL, names[256] = "", **said = NULL, **nopatch = NULL;
	size_t nglobs = 0, with_sites = 0, without = 0, nsaid = 0, nnopatch = 0;
	bool patched = false;
	int *misses = NULL;

	for (size_t k = 0; k < t->nimages; k++) {
		char path[4200], line[8192];
		bool nosites = false;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%spoketrace/unmatched", t->dir, t->images[k].sub);
		if (!(f = fopen(path, "re"))) {
			with_sites++; /* an older agent, or one that said it itself */
			continue;
		}
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (!strcmp(line, "nosites")) {
				nosites = true;
			} else if (!strncmp(line, "glob\t", 5)) {
				size_t i;

				for (i = 0; i < nglobs && strcmp(globs[i], line + 5); i++)
					;
				if (i == nglobs) {
					char **g = realloc(globs, (nglobs + 1) * sizeof(*g));
					int *m = realloc(misses, (nglobs + 1) * sizeof(*m));

					if (g)
						globs = g;
					if (m)
						misses = m;
					if (!g || !m || !(globs[i] = strdup(line + 5)))
						continue;
					misses[nglobs++] = 0;
				}
				misses[i]++;
			}
		}
		rewind(f);
		say_lines(f, &said, &nsaid, &patched, &nopatch, &nnopatch);
		fclose(f);
		with_sites += !nosites;
		if (nosites && without++ < 4) {
			size_t n = strlen(names);
			const char *cmd = t->images[k].command;

			snprintf(names + n, sizeof(names) - n, "%s%.*s [%d]", n ? ", " : "", (int)strcspn(cmd, " "),
				 cmd[0] ? cmd : "?", t->images[k].pid);
		}
	}
	/* the processes that had nothing to trace, when others had */
	if (with_sites && without)
		fprintf(stderr, "poketrace: %zu process%s had no patch site, not traced: %s%s\n", without,
			without == 1 ? "" : "es", names, without > 4 ? ", ..." : "");
	if (!with_sites)
		say_nosites(t->nimages > 1);
	for (size_t i = 0; i < nglobs; i++) {
		if (with_sites && (size_t)misses[i] >= with_sites)
			say_glob(globs[i], t->nimages > 1);
		free(globs[i]);
	}
	say_nopatch(patched, nopatch, nnopatch, &said, &nsaid);
	for (size_t i = 0; i < nsaid; i++)
		free(said[i]);
	free(globs);
	free(misses);
	free(said);
}

/* Whether image k had any function with a patch site (what it could lose). */
static bool has_sites(const struct trace *t, size_t k)
{
	char path[4200], line[64];
	bool sites = true;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%spoketrace/unmatched", t->dir, t->images[k].sub);
	if (!(f = fopen(path, "re")))
		return true;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "nosites\n"))
			sites = false;
	fclose(f);
	return sites;
}

/* From the agents' info and the files' sizes: the trace is not read (it may
 * be gigabytes).  Only the streams of an image without info (killed, or
 * left by _exit) are read, to count its events. */
uint64_t trace_print_summary(const char *dir, double secs, bool exited)
{
	struct trace t;
	uint64_t events = 0, lost = 0, unwritten = 0;
	double bytes = trace_streams_bytes(dir);
	size_t threads = 0, silent = 0;
	bool first_silent;

	if (trace_open_info(dir, &t) < 0) {
		trace_close(&t);
		return 0;
	}
	say_unmatched(&t);
	for (size_t k = 0; k < t.nimages; k++) {
		const struct rd_image *img = &t.images[k];

		if (!img->have_info) {
			silent += has_sites(&t, k);
			continue;
		}
		events += img->events;
		lost += img->lost;
		threads += img->threads;
		unwritten += img->lost_on_disk;
	}
	if (silent && trace_open_streams(&t) == 0) {
		for (size_t i = 0; i < t.nstreams; i++) {
			struct rd_stream *s = &t.streams[i];

			if (t.images[s->image].have_info)
				continue;
			while (s->has_head)
				rd_advance(&t, s);
			events += s->nraw;
			lost += s->lost;
			threads++;
		}
	}
	first_silent = !t.images[0].have_info && has_sites(&t, 0);
	events -= events > t.info_over_max ? t.info_over_max : events; /* in the trace */
	if (!strcmp(t.tracer, "profile"))
		fprintf(stderr, "poketrace: profile of %zu thread%s", threads, threads == 1 ? "" : "s");
	else
		fprintf(stderr, "poketrace: %llu events, %llu lost, %.1f KB in %zu thread%s", (unsigned long long)events,
			(unsigned long long)lost, bytes / 1024, threads, threads == 1 ? "" : "s");
	if (t.nimages > 1)
		fprintf(stderr, " of %zu processes", t.nimages);
	if (strcmp(t.tracer, "profile"))
		fprintf(stderr, " (%.1f bytes/event)", events ? bytes / (double)events : 0.0);
	fprintf(stderr, ", %.2f s: %s%s\n", secs, dir,
		!first_silent ? "" : exited ? " (the program left by _exit: its last events are not in the trace)"
						    : " (the program did not exit normally)");
	if (silent > first_silent)
		fprintf(stderr, "poketrace: %zu of its processes wrote no summary (killed, or left by _exit): their "
			"last events are not in the trace\n", silent - first_silent);
	if (t.error[0])
		fprintf(stderr, "poketrace: %s\n", t.error);
	if (t.info_over_max)
		fprintf(stderr, "poketrace: the trace reached --max-size (%llu bytes%s): the %llu events after that "
			"were not written\n", (unsigned long long)t.max_size, t.nimages > 1 ? " per process" : "",
			(unsigned long long)t.info_over_max);
	if (unwritten)
		fprintf(stderr, "poketrace: %llu events could not be written (a write to the trace failed: a full "
			"disk or a file size limit?): the trace is incomplete\n", (unsigned long long)unwritten);
	trace_close(&t);
	return unwritten;
}
