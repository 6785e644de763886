/* Retired images and the proof that no thread can still be in them. */
#ifndef PT_CORE_RECLAIM_H
#define PT_CORE_RECLAIM_H

#include "core/image.h"

/* The image is no longer reachable from any site (its batch committed). */
void reclaim_retire(struct image *im);
/* Frees every retired image no thread can be in; returns how many remain. */
int reclaim_try(void);
int reclaim_pending(void);

#endif
