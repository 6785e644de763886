/* Modules loaded by a dlopen the agent does not see (after attach its dlopen
 * is not interposed; dlmopen), found by a thread of their own every 50 ms.
 * Not the writer's job: dl_iterate_phdr takes the loader's lock, which a
 * traced thread inside dlopen (running a constructor) may hold while it
 * waits for the writer. */
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "agent/agent.h"

static pthread_t thread;
static atomic_int stop, running;

static int count_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

static void *loop(void *arg)
{
	unsigned long long adds = 0;

	(void)arg;
	agent_thread_start();
	while (!atomic_load(&stop)) {
		unsigned long long now = 0;

		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
		dl_iterate_phdr(count_adds, &now);
		/* Act once the count has stayed put for a tick: a module seen
		 * while the loader is still at work may be incomplete.  The
		 * selection compares itself with the loader's count, not with
		 * an earlier look of ours: a module loaded between the agent's
		 * first walk and this thread's first look is found too. */
		if (now != adds) {
			adds = now;
			continue;
		}
		if (!atomic_load(&stop) && select_stale())
			agent_module_loaded();
	}
	return NULL;
}

int modwatch_start(void)
{
	int r;

	atomic_store(&stop, 0);
	r = pthread_create(&thread, NULL, loop, NULL);
	if (r == 0)
		atomic_store(&running, 1);
	return -r;
}

void modwatch_stop(void)
{
	if (atomic_exchange(&running, 0)) {
		atomic_store(&stop, 1);
		pthread_join(thread, NULL);
	}
}

void modwatch_forget(void)
{
	atomic_store(&running, 0);
}
