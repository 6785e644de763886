/* A set of pointers (open addressing), for telling live handles from
 * stale ones without dereferencing them. */
#ifndef PT_BASE_PTRSET_H
#define PT_BASE_PTRSET_H

#include <stdbool.h>
#include <stddef.h>

struct ptrset {
	const void **slot;
	size_t cap, used, n;
};

int ptrset_add(struct ptrset *s, const void *p);
bool ptrset_has(const struct ptrset *s, const void *p);
void ptrset_del(struct ptrset *s, const void *p);

#endif
