/* Functions the reclamation tests hook (gcc -O2 -g, patchable entries):
 * each one holds its caller somewhere the old stack scan could not see. */
#ifndef PT_TEST_RECLAIMFNS_H
#define PT_TEST_RECLAIMFNS_H

#include <ucontext.h>

extern int rf_pipe[2];                 /* rf_block_* wait for a byte on it */
extern volatile int rf_inside, rf_go;
extern ucontext_t rf_main_ctx, rf_coro_ctx;

long rf_block(long x);                 /* blocks in read(rf_pipe[0]) */
long rf_block_mlocked(long x);         /* the same with an mlocked buffer on its stack */
long rf_spin(long x);                  /* spins until rf_go */
long rf_resume(long x);                /* swapcontext to rf_coro_ctx and back */
long rf_work(long x);                  /* x * 3 + 1 */
long rf_nap(long us);                  /* sleeps us microseconds, returns us (-1: interrupted) */

#endif
