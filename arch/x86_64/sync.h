/* Core serialization for cross-modifying code: after sync_cores() returns,
 * every thread of the process has executed a serializing instruction, so none
 * can still run instruction bytes it fetched before the call. */
#ifndef PT_ARCH_SYNC_H
#define PT_ARCH_SYNC_H

enum sync_mode {
	SYNC_NONE = 0,
	SYNC_MEMBARRIER = 1, /* membarrier(PRIVATE_EXPEDITED_SYNC_CORE) */
	SYNC_SIGNAL = 2,     /* tgkill every thread; its handler runs CPUID */
};

/* want: 0 auto, SYNC_MEMBARRIER or SYNC_SIGNAL.  signo: the fallback's signal. */
int sync_init(int want, int signo);
int sync_cores(void);
int sync_mode(void);
/* fork() gives the child a new mm whose membarrier registration is its own. */
void sync_atfork_child(void);

#endif
