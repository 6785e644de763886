/* Making a running process load a library (poketrace attach). */
#ifndef PT_CLI_INJECT_H
#define PT_CLI_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether we may attach to pid (same user, ptrace allowed): 0, or -1 with
 * the reason in err. */
int inject_check(pid_t pid, char *err, size_t cap);

/* Whether pid has the library lib mapped. */
bool inject_loaded(pid_t pid, const char *lib);

/* Stops one thread of pid with ptrace, calls stopped(arg) (if it fails, lets
 * the thread go untouched), makes the thread call dlopen(lib, RTLD_NOW),
 * restores it and lets it go.  0, or -1 with a message in err. */
int inject_dlopen(pid_t pid, const char *lib, int (*stopped)(void *), void *arg, char *err, size_t cap);

/* Makes a thread of pid call the function fn() of the loaded library lib
 * (no arguments; *ret its return value), as inject_dlopen does. */
int inject_call_int(pid_t pid, const char *lib, const char *fn, int (*stopped)(void *), void *arg, long *ret,
		    char *err, size_t cap);

#endif
