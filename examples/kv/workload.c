/* A deterministic workload over libkv: each thread owns a store and runs a
 * seeded mix of puts, gets and deletes; the checksums are the output. */
#include "workload.h"

#include <stdio.h>

#include "kv.h"

static uint64_t lcg_next(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

static void make_key(char *buf, size_t len, uint64_t n)
{
	snprintf(buf, len, "key-%llu", (unsigned long long)n);
}

uint64_t workload_run(unsigned seed, long ops)
{
	struct kv *kv = kv_create(8);
	uint64_t state = seed, sum;
	char key[32];

	for (long i = 0; i < ops; i++) {
		uint64_t r = lcg_next(&state), v;

		make_key(key, sizeof(key), r % 2048);
		switch (r % 8) {
		case 0:
			kv_del(kv, key);
			break;
		case 1: case 2: case 3:
			kv_put(kv, key, r);
			break;
		default:
			if (kv_get(kv, key, &v) == 0)
				state ^= v & 0xff;
		}
	}
	sum = kv_checksum(kv) ^ kv_count(kv);
	kv_destroy(kv);
	return sum;
}
