#ifndef KV_WORKLOAD_H
#define KV_WORKLOAD_H

#include <stdint.h>

/* Runs ops seeded operations on a fresh store; returns its checksum. */
uint64_t workload_run(unsigned seed, long ops);

#endif
