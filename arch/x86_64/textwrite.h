/* Writing bytes into code that other threads may be executing.  A session
 * makes every page span it will touch writable once — adding write to the
 * protection the mapping has, never taking execute away — and gives each
 * span back exactly the protection it had (a program may keep its code
 * writable); or, where the system refuses W+X mappings, writes through
 * /proc/self/mem, opened for the session (so that a forked child or a
 * recycled descriptor number can never be written by mistake). */
#ifndef PT_ARCH_TEXTWRITE_H
#define PT_ARCH_TEXTWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum text_mode {
	TEXT_AUTO = 0,
	TEXT_MPROTECT = 1,
	TEXT_PROCMEM = 2,
};

/* Pages of one mapping, with the protection the mapping had. */
struct text_span {
	uintptr_t start, end; /* page-aligned */
	int prot;
};

struct text_session {
	int mode;
	int memfd;            /* TEXT_PROCMEM: /proc/self/mem of this process */
	struct text_span *spans;
	size_t nspans;
	unsigned mprotects;
	bool module;          /* text_open: a module's code (a failed close is owed) */
};

void text_set_mode(int mode);
int text_mode(void);

/* Opens a session covering [addr[i], addr[i]+len) for n addresses sorted
 * ascending.  Sites of one mapping less than 64 pages apart share a span:
 * 2 mprotect calls per span, and a bounded number of splits of the mapping
 * (the kernel's limit on mappings).  0 or -errno; on failure nothing stays
 * writable and nothing was written. */
int text_open(struct text_session *s, const uintptr_t *addr, size_t n, size_t len);
/* The same for one range of a mapping whose protection the caller knows
 * (poketrace's own executable memory): no /proc/self/maps. */
int text_open_known(struct text_session *s, uintptr_t addr, size_t len, int prot);
/* One store of len bytes; a 1-byte write is a single byte store. */
int text_write(struct text_session *s, uintptr_t addr, const void *src, size_t len);
/* Every span back to its protection.  0 or -errno (what was written stays).
 * A module's span that cannot be given back is owed, not an error: the
 * next text_open gives it back first (if its pages are still the same). */
int text_close(struct text_session *s);

#endif
