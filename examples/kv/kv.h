/* libkv: a small chained hash table, the example workload of poketrace. */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

struct kv;

struct kv *kv_create(size_t buckets);
void kv_destroy(struct kv *kv);
int kv_put(struct kv *kv, const char *key, uint64_t value);
int kv_get(const struct kv *kv, const char *key, uint64_t *value);
int kv_del(struct kv *kv, const char *key);
size_t kv_count(const struct kv *kv);
uint64_t kv_checksum(const struct kv *kv);
uint64_t kv_hash(const char *s);

#endif
