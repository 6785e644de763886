/* poketrace info: what the agent's info file says and what the streams hold
 * (read through, counted, nothing kept). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/readcmd.h"

static const char usage[] =
	"usage: poketrace info [DIR]\n"
	"\n"
	"What was recorded: command, pid, tracer, clock, modules, threads (with their\n"
	"names), events, lost events and gaps, sizes, duration, the buffers' settings\n"
	"and waits.\n";

static void size_text(uint64_t b, char *buf, size_t cap)
{
	if (b >= (1ull << 30) && b % (1ull << 30) == 0)
		snprintf(buf, cap, "%llu GiB", (unsigned long long)(b >> 30));
	else if (b >= (1ull << 20))
		snprintf(buf, cap, "%.*f MiB", b % (1ull << 20) ? 1 : 0, (double)b / (1 << 20));
	else if (b >= 1024)
		snprintf(buf, cap, "%.*f KiB", b % 1024 ? 1 : 0, (double)b / 1024);
	else
		snprintf(buf, cap, "%llu bytes", (unsigned long long)b);
}

/* "buffers: max 64 MiB, on full: wait (1234 waits, 5.2 ms)", from the keys
 * the agent wrote; nothing when it wrote none of them. */
static void print_buffers(const struct trace *t)
{
	char b[64], ms[32];
	bool any = false;

	if (!t->have_buffer_max && !t->on_full[0] && !t->have_waits && !t->have_wait_ns)
		return;
	printf("buffers:   ");
	if (t->have_buffer_max) {
		size_text(t->buffer_max, b, sizeof(b));
		printf(" max %s", b);
		any = true;
	}
	if (t->on_full[0]) {
		printf("%s on full: %s", any ? "," : "", t->on_full);
		any = true;
	}
	if (t->have_waits || t->have_wait_ns) {
		snprintf(ms, sizeof(ms), "%.1f ms", (double)t->wait_ns / 1e6);
		if (t->have_waits && t->have_wait_ns)
			printf(" (%llu wait%s, %s)", (unsigned long long)t->waits,
			       t->waits == 1 ? "" : "s", ms);
		else if (t->have_waits)
			printf(" (%llu wait%s)", (unsigned long long)t->waits, t->waits == 1 ? "" : "s");
		else
			printf(" (waited %s)", ms);
	}
	printf("\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct readopts o;
	struct trace t;
	uint64_t events = 0, lost = 0, bytes = 0, gaps = 0;
	int c, r;

	readopts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (readopts_args(&o, argc, argv, NULL, usage) < 0)
		return EXIT_USAGE;
	if ((r = readopts_open(&o, &t)) != 0)
		return 1;
	for (size_t i = 0; i < t.nstreams; i++) {
		struct rd_stream *s = &t.streams[i];

		while (s->has_head)
			rd_advance(&t, s);
		events += s->nraw;
		lost += s->lost;
		bytes += s->size;
		gaps += s->gaps;
	}
	printf("trace:      %s\n", t.dir);
	printf("command:    %s\n", t.have_info ? t.command : "(unknown: the program did not exit normally, or left by _exit)");
	if (t.pid)
		printf("pid:        %d\n", t.pid);
	printf("tracer:     %s\n", t.tracer[0] ? t.tracer : "?");
	printf("clock:      %s%s%llu Hz\n", t.clock, t.clock[0] ? ", " : "", (unsigned long long)t.freq);
	printf("functions:  %u\n", t.nfuncs);
	for (uint32_t i = 0; i < t.nfuncs; i++) {
		bool seen = false;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = !strcmp(t.funcs[j].module, t.funcs[i].module);
		if (!seen)
			printf("  module:   %s\n", t.funcs[i].module);
	}
	printf("threads:    %zu\n", t.nstreams);
	printf("events:     %llu\n", (unsigned long long)events);
	printf("lost:       %llu\n", (unsigned long long)(lost > t.info_lost ? lost : t.info_lost));
	if (gaps)
		printf("gaps:       %llu (places where events are missing: no call is timed across one)\n",
		       (unsigned long long)gaps);
	if (t.info_over_max)
		printf("unwritten:  %llu (past --max-size %llu bytes)\n", (unsigned long long)t.info_over_max,
		       (unsigned long long)t.max_size);
	if (t.info_lost_on_disk)
		printf("unwritten:  %llu (a write to the trace failed)\n", (unsigned long long)t.info_lost_on_disk);
	printf("bytes:      %llu (%.1f per event)\n", (unsigned long long)bytes, events ? (double)bytes / events : 0);
	if (t.have_info)
		printf("duration:   %.3f s\n", t.duration_ns / 1e9);
	print_buffers(&t);
	if (t.error[0])
		printf("error:      %s\n", t.error);
	if (t.nimages > 1) {
		printf("processes:  %zu\n", t.nimages);
		for (size_t k = 0; k < t.nimages; k++) {
			const struct rd_image *m = &t.images[k];
			char how[64];

			if (k == 0)
				snprintf(how, sizeof(how), "the program");
			else
				snprintf(how, sizeof(how), "%s %d", !strcmp(m->kind, "fork") ? "forked by" : "exec'd, child of",
					 m->ppid);
			printf("  process %d (%s%s): %s, in %s\n", m->pid, how, m->ended_exec ? ", then exec'd" : "",
			       m->have_info ? m->command : "(no summary: killed, or left by _exit)",
			       k ? m->sub : "the trace directory");
		}
	}
	for (size_t i = 0; i < t.nstreams; i++) {
		const struct rd_stream *s = &t.streams[i];

		printf("  thread %u%s%s%s: %llu events, %llu lost, %llu bytes%s\n", s->tid, s->name ? " (" : "",
		       s->name ? s->name : "", s->name ? ")" : "", (unsigned long long)s->nraw,
		       (unsigned long long)s->lost, (unsigned long long)s->size, s->damaged ? " (damaged)" : "");
	}
	trace_close(&t);
	return readopts_status(&t);
}
