/* libkv: chained hashing with FNV-1a, doubling when the load passes 1. */
#include "kv.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint64_t hash, value;
	char key[];
};

struct kv {
	struct entry **b;
	size_t nb, n;
};

uint64_t kv_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct entry *entry_new(const char *key, uint64_t hash, uint64_t value)
{
	size_t len = strlen(key) + 1;
	struct entry *e = malloc(sizeof(*e) + len);

	if (!e)
		return NULL;
	memcpy(e->key, key, len);
	e->hash = hash;
	e->value = value;
	e->next = NULL;
	return e;
}

static struct entry **bucket_find(struct entry **slot, const char *key, uint64_t hash)
{
	for (; *slot; slot = &(*slot)->next)
		if ((*slot)->hash == hash && strcmp((*slot)->key, key) == 0)
			break;
	return slot;
}

struct kv *kv_create(size_t buckets)
{
	struct kv *kv = calloc(1, sizeof(*kv));

	if (!kv)
		return NULL;
	kv->nb = buckets ? buckets : 16;
	kv->b = calloc(kv->nb, sizeof(*kv->b));
	if (!kv->b) {
		free(kv);
		return NULL;
	}
	return kv;
}

static int kv_resize(struct kv *kv, size_t nb)
{
	struct entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < kv->nb; i++) {
		struct entry *e = kv->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash % nb];
			b[e->hash % nb] = e;
		}
	}
	free(kv->b);
	kv->b = b;
	kv->nb = nb;
	return 0;
}

int kv_put(struct kv *kv, const char *key, uint64_t value)
{
	uint64_t h = kv_hash(key);
	struct entry **slot = bucket_find(&kv->b[h % kv->nb], key, h);

	if (*slot) {
		(*slot)->value = value;
		return 0;
	}
	if (!(*slot = entry_new(key, h, value)))
		return -1;
	if (++kv->n > kv->nb)
		return kv_resize(kv, kv->nb * 2);
	return 0;
}

int kv_get(const struct kv *kv, const char *key, uint64_t *value)
{
	uint64_t h = kv_hash(key);
	struct entry **slot = bucket_find(&kv->b[h % kv->nb], key, h);

	if (!*slot)
		return -1;
	*value = (*slot)->value;
	return 0;
}

int kv_del(struct kv *kv, const char *key)
{
	uint64_t h = kv_hash(key);
	struct entry **slot = bucket_find(&kv->b[h % kv->nb], key, h), *e = *slot;

	if (!e)
		return -1;
	*slot = e->next;
	free(e);
	kv->n--;
	return 0;
}

size_t kv_count(const struct kv *kv)
{
	return kv->n;
}

uint64_t kv_checksum(const struct kv *kv)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < kv->nb; i++)
		for (const struct entry *e = kv->b[i]; e; e = e->next)
			sum += e->hash ^ e->value;
	return sum;
}

void kv_destroy(struct kv *kv)
{
	for (size_t i = 0; kv && i < kv->nb; i++) {
		struct entry *e = kv->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	if (kv)
		free(kv->b);
	free(kv);
}
