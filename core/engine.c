/* Library state: initialization, statistics, errors, executable memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/execmem.h"
#include "arch/x86_64/poke.h"
#include "arch/x86_64/sync.h"
#include "arch/x86_64/textwrite.h"
#include "arch/x86_64/trap.h"
#include "base/error.h"
#include "core/engine.h"
#include "core/gotpatch.h"
#include "core/hooks.h"
#include "core/image.h"
#include "core/patch.h"
#include "core/sites.h"
#include "poketrace.h"

static bool initialized;

static int env_choice(const char *name, const char *a, const char *b, int def)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return def;
	if (strcmp(v, a) == 0)
		return 1;
	if (strcmp(v, b) == 0)
		return 2;
	return -1;
}

int engine_init_locked(const struct poketrace_init_opts *opts)
{
	struct poketrace_init_opts o = { 0 };
	int sync, write, r;

	if (opts) {
		if (opts->sz < sizeof(size_t) || opts->sz > sizeof(o))
			return pt_error(EINVAL, "poketrace_init: opts->sz is %zu; set it to "
					"sizeof(struct poketrace_init_opts)", opts->sz);
		memcpy(&o, opts, opts->sz);
	}
	sync = env_choice("POKETRACE_SYNC", "membarrier", "signal", (int)o.sync);
	write = env_choice("POKETRACE_WRITE", "mprotect", "procmem", (int)o.write);
	if (sync < 0 || write < 0)
		return pt_error(EINVAL, "POKETRACE_SYNC must be membarrier or signal and "
				"POKETRACE_WRITE mprotect or procmem");
	if (initialized) {
		/* Initialized before (by an earlier poketrace_init, or by the
		 * first call of any function): options that ask for something
		 * else cannot be had any more, and must not pass silently. */
		bool sync_ok = !sync || (sync == 1) == (sync_mode() == SYNC_MEMBARRIER);
		bool write_ok = !write || (write == 1) == (text_mode() == TEXT_MPROTECT);
		bool sig_ok = !o.sync_signal || o.sync_signal == sync_signal();

		if (sync_ok && write_ok && sig_ok)
			return 0;
		return pt_error(EALREADY, "poketrace is initialized already (by an earlier call) with the %s sync, "
				"%s writes and signal %d, not what these options ask: call poketrace_init "
				"first, before any other poketrace function", sync_mode() == SYNC_MEMBARRIER ?
				"membarrier" : "signal", text_mode() == TEXT_MPROTECT ? "mprotect" : "/proc/self/mem",
				sync_signal());
	}
	if ((r = trap_install()) < 0)
		return pt_error(-r, "cannot install the SIGTRAP handler");
	poke_atfork_install();
	patch_init();
	text_set_mode(write);
	if ((r = sync_init(sync, o.sync_signal)) < 0)
		return r;
	if ((r = sites_sync()) < 0 || (r = hooks_init()) < 0)
		return r;
	gotpatch_apply(); /* a late load: the interposers take effect from now */
	initialized = true;
	return 0;
}

/* How deep this thread is in poketrace calls: a sites_foreach callback may
 * look sites up, and a signal handler may interrupt any call. */
static __thread int depth;

static int enter(bool change)
{
	int r;

	poke_lock();
	pt_error_clear();
	if (poke_orphaned()) {
		poke_unlock();
		return pt_error(EDEADLK, "this process was forked (by _Fork() or a raw fork system call) while "
				"another thread was changing code; that change was completed, but the loader's "
				"lock may be held by a thread that does not exist here: poketrace makes no more "
				"changes in this process");
	}
	if (change && depth > 0) {
		poke_unlock();
		return pt_error(EDEADLK, "a poketrace call that changes code or hooks was made inside another "
				"poketrace call of the same thread (from a signal handler, or a sites_foreach "
				"callback): make it outside");
	}
	r = engine_init_locked(NULL);
	/* Only the outermost call may rebuild the table: an inner one would
	 * free what the outer one is walking. */
	if (r == 0 && depth == 0)
		r = sites_sync();
	if (r < 0) {
		poke_unlock();
		return r;
	}
	depth++;
	if (change)
		execmem_hold(); /* its images' writes share one W window per chunk */
	return 0;
}

