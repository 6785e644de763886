/* Reading "key=value" files (see kvfile.h). */
#include "base/kvfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kvfile_read(const char *path, void (*cb)(const char *key, const char *value, void *ctx), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) { /* any length: a value is a list of globs */
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		cb(line, eq + 1, ctx);
	}
	free(line);
	fclose(f);
	return 0;
}
