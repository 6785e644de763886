/* The trace on disk: CTF 1.8 (the Common Trace Format LTTng writes), so
 * babeltrace2 reads it with no plugin.  One metadata file, one stream file
 * per thread; a stream file is a sequence of packets (our chunks). */
#ifndef PT_TRACE_CTF_H
#define PT_TRACE_CTF_H

#include <stddef.h>
#include <stdint.h>

#include "trace/clock.h"
#include "trace/tbuf.h"

#define CTF_MAGIC 0xc1fc1fc1u

/* What the metadata says besides the layout. */
struct ctf_trace {
	const struct trace_clock *clock;
	uint8_t uuid[16];           /* the trace's, from ctf_trace_init */
	int pid;
	char procname[16];
	const char *const *names;   /* symbol of each function id (NULL entries skipped) */
	size_t nnames;
};

/* A new trace: a random UUID, this process's pid and name. */
void ctf_trace_init(struct ctf_trace *t, const struct trace_clock *c);
/* Writes DIR/metadata (atomically: a temporary file renamed).  0 or -errno. */
int ctf_write_metadata(const char *dir, const struct ctf_trace *t);
/* Fills the packet header and context at the start of a full chunk. */
void ctf_packet_header(struct tb_chunk *c, uint32_t tid);

#endif