/* Every entry point: initialize on first use, then bring the site table up
 * to date with the loaded modules. */
int engine_enter(void)
{
	return enter(false);
}

int engine_enter_change(void)
{
	return enter(true);
}

void engine_leave(void)
{
	/* R-X again where a change failed before hooks_apply settled (its
	 * error is the one the caller sees: kept over the settle's); copies
	 * made by a call that commits nothing described */
	if (--depth == 0 && image_unsettled()) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", pt_error_msg());
		if (image_settle() < 0)
			pt_error(EIO, "%s", msg);
	}
	poke_unlock();
}

POKETRACE_API int poketrace_init(const struct poketrace_init_opts *opts)
{
	int r;

	poke_lock();
	pt_error_clear();
	r = engine_init_locked(opts);
	poke_unlock();
	return r;
}

POKETRACE_API const char *poketrace_version(void)
{
	return PT_VERSION_STRING;
}

POKETRACE_API const char *poketrace_last_error(void)
{
	return pt_error_msg();
}

POKETRACE_API void poketrace_get_stats(struct poketrace_stats *out)
{
	struct poke_counters c;

	if (!out)
		return;
	poke_get_counters(&c);
	memset(out, 0, sizeof(*out));
	out->batches = c.batches;
	out->sites_written = c.sites;
	out->syncs = c.syncs;
	out->traps_emulated = c.emulated;
	out->traps_restarted = c.restarted;
	out->traps_chained = c.chained;
	out->recursion_misses = hooks_recursion_misses();
	image_counts(&out->images_live, &out->images_retired, &out->images_reclaimed);
	out->sync_mode = sync_mode() == SYNC_SIGNAL ? POKETRACE_SYNC_SIGNAL : POKETRACE_SYNC_MEMBARRIER;
	out->write_mode = text_mode() == TEXT_PROCMEM ? POKETRACE_WRITE_PROCMEM : POKETRACE_WRITE_MPROTECT;
}

/* rel32 reach: every byte of the allocation must be reachable from every
 * site of the module (a call at s reaches [s+5-2^31, s+5+2^31)). */
#define REACH (1UL << 31)

int engine_execmem_near(uintptr_t a, size_t size, void **out)
{
	struct pt_module *m = sites_module_at(a);
	uintptr_t lo = m ? m->text_lo : a, hi = m ? m->text_hi : a + 1;

	if (hi - lo >= REACH - 4096)
		return pt_error(E2BIG, "the module's code spans more than 2 GiB: no address is "
				"within rel32 reach of all of it");
	/* [hi + 5 - 2^31, lo + 5 + 2^31): reachable from both ends. */
	return execmem_alloc(hi + 5 > REACH ? hi + 5 - REACH + 4096 : 4096, lo + 5 + REACH - 4096, size,
			     out);
}

int engine_execmem_close(uintptr_t a, size_t size, void **out)
{
	struct pt_module *m = sites_module_at(a);
	uintptr_t lo = m ? m->text_lo : a, hi = m ? m->text_hi : a + 1;
	const uintptr_t half = REACH / 2;

	if (hi - lo >= half - 4096)
		return pt_error(E2BIG, "the module's code spans more than 1 GiB: trampolines that call "
				"its functions cannot be placed");
	/* [hi - 2^30, lo + 2^30): any two addresses in it are within rel32 */
	return execmem_alloc(hi > half ? hi - half + 4096 : 4096, lo + half - 4096, size, out);
}

POKETRACE_API int poketrace_execmem_alloc(const void *near, size_t size, void **out)
{
	int r;

	if (!out || !size)
		return pt_error(EINVAL, "poketrace_execmem_alloc: out must not be NULL and size > 0");
	if ((r = engine_enter_change()) < 0)
		return r;
	r = engine_execmem_near((uintptr_t)near, size, out);
	engine_leave();
	return r;
}

POKETRACE_API int poketrace_execmem_write(void *dst, const void *src, size_t len)
{
	if (!dst || !src)
		return pt_error(EINVAL, "poketrace_execmem_write: NULL pointer");
	pt_error_clear();
	return execmem_write(dst, src, len);
}

POKETRACE_API int poketrace_execmem_free(void *p)
{
	if (!p)
		return 0;
	pt_error_clear();
	return execmem_free(p);
}
