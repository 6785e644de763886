/* Modules dlopen'ed while tracing: the agent interposes dlopen, and after
 * each successful load traces the new module's functions that match the
 * filters (one batch).  glibc's dlopen searches the *caller's* RUNPATH and
 * expands $ORIGIN relative to the caller; called from here, it would use
 * the agent's.  So a bare name is first looked up in the calling module's
 * DT_RUNPATH (or DT_RPATH), as glibc would, and opened by its path. */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"

#define PT_EXPORT __attribute__((visibility("default")))

static void *(*real_dlopen)(const char *, int);

static const char *dyn_string(const struct link_map *lm, Elf64_Sxword tag)
{
	const char *strtab = NULL;
	Elf64_Xword off = (Elf64_Xword)-1;

	for (const ElfW(Dyn) *d = lm->l_ld; d && d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_STRTAB)
			strtab = (const char *)d->d_un.d_ptr;
		else if (d->d_tag == tag)
			off = d->d_un.d_val;
	}
	return strtab && off != (Elf64_Xword)-1 ? strtab + off : NULL;
}

/* Finds file in the caller's search path; out gets the full path. */
static bool caller_path(const void *caller, const char *file, char *out, size_t cap)
{
	struct link_map *lm = NULL;
	Dl_info info;
	const char *path;
	char origin[PATH_MAX];

	if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false;
	path = dyn_string(lm, DT_RUNPATH);
	if (!path)
		path = dyn_string(lm, DT_RPATH);
	if (!path)
		return false;
	snprintf(origin, sizeof(origin), "%s", lm->l_name[0] ? lm->l_name : "/proc/self/exe");
	if (!lm->l_name[0]) {
		ssize_t n = readlink("/proc/self/exe", origin, sizeof(origin) - 1);

		origin[n > 0 ? n : 0] = '\0';
	}
	if (strrchr(origin, '/'))
		*strrchr(origin, '/') = '\0';
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		char dir[PATH_MAX];
		int n;

		snprintf(dir, sizeof(dir), "%.*s", (int)len, p);
		if (!strncmp(dir, "$ORIGIN", 7) || !strncmp(dir, "${ORIGIN}", 9))
			n = snprintf(out, cap, "%s%s/%s", origin, dir + (dir[1] == '{' ? 9 : 7), file);
		else
			n = snprintf(out, cap, "%s/%s", dir, file);
		if (n > 0 && (size_t)n < cap && access(out, R_OK) == 0)
			return true;
		p += len + (p[len] == ':');
	}
	return false;
}

PT_EXPORT void *dlopen(const char *file, int mode)
{
	const void *caller = __builtin_return_address(0);
	char full[PATH_MAX];
	void *h;

	if (!real_dlopen)
		real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	if (file && !strchr(file, '/') && caller_path(caller, file, full, sizeof(full)))
		file = full;
	h = real_dlopen(file, mode);
	if (h)
		agent_module_loaded();
	return h;
}
