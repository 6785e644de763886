/* The per-thread recursion guard (a word of initial-exec TLS images test
 * and set around their handlers, arch/x86_64/tramp.h): non-zero while the
 * thread runs a handler, naming what called it; cleared when a handler is
 * left for good (an exception, pthread_exit, a longjmp out); and a registry
 * of where each thread keeps it, which reclaiming reads (reclaim.c). */
#include "core/guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unwind.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/saferead.h"
#include "arch/x86_64/sigguard.h"

/* Non-zero while this thread runs a handler: what called it (tramp.h). */
static __thread uint64_t in_handler __attribute__((tls_model("initial-exec")));
/* rsp of the image's frame as it set the guard: a longjmp to above it left
 * the handler (sigguard_on_longjmp). */
static __thread uintptr_t guard_sp __attribute__((tls_model("initial-exec")));
static int32_t guard_tpoff, guard_sp_tpoff;
static uint64_t recursion_misses;

/* A longjmp (or siglongjmp) to a frame above the image that set the guard,
 * on its stack: the handler was left for good, as by an exception
 * (image_personality).  One to a frame inside the handler keeps it. */
static void guard_longjmp(uintptr_t sp)
{
	/* above it on the same stack: a jump within a coroutine's or a
	 * sigaltstack's stack mapped higher does not leave the handler */
	if (in_handler && sp > guard_sp && safe_mapped_end(guard_sp, sp) >= sp)
		in_handler = 0;
}

/* Where each thread keeps its guard, for reclaiming to read while the
 * thread is blocked (reclaim.c): registered as threads start, slots
 * reused once their thread ended, never freed. */
struct guard_slot {
	_Atomic long tid; /* 0: free */
	const uint64_t *guard;
	struct guard_slot *next;
};

static struct guard_slot *_Atomic guard_slots;
static __thread struct guard_slot *my_slot __attribute__((tls_model("initial-exec")));
static pthread_key_t slot_key;

static void slot_release(void *p)
{
	struct guard_slot *g = p;

	atomic_store(&g->tid, 0);
}

/* in_signal: from a signal handler, which may have interrupted malloc:
 * only a free slot is taken, and the thread's end does not release it. */
static void register_thread(bool in_signal)
{
	long tid = raw_gettid(), zero = 0;
	struct guard_slot *g;

	if (my_slot && atomic_load(&my_slot->tid) == tid)
		return;
	for (g = atomic_load(&guard_slots); g; g = g->next, zero = 0)
		if (atomic_compare_exchange_strong(&g->tid, &zero, tid))
			break;
	if (!g && in_signal)
		return;
	if (!g) {
		if (!(g = calloc(1, sizeof(*g))))
			return;
		atomic_store(&g->tid, tid);
		g->next = atomic_load(&guard_slots);
		while (!atomic_compare_exchange_weak(&guard_slots, &g->next, g))
			;
	}
	g->guard = &in_handler;
	my_slot = g;
	if (!in_signal)
		pthread_setspecific(slot_key, g); /* released as the thread ends */
}

void guard_register(void)
{
	register_thread(false);
}

void guard_register_signal(void)
{
	register_thread(true);
}

const uint64_t *guard_of(long tid)
{
	for (struct guard_slot *g = atomic_load(&guard_slots); g; g = g->next)
		if (atomic_load(&g->tid) == tid)
			return g->guard;
	return NULL;
}

int guard_init(void)
{
	uintptr_t tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp));
	guard_tpoff = (int32_t)((intptr_t)&in_handler - (intptr_t)tp);
	guard_sp_tpoff = (int32_t)((intptr_t)&guard_sp - (intptr_t)tp);
	atomic_store(&sigguard_on_longjmp, guard_longjmp);
	if (pthread_key_create(&slot_key, slot_release) == 0) {
		atomic_store(&sigguard_on_thread_start, guard_register);
		guard_register();
	}
	return 0;
}

/* Unwinding through an image's frame (an exception or pthread_exit out of a
 * handler or of the body): the image was entered with the guard clear, as
 * an entry that finds it set leaves no frame, so once the frame is gone it
 * is clear again.  Without this a handler that throws would leave its
 * thread's guard set and the thread would never run a handler again. */
static _Unwind_Reason_Code image_personality(int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
					     struct _Unwind_Exception *ex, struct _Unwind_Context *uc)
{
	(void)version, (void)cls, (void)ex, (void)uc;
	if (actions & _UA_CLEANUP_PHASE)
		in_handler = 0;
	return _URC_CONTINUE_UNWIND;
}

uint64_t guard_self(void)
{
	return in_handler;
}

void *guard_personality(void)
{
	return (void *)image_personality;
}

void guard_spec(struct tramp_spec *spec)
{
	spec->guard_tpoff = guard_tpoff;
	spec->guard_sp_tpoff = guard_sp_tpoff;
	spec->personality = (void *)image_personality;
	spec->miss_counter = (uintptr_t)&recursion_misses;
}

uint64_t guard_misses(void)
{
	return __atomic_load_n(&recursion_misses, __ATOMIC_RELAXED);
}

