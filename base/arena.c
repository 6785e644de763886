/* See arena.h. */
#include "base/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "base/fault.h"

#define ALIGN 16
#define FIRST_BLOCK (64UL * 1024)
#define MAX_BLOCK (4UL * 1024 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *cur, *end;
static size_t next_size = FIRST_BLOCK;

void *arena_alloc(size_t size)
{
	void *p = NULL;

	if (pt_fault("alloc"))
		return NULL;
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	pthread_mutex_lock(&lock);
	if ((size_t)(end - cur) < size) {
		/* twice as large each time (to MAX_BLOCK): one batch of
		 * thousands takes few mappings; what is left of the block
		 * before is given up (a few KiB at most, once per block) */
		size_t len = next_size > size ? next_size : (size + 4095) & ~4095UL;
		void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (b == MAP_FAILED)
			goto out;
		cur = b;
		end = cur + len;
		if (next_size < MAX_BLOCK)
			next_size *= 2;
	}
	p = cur;
	cur += size;
out:
	pthread_mutex_unlock(&lock);
	return p;
}
