/* Reading "key=value" files (see kvfile.h). */
#include "base/kvfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int kvfile_read(const char *path, void (*cb)(const char *key, const char *value, void *ctx), void *ctx)
{
	char line[4096];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		cb(line, eq + 1, ctx);
	}
	fclose(f);
	return 0;
}
