/* CTF metadata and packet headers.  Events use LTTng's compact header: a
 * 5-bit event id and the low 27 bits of the clock in one 32-bit word, or id
 * 31 followed by the real id and the full 64-bit clock when 2^27 cycles or
 * more passed since the thread's previous event.  Each event carries the
 * function's id (a uint32, see the trace's `functions` file): 8 bytes per
 * event, 16 per traced call. */
#include "trace/ctf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char metadata_fmt[] =
	"/* CTF 1.8 */\n"
	"\n"
	"typealias integer { size = 5; align = 1; signed = false; } := uint5_t;\n"
	"typealias integer { size = 8; align = 8; signed = false; } := uint8_t;\n"
	"typealias integer { size = 32; align = 8; signed = false; } := uint32_t;\n"
	"typealias integer { size = 64; align = 8; signed = false; } := uint64_t;\n"
	"\n"
	"trace {\n"
	"\tmajor = 1;\n"
	"\tminor = 8;\n"
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
	"\tfields := struct { uint32_t fn; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"exit\";\n"
	"\tid = 1;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { uint32_t fn; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"entry_args\";\n"
	"\tid = 2;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { uint32_t fn; uint8_t nargs; uint64_t args[nargs]; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"arg_string\";\n"
	"\tid = 3;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { uint32_t fn; uint8_t index; string value; };\n"
	"};\n"
	"\n"
	"event {\n"
	"\tname = \"exit_ret\";\n"
	"\tid = 4;\n"
	"\tstream_id = 0;\n"
	"\tfields := struct { uint32_t fn; uint64_t ret; };\n"
	"};\n";

int ctf_write_metadata(const char *dir, const struct trace_clock *c)
{
	char path[4096], tmp[4200];
	const char *name = c->tsc ? "tsc" : "monotonic";
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/metadata", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	ok = fprintf(f, metadata_fmt, name,
		     c->tsc ? "x86 time-stamp counter" : "CLOCK_MONOTONIC in nanoseconds",
		     (unsigned long long)c->freq, (unsigned long long)c->origin_s,
		     (unsigned long long)c->origin_cyc, name, name) > 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;

		unlink(tmp);
		return -e;
	}
	return 0;
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
