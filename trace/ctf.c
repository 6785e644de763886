/* CTF metadata and packet headers.  Events use LTTng's compact header: a
 * 5-bit event id and the low 27 bits of the clock in one 32-bit word, or id
 * 31 followed by the real id and the full 64-bit clock when 2^27 cycles or
 * more passed since the thread's previous event.  Each event carries the
 * function's id (a uint32, see the trace's `functions` file): 8 bytes per
 * event, 16 per traced call.
 *
 * Function names: the id is declared as an enumeration whose labels are the
 * functions' symbols, so that babeltrace2 (and any CTF reader) prints
 * `fn = ( "main" : container = 0 )` with nothing but the trace.  The other
 * way, LTTng-UST's lttng_ust_cyg_profile events (addresses) plus a statedump
 * of the modules, would let Trace Compass's call-stack view find names in
 * the binaries, but costs 8 more bytes per event and names nothing once the
 * binaries are rebuilt or gone; the enum costs nothing per event.  The
 * symbols are as in the binary (mangled): plain ASCII, the readers demangle.
 * The metadata is rewritten when the function table grows (start, end of
 * trace, flush); a trace cut short keeps the last table written. */
#include "trace/ctf.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char metadata_head[] =
	"/* CTF 1.8 */\n"
	"\n"
	"typealias integer { size = 5; align = 1; signed = false; } := uint5_t;\n"
	"typealias integer { size = 8; align = 8; signed = false; } := uint8_t;\n"
	"typealias integer { size = 32; align = 8; signed = false; } := uint32_t;\n"
	"typealias integer { size = 64; align = 8; signed = false; } := uint64_t;\n"
	"\n";

static const char metadata_fmt[] =
	"trace {\n"
	"\tmajor = 1;\n"
	"\tminor = 8;\n"
	"\tuuid = \"%s\";\n"
	"\tbyte_order = le;\n"
	"\tpacket.header := struct {\n"
	"\t\tuint32_t magic;\n"
	"\t\tuint32_t stream_id;\n"
	"\t};\n"
	"};\n"
	"\n"
	"env {\n"
	"\ttracer_name = \"poketrace\";\n"
	"\ttracer_major = 0;\n"
	"\ttracer_minor = 1;\n"
	"\tvpid = %d;\n"
	"\tprocname = \"%s\";\n"
	"};\n"
	"\n"
	"clock {\n"
	"\tname = \"%s\";\n"
	"\tdescription = \"%s\";\n"
	"\tfreq = %llu;\n"
	"\toffset_s = %llu;\n"
	"\toffset = %llu;\n"
	"\tabsolute = false;\n"
	"};\n"
	"\n"
	"typealias integer { size = 27; align = 1; signed = false; map = clock.%s.value; } := uint27_clock_t;\n"
	"typealias integer { size = 64; align = 8; signed = false; map = clock.%s.value; } := uint64_clock_t;\n"
	"\n"
	"stream {\n"
	"\tid = 0;\n"
	"\tevent.header := struct {\n"
	"\t\tenum : uint5_t { compact = 0 ... 30, extended = 31 } id;\n"
	"\t\tvariant <id> {\n"
	"\t\t\tstruct { uint27_clock_t timestamp; } compact;\n"
	"\t\t\tstruct { uint32_t id; uint64_clock_t timestamp; } extended;\n"
	"\t\t} v;\n"
	"\t} align(8);\n"
	"\tpacket.context := struct {\n"
	"\t\tuint64_clock_t timestamp_begin;\n"
	"\t\tuint64_clock_t timestamp_end;\n"
	"\t\tuint64_t content_size;\n"
	"\t\tuint64_t packet_size;\n"
	"\t\tuint64_t events_discarded;\n"
	"\t\tuint32_t tid;\n"
	"\t};\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"entry\";\n"
	"\tid = 0;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { fn_t fn; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"exit\";\n"
	"\tid = 1;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { fn_t fn; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"entry_args\";\n"
	"\tid = 2;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { fn_t fn; uint8_t nargs; uint64_t args[nargs]; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"arg_string\";\n"
	"\tid = 3;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { fn_t fn; uint8_t index; string value; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"exit_ret\";\n"
	"\tid = 4;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { fn_t fn; uint64_t ret; };\n"
	"};\n";

