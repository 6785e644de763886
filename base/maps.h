/* This process's mappings, from /proc/self/maps: one reader for the code
 * writer (each page's protection) and the site table (which file a module
 * was mapped from). */
#ifndef PT_BASE_MAPS_H
#define PT_BASE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct maps_entry {
	uintptr_t start, end;
	int prot;                  /* PROT_* */
	unsigned long dev_major, dev_minor, ino;
	uint64_t offset;
	const char *path;          /* "" if anonymous; " (deleted)" taken off */
	bool deleted;              /* the file was unlinked since it was mapped */
};

struct maps {
	struct maps_entry *v;      /* in address order */
	size_t n;
	char *pool;                /* the paths */
};

/* 0 or -errno (with nothing to free). */
int maps_read(struct maps *m);
void maps_free(struct maps *m);
/* The mapping holding addr, or NULL. */
const struct maps_entry *maps_find(const struct maps *m, uintptr_t addr);

#endif
