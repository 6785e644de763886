/* The control socket's place (see ctlpath.h). */
#include "base/ctlpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int control_socket_path(long pid, char *out, size_t cap, bool create_dir)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[256];
	struct stat st;

	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%.200s/poketrace", xdg);
	else
		snprintf(dir, sizeof(dir), "/tmp/poketrace-%u", (unsigned)getuid());
	if (create_dir && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* never a directory someone else owns or can enter */
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return -EPERM;
	if ((size_t)snprintf(out, cap, "%s/%ld.sock", dir, pid) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int attach_request_path(long pid, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "/tmp/poketrace-attach-%u-%ld", (unsigned)getuid(), pid) >= cap)
		return -ENAMETOOLONG;
	return 0;
}
