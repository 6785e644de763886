/* The tracer's control for code inside a traced process.  The tracer lives
 * in poketrace's agent (loaded by poketrace record or attach), not in this
 * library: the request is handed to the agent found among the loaded
 * modules, as the control socket would hand it. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "poketrace.h"

#define AGENT_FILE "libpoketrace-agent.so"

static int find_agent(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *name = info->dlpi_name, *base = strrchr(name, '/');

	(void)size;
	if (strcmp(base ? base + 1 : name, AGENT_FILE))
		return 0;
	snprintf(arg, 4096, "%s", name);
	return 1;
}

POKETRACE_API int poketrace_tracer_control(const char *request, char *answer, size_t cap)
{
	int (*agent_request)(const char *, char *, size_t);
	char path[4096] = "";
	void *h;
	int r;

	if (!request || (cap && !answer))
		return pt_error(EINVAL, "poketrace_tracer_control: no request, or no room for the answer");
	if (cap)
		answer[0] = '\0';
	/* loaded without RTLD_GLOBAL by attach: looked up by file, not by name */
	if (!dl_iterate_phdr(find_agent, path) || !(h = dlopen(path, RTLD_NOW | RTLD_NOLOAD)))
		return pt_error(ENOENT, "no poketrace tracer in this process: run it with 'poketrace record', "
				"or 'poketrace attach' to it");
	agent_request = (int (*)(const char *, char *, size_t))dlsym(h, "poketrace_agent_request");
	r = agent_request ? agent_request(request, answer, cap) : -ENOSYS;
	dlclose(h);
	if (r == -ENOENT)
		return pt_error(ENOENT, "the tracer in this process is stopped (detached)");
	if (r < 0) {
		const char *m = cap ? strstr(answer, "error: ") : NULL;

		return m ? pt_error(-r, "%.*s", (int)strcspn(m + 7, "\n"), m + 7)
			 : pt_error(-r, "the tracer refused the request");
	}
	return 0;
}
