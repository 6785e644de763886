/* The exec and _exit functions, interposed: where a process image ends
 * without running atexit.  Before an exec the trace of this image is
 * written out (and tracing resumes if the exec fails: execvp tries PATH
 * entries one by one).  When
 * children are followed, the new image is made to load the agent even if
 * the caller built its environment without it (env -i, a daemon's clean
 * environment, attach, where the program never had it).
 *
 * Everything here may run in a vfork child, which borrows the parent's
 * memory and stack: no allocation, only the stack.  (posix_spawn and
 * system exec from inside libc, with the caller's environment: they are
 * followed when that environment has the agent, which it has unless the
 * program dropped it.) */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"

#define MAX_ENV 2048 /* larger environments are passed as they are */
#define EXPORT __attribute__((visibility("default")))

extern char **environ;

static const char *agent_file(void)
{
	Dl_info di;

	return dladdr((void *)agent_file, &di) && di.dli_fname ? di.dli_fname : NULL;
}

static bool has(char *const *env, const char *key, size_t n)
{
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, n))
			return true;
	return false;
}

/* The environment the new image gets: env itself, or, if it lacks the
 * agent's variables while children are followed, env with them, in out
 * (MAX_ENV + 4 pointers) with the strings in the three buffers. */
static char *const *traced_env(char *const *env, char **out, char *pre, size_t pre_cap, char *dir, size_t dir_cap)
{
	const char *agent = agent_file(), *old = "";
	size_t n = 0, k = 0;

	if (!agent_follows() || !agent || has(env, "POKETRACE_AGENT_DIR=", 20))
		return env;
	while (env && env[n])
		n++;
	if (n > MAX_ENV)
		return env;
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(env[i], "LD_PRELOAD=", 11))
			old = env[i] + 11;
		else if (strncmp(env[i], "POKETRACE_AGENT_CHILD=", 22))
			out[k++] = env[i];
	}
	/* none: what this image was loaded with (a sanitizer's runtime must
	 * still come before the agent) */
	if (!*old && getenv("LD_PRELOAD"))
		old = getenv("LD_PRELOAD");
	if (strstr(old, agent))
		agent = "";
	if ((size_t)snprintf(pre, pre_cap, "LD_PRELOAD=%s%s%s", old, *old && *agent ? ":" : "", agent) >= pre_cap ||
	    (size_t)snprintf(dir, dir_cap, "POKETRACE_AGENT_DIR=%s", agent_trace_dir()) >= dir_cap)
		return env;
	out[k++] = pre;
	out[k++] = dir;
	out[k++] = "POKETRACE_AGENT_CHILD=1";
	out[k] = NULL;
	return out;
}

/* The declarations a wrapper needs: the new environment's storage. */
#define ENV_STORAGE                                                                                                   \
	char *env_v[MAX_ENV + 4], env_pre[8192], env_dir[4200];                                                        \
	int r, err
#define TRACED_ENV(env) traced_env((env), env_v, env_pre, sizeof(env_pre), env_dir, sizeof(env_dir))

/* The real function, then the flush, the call, and tracing back if it failed. */
#define CALL_REAL(type, name, ...)                                                                                    \
	do {                                                                                                          \
		type real_ = (type)dlsym(RTLD_NEXT, name);                                                             \
		if (!real_) {                                                                                          \
			errno = ENOSYS;                                                                                \
			return -1;                                                                                     \
		}                                                                                                      \
		agent_before_exec();                                                                                   \
		r = real_(__VA_ARGS__);                                                                                \
		err = errno;                                                                                           \
		agent_exec_failed();                                                                                   \
		errno = err;                                                                                           \
		return r;                                                                                              \
	} while (0)

typedef int (*execve_t)(const char *, char *const[], char *const[]);
typedef int (*fexecve_t)(int, char *const[], char *const[]);
typedef int (*execveat_t)(int, const char *, char *const[], char *const[], int);

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	ENV_STORAGE;

	CALL_REAL(execve_t, "execve", path, argv, TRACED_ENV(envp));
}

EXPORT int execv(const char *path, char *const argv[])
{
	ENV_STORAGE;

	CALL_REAL(execve_t, "execve", path, argv, TRACED_ENV(environ));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	ENV_STORAGE;

	CALL_REAL(execve_t, "execvpe", file, argv, TRACED_ENV(envp));
}

EXPORT int execvp(const char *file, char *const argv[])
{
	ENV_STORAGE;

	CALL_REAL(execve_t, "execvpe", file, argv, TRACED_ENV(environ));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	ENV_STORAGE;

	CALL_REAL(fexecve_t, "fexecve", fd, argv, TRACED_ENV(envp));
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	ENV_STORAGE;

	CALL_REAL(execveat_t, "execveat", dirfd, path, argv, TRACED_ENV(envp), flags);
}

/* The list forms: their arguments into an array on the stack. */
static size_t count_args(const char *arg0, va_list ap)
{
	size_t n = 1;

	if (!arg0)
		return 0;
	while (va_arg(ap, const char *))
		n++;
	return n;
}

#define COLLECT(argv, n, arg0, ap)                                                                                    \
	do {                                                                                                          \
		(argv)[0] = (char *)(arg0);                                                                            \
		for (size_t i_ = 1; i_ < (n); i_++)                                                                   \
			(argv)[i_] = va_arg(ap, char *);                                                               \
	} while (0)

EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(arg0, ap);
	va_end(ap);
	{
		char *argv[n + 1];

		va_start(ap, arg0);
		COLLECT(argv, n, arg0, ap);
		va_end(ap);
		argv[n] = NULL;
		return execv(path, argv);
	}
}

EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(arg0, ap);
	va_end(ap);
	{
		char *argv[n + 1];

		va_start(ap, arg0);
		COLLECT(argv, n, arg0, ap);
		va_end(ap);
		argv[n] = NULL;
		return execvp(file, argv);
	}
}

EXPORT int execle(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(arg0, ap);
	va_end(ap);
	{
		char *argv[n + 1], *const *envp;

		va_start(ap, arg0);
		COLLECT(argv, n, arg0, ap);
		if (n)
			(void)va_arg(ap, char *); /* the NULL after the arguments */
		envp = va_arg(ap, char *const *);
		va_end(ap);
		argv[n] = NULL;
		return execve(path, argv, envp);
	}
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
