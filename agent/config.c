/* The record configuration: DIR/config, "key=value" lines written by
 * `poketrace record`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

int agent_config_read(const char *dir, struct agent_config *c)
{
	char path[4200], line[2048];
	FILE *f;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->mode = TRACER_GRAPH;
	c->chunk_size = 64 * 1024;
	c->nchunks = 4;
	snprintf(path, sizeof(path), "%s/poketrace/config", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *v;

		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "mode"))
			c->mode = !strcmp(v, "function") ? TRACER_FUNCTION
				  : !strcmp(v, "profile") ? TRACER_PROFILE : TRACER_GRAPH;
		else if (!strcmp(line, "filter"))
			snprintf(c->filter, sizeof(c->filter), "%s", v);
		else if (!strcmp(line, "notrace"))
			snprintf(c->notrace, sizeof(c->notrace), "%s", v);
		else if (!strcmp(line, "args"))
			snprintf(c->args, sizeof(c->args), "%s", v);
		else if (!strcmp(line, "rets"))
			snprintf(c->rets, sizeof(c->rets), "%s", v);
		else if (!strcmp(line, "modules"))
			snprintf(c->modules, sizeof(c->modules), "%s", v);
		else if (!strcmp(line, "depth"))
			c->max_depth = atoi(v);
		else if (!strcmp(line, "time_ns"))
			c->min_time_ns = strtoull(v, NULL, 10);
		else if (!strcmp(line, "chunk_size"))
			c->chunk_size = strtoull(v, NULL, 10);
		else if (!strcmp(line, "chunks"))
			c->nchunks = atoi(v);
	}
	fclose(f);
	if (c->chunk_size < 4096 || c->nchunks < 2)
		return -EINVAL;
	return 0;
}
