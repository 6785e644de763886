/* Writing bytes into code that other threads may be executing.  A session
 * makes every page range it will touch writable once — RWX, never taking
 * execute away — and back to R-X at the end; or, where the system refuses
 * W+X mappings, writes through /proc/self/mem and leaves the pages R-X. */
#ifndef PT_ARCH_TEXTWRITE_H
#define PT_ARCH_TEXTWRITE_H

#include <stddef.h>
#include <stdint.h>

enum text_mode {
	TEXT_AUTO = 0,
	TEXT_MPROTECT = 1,
	TEXT_PROCMEM = 2,
};

struct text_range {
	uintptr_t start, end; /* page-aligned */
};

struct text_session {
	int mode;
	struct text_range *ranges;
	size_t nranges;
	unsigned mprotects;
};

void text_set_mode(int mode);
int text_mode(void);

/* Opens a session covering [addr[i], addr[i]+len) for n addresses sorted
 * ascending.  Pages are merged into contiguous ranges: 2 mprotect calls per
 * range.  0 or -errno; on failure nothing stays writable. */
int text_open(struct text_session *s, const uintptr_t *addr, size_t n, size_t len);
/* One store of len bytes; a 1-byte write is a single byte store. */
int text_write(struct text_session *s, uintptr_t addr, const void *src, size_t len);
int text_close(struct text_session *s);

#endif
