/* Pointer set: linear probing, tombstones on delete, rehash at half full. */
#include "base/ptrset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define TOMB ((const void *)1)

static size_t hash(const void *p)
{
	return (size_t)(((uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> 20);
}

static const void **find(const struct ptrset *s, const void *p)
{
	if (!s->cap)
		return NULL;
	for (size_t i = hash(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return NULL;
		if (s->slot[i] == p)
			return &s->slot[i];
	}
}

int ptrset_add(struct ptrset *s, const void *p)
{
	if ((s->used + 1) * 2 > s->cap) {
		struct ptrset n = { calloc(s->cap ? s->cap * 2 : 64, sizeof(void *)), s->cap ? s->cap * 2 : 64, 0, 0 };

		if (!n.slot)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i] && s->slot[i] != TOMB)
				ptrset_add(&n, s->slot[i]);
		free(s->slot);
		*s = n;
	}
	for (size_t i = hash(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i] || s->slot[i] == TOMB) {
			s->used += !s->slot[i];
			s->slot[i] = p;
			s->n++;
			return 0;
		}
	}
}

bool ptrset_has(const struct ptrset *s, const void *p)
{
	return find(s, p) != NULL;
}

void ptrset_del(struct ptrset *s, const void *p)
{
	const void **e = find(s, p);

	if (e) {
		*e = TOMB;
		s->n--;
	}
}
