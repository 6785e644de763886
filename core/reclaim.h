/* Retired images and the proof that no thread can still be in them. */
#ifndef PT_CORE_RECLAIM_H
#define PT_CORE_RECLAIM_H

#include "core/image.h"

/* The image is no longer reachable from any site (its batch committed). */
void reclaim_retire(struct image *im);
#include <stdbool.h>

/* Frees every retired image no thread can be in; returns how many remain.
 * may_signal: threads that keep running are looked at with the engine's
 * signal (sync_observe), else such a thread leaves the round undecided. */
int reclaim_try(bool may_signal);
/* After a batch: signal running threads only once this many are waiting. */
#define RECLAIM_SIGNAL_AT 64
int reclaim_pending(void);

#endif
