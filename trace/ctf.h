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

/* Writes DIR/metadata.  0 or -errno. */
int ctf_write_metadata(const char *dir, const struct trace_clock *c);
/* Fills the packet header and context at the start of a full chunk. */
void ctf_packet_header(struct tb_chunk *c, uint32_t tid);

#endif