void ctf_trace_init(struct ctf_trace *t, const struct trace_clock *c)
{
	int fd;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->clock = c;
	if (getrandom(t->uuid, sizeof(t->uuid), GRND_NONBLOCK) != (ssize_t)sizeof(t->uuid)) {
		/* no entropy yet (early boot): unique enough from time and pid */
		struct timespec ts;
		uint64_t a, b;

		clock_gettime(CLOCK_REALTIME, &ts);
		a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		b = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ a;
		memcpy(t->uuid, &a, 8);
		memcpy(t->uuid + 8, &b, 8);
	}
	t->uuid[6] = (uint8_t)((t->uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	t->uuid[8] = (uint8_t)((t->uuid[8] & 0x3f) | 0x80);
	t->pid = getpid();
	fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, t->procname, sizeof(t->procname) - 1);
		close(fd);
		t->procname[n > 0 ? n : 0] = '\0';
		t->procname[strcspn(t->procname, "\n")] = '\0';
		for (char *p = t->procname; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				*p = '_'; /* written inside a TSDL string literal */
	}
}

/* A TSDL string literal: quotes and backslashes escaped, nothing outside
 * printable ASCII (symbols are ASCII; anything else becomes '?'). */
static void put_literal(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?', f);
	}
	fputc('"', f);
}

/* fn_t: the function id, as an enumeration of the symbols when there are any. */
static void put_fn_type(FILE *f, const struct ctf_trace *t)
{
	size_t named = 0;

	for (size_t i = 0; i < t->nnames; i++)
		named += t->names[i] != NULL;
	if (!named) {
		fprintf(f, "typealias integer { size = 32; align = 8; signed = false; } := fn_t;\n\n");
		return;
	}
	fprintf(f, "typealias enum : uint32_t {\n");
	for (size_t i = 0, k = 0; i < t->nnames; i++) {
		if (!t->names[i])
			continue;
		fputc('\t', f);
		put_literal(f, t->names[i]);
		fprintf(f, " = %zu%s\n", i, ++k < named ? "," : "");
	}
	fprintf(f, "} := fn_t;\n\n");
}

int ctf_write_metadata(const char *dir, const struct ctf_trace *t)
{
	/* The paths are static (one writer at a time): the caller may be on
	 * a small stack (a forked child exiting from a thread's). */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char path[4096], tmp[4200];
	const struct trace_clock *c = t->clock;
	char uuid[40];
	const char *name = c->tsc ? "tsc" : "monotonic";
	const uint8_t *u = t->uuid;
	FILE *f;
	int ok, r = 0;

	snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	pthread_mutex_lock(&lock);
	snprintf(path, sizeof(path), "%s/metadata", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		r = -errno;
		pthread_mutex_unlock(&lock);
		return r;
	}
	ok = fputs(metadata_head, f) >= 0;
	put_fn_type(f, t);
	ok &= fprintf(f, metadata_fmt, uuid, t->pid, t->procname, name,
		      c->tsc ? "x86 time-stamp counter" : "CLOCK_MONOTONIC in nanoseconds",
		      (unsigned long long)c->freq, (unsigned long long)c->origin_s,
		      (unsigned long long)c->origin_cyc, name, name) > 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0) {
		r = errno ? -errno : -EIO;
		unlink(tmp);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void ctf_packet_header(struct tb_chunk *c, uint32_t tid)
{
	uint8_t *p = c->data;
	uint32_t magic = CTF_MAGIC, stream = 0;
	uint64_t bits = (uint64_t)c->len * 8;

	memcpy(p, &magic, 4);
	memcpy(p + 4, &stream, 4);
	memcpy(p + 8, &c->ts_begin, 8);
	memcpy(p + 16, &c->ts_end, 8);
	memcpy(p + 24, &bits, 8);   /* content_size */
	memcpy(p + 32, &bits, 8);   /* packet_size */
	memcpy(p + 40, &c->discarded, 8);
	memcpy(p + 48, &tid, 4);
}
