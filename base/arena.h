/* Memory for what lives as long as the process (a relocated entry's copy is
 * never freed, nor what describes it): bumped out of mappings populated when
 * they are made.  10,000 copies' descriptions fault in thousands of fresh
 * heap pages one trap at a time otherwise; the kernel fills a populated
 * mapping in one call. */
#ifndef PT_BASE_ARENA_H
#define PT_BASE_ARENA_H

#include <stddef.h>

/* size bytes, zeroed, 16-byte aligned, never freed; NULL if no memory. */
void *arena_alloc(size_t size);

#endif
