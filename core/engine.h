/* Entry and exit of every public call that uses the site table. */
#ifndef PT_CORE_ENGINE_H
#define PT_CORE_ENGINE_H

#define PT_STR2(x) #x
#define PT_STR(x) PT_STR2(x)
#define PT_VERSION_STRING                                                               \
	PT_STR(POKETRACE_VERSION_MAJOR) "." PT_STR(POKETRACE_VERSION_MINOR) "." PT_STR( \
		POKETRACE_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>

struct poketrace_init_opts;

/* Takes the engine lock, initializes on first use, syncs the site table.
 * On success the caller must call engine_leave(); on failure it must not.
 * engine_enter_change is for calls that change code, hooks or memory:
 * -EDEADLK inside another poketrace call of the same thread. */
int engine_enter(void);
int engine_enter_change(void);
void engine_leave(void);
int engine_init_locked(const struct poketrace_init_opts *opts);
/* Executable memory within rel32 reach of the module containing a (engine
 * lock held). */
int engine_execmem_near(uintptr_t a, size_t size, void **out);
/* The same within 1 GiB: any two such allocations reach each other too
 * (a landing pad jumps to the exit path of an image). */
int engine_execmem_close(uintptr_t a, size_t size, void **out);

#endif
