/* The record configuration: DIR/config, "key=value" lines written by
 * `poketrace record`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "base/kvfile.h"

static void set_list(char **dst, const char *v)
{
	char *n = strdup(v);

	if (n) {
		free(*dst);
		*dst = n;
	}
}

static void set(const char *key, const char *v, void *ctx)
{
	struct agent_config *c = ctx;

	if (!strcmp(key, "mode"))
		c->mode = !strcmp(v, "function") ? TRACER_FUNCTION : !strcmp(v, "profile") ? TRACER_PROFILE : TRACER_GRAPH;
	else if (!strcmp(key, "filter"))
		set_list(&c->filter, v);
	else if (!strcmp(key, "notrace"))
		set_list(&c->notrace, v);
	else if (!strcmp(key, "args"))
		set_list(&c->args, v);
	else if (!strcmp(key, "rets"))
		set_list(&c->rets, v);
	else if (!strcmp(key, "focus"))
		set_list(&c->focus, v);
	else if (!strcmp(key, "hide_tree"))
		set_list(&c->hide_tree, v);
	else if (!strcmp(key, "hide"))
		set_list(&c->hide, v);
	else if (!strcmp(key, "modules"))
		set_list(&c->modules, v);
	else if (!strcmp(key, "depth"))
		c->max_depth = atoi(v);
	else if (!strcmp(key, "time_ns"))
		c->min_time_ns = strtoull(v, NULL, 10);
	else if (!strcmp(key, "chunk_size"))
		c->chunk_size = strtoull(v, NULL, 10);
	else if (!strcmp(key, "chunks"))
		c->nchunks = atoi(v);
	else if (!strcmp(key, "buffer_max"))
		c->buffer_max = strtoull(v, NULL, 10);
	else if (!strcmp(key, "on_full"))
		c->drop = !strcmp(v, "drop");
	else if (!strcmp(key, "paused"))
		c->paused = atoi(v) != 0;
}

int agent_config_read(const char *dir, struct agent_config *c)
{
	char path[4200];
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->mode = TRACER_GRAPH;
	c->chunk_size = 64 * 1024;
	c->nchunks = 4;
	c->buffer_max = AGENT_BUFFER_MAX;
	set_list(&c->filter, "");
	set_list(&c->notrace, "");
	set_list(&c->modules, "");
	set_list(&c->args, "");
	set_list(&c->rets, "");
	set_list(&c->focus, "");
	set_list(&c->hide_tree, "");
	set_list(&c->hide, "");
	if (!c->filter || !c->notrace || !c->modules || !c->args || !c->rets || !c->focus || !c->hide_tree ||
	    !c->hide)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/poketrace/config", dir);
	if ((r = kvfile_read(path, set, c)) < 0)
		return r;
	if (c->chunk_size < 4096 || c->nchunks < 2)
		return -EINVAL;
	return 0;
}
