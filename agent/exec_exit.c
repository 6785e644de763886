/* The exec and _exit functions, interposed: where a process image ends
 * without running atexit.  Before an exec the trace of this image is
 * written out (and tracing resumes if the exec fails: execvp tries PATH
 * entries one by one).  When
 * children are followed, the new image is made to load the agent even if
 * the caller built its environment without it (env -i, a daemon's clean
 * environment, attach, where the program never had it).
 *
 * Everything here may run in a vfork child, which borrows the parent's
 * memory and stack: no allocator, little stack (mapped memory instead).
 * posix_spawn gets the traced environment too; system and popen exec
 * from inside libc with the caller's environment: they are followed when
 * that environment has the agent, which it has unless the program dropped
 * it. */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

static const char *agent_file(void)
{
	Dl_info di;

	return dladdr((void *)agent_file, &di) && di.dli_fname ? di.dli_fname : NULL;
}

/* env's value of key ("KEY="), or NULL. */
static const char *value(char *const *env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, n))
			return env[i] + n;
	return NULL;
}

/* The environment the new image gets: env itself, or, if it lacks the
 * agent (no POKETRACE_AGENT_DIR, or an LD_PRELOAD without it) while
 * children are followed, a copy with the agent's variables in mapped
 * memory (no allocator: this may be a vfork child), *block set to unmap
 * if the exec fails (a vfork child's successful exec leaves it to the
 * parent: one mapping per such exec). */
static char *const *traced_env(char *const *env, void **block, size_t *block_len)
{
	const char *agent = agent_file(), *old = value(env, "LD_PRELOAD="), *dir = agent_trace_dir();
	size_t n = 0, k = 0, len;
	char **out, *pre, *d;

	*block = NULL;
	if (!agent_follows() || !agent || (value(env, "POKETRACE_AGENT_DIR=") && old && strstr(old, agent)))
		return env;
	/* none: what this image was loaded with (a sanitizer's runtime must
	 * still come before the agent) */
	if (!old || !*old)
		old = getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "";
	if (strstr(old, agent))
		agent = "";
	while (env && env[n])
		n++;
	len = (n + 4) * sizeof(char *) + strlen(old) + strlen(agent) + strlen(dir) + 64;
	if ((*block = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		*block = NULL;
		return env;
	}
	*block_len = len;
	out = *block;
	pre = (char *)(out + n + 4);
	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) && strncmp(env[i], "POKETRACE_AGENT_CHILD=", 22) &&
		    strncmp(env[i], "POKETRACE_AGENT_DIR=", 20))
			out[k++] = env[i];
	d = pre + sprintf(pre, "LD_PRELOAD=%s%s%s", old, *old && *agent ? ":" : "", agent) + 1;
	sprintf(d, "POKETRACE_AGENT_DIR=%s", dir);
	out[k++] = pre;
	out[k++] = d;
	out[k++] = "POKETRACE_AGENT_CHILD=1";
	out[k] = NULL;
	return out;
}

/* The real function (its name), then: the flush, the call with the traced
 * environment, and tracing back (and the copy unmapped) if it failed. */
#define CALL_REAL(type, name, env, ...)                                                                               \
	do {                                                                                                          \
		type real_ = (type)dlsym(RTLD_NEXT, name);                                                             \
		void *block_;                                                                                          \
		size_t len_ = 0;                                                                                       \
		char *const *env_;                                                                                     \
		int r_, err_;                                                                                          \
		if (!real_) {                                                                                          \
			errno = ENOSYS;                                                                                \
			return -1;                                                                                     \
		}                                                                                                      \
		env_ = traced_env((env), &block_, &len_);                                                              \
		agent_before_exec();                                                                                   \
		r_ = real_(__VA_ARGS__);                                                                               \
		err_ = errno;                                                                                          \
		agent_exec_failed();                                                                                   \
		if (block_)                                                                                            \
			munmap(block_, len_);                                                                          \
		errno = err_;                                                                                          \
		return r_;                                                                                             \
	} while (0)

typedef int (*execve_t)(const char *, char *const[], char *const[]);
typedef int (*fexecve_t)(int, char *const[], char *const[]);
typedef int (*execveat_t)(int, const char *, char *const[], char *const[], int);

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	CALL_REAL(execve_t, "execve", envp, path, argv, env_);
}

EXPORT int execv(const char *path, char *const argv[])
{
	CALL_REAL(execve_t, "execve", environ, path, argv, env_);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	CALL_REAL(execve_t, "execvpe", envp, file, argv, env_);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	CALL_REAL(execve_t, "execvpe", environ, file, argv, env_);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	CALL_REAL(fexecve_t, "fexecve", envp, fd, argv, env_);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	CALL_REAL(execveat_t, "execveat", envp, dirfd, path, argv, env_, flags);
}

/* The list forms: the arguments into an array on the stack, then the
 * vector form; with_env (execle): the environment follows the NULL. */
#define LIST_CALL(arg0, with_env, call)                                                                               \
	do {                                                                                                          \
		va_list ap_;                                                                                           \
		size_t n_ = 0;                                                                                         \
		va_start(ap_, arg0);                                                                                   \
		for (const char *a_ = (arg0); a_; a_ = va_arg(ap_, const char *))                                      \
			n_++;                                                                                          \
		va_end(ap_);                                                                                           \
		char *argv[n_ + 1], *const *envp = NULL;                                                               \
		va_start(ap_, arg0);                                                                                   \
		argv[0] = (char *)(arg0);                                                                              \
		for (size_t i_ = 1; i_ <= n_; i_++)                                                                    \
			argv[i_] = va_arg(ap_, char *); /* the last: the NULL */                                       \
		if (with_env)                                                                                          \
			envp = va_arg(ap_, char *const *);                                                             \
		va_end(ap_);                                                                                           \
		argv[n_] = NULL;                                                                                       \
		(void)envp;                                                                                            \
		return call;                                                                                           \
	} while (0)

EXPORT int execl(const char *path, const char *arg0, ...)
{
	LIST_CALL(arg0, false, execv(path, argv));
}

EXPORT int execlp(const char *file, const char *arg0, ...)
{
	LIST_CALL(arg0, false, execvp(file, argv));
}

EXPORT int execle(const char *path, const char *arg0, ...)
{
	LIST_CALL(arg0, true, execve(path, argv, envp));
}

/* posix_spawn: the child execs from inside libc (no exec of ours runs),
 * with the environment given: the traced one instead, so that a child
 * spawned with an environment of its own (without the agent) is followed
 * too.  The parent goes on tracing: no flush, nothing paused. */
typedef int (*spawn_t)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
		       char *const[], char *const[]);

static int spawn_traced(const char *name, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	static char *const none[] = { NULL };
	spawn_t real = (spawn_t)dlsym(RTLD_NEXT, name);
	void *block;
	size_t len = 0;
	int r;

	if (!real)
		return ENOSYS;
	/* (NULL: an empty environment, as execve makes of it) */
	r = real(pid, path, fa, attr, argv, traced_env(envp ? envp : none, &block, &len));
	if (block)
		munmap(block, len);
	return r;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn_traced("posix_spawn", pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn_traced("posix_spawnp", pid, file, fa, attr, argv, envp);
}

/* _exit: the trace written first (a forked child's work is commonly ended
 * so), then what _exit does, directly (no lookup: it may be called from a
 * signal handler). */
EXPORT void _exit(int status)
{
	agent_on_exit_now();
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status)
{
	_exit(status);
}
