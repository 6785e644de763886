/* The record configuration: DIR/config, "key=value" lines written by
 * `poketrace record`. */
#include <errno.h>
#include <stddef.h>
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

/* The glob lists, by their key. */
static const struct {
	const char *key;
	size_t off;
} lists[] = {
	{ "filter", offsetof(struct agent_config, filter) },   { "notrace", offsetof(struct agent_config, notrace) },
	{ "modules", offsetof(struct agent_config, modules) }, { "args", offsetof(struct agent_config, args) },
	{ "rets", offsetof(struct agent_config, rets) },       { "focus", offsetof(struct agent_config, focus) },
	{ "hide_tree", offsetof(struct agent_config, hide_tree) }, { "hide", offsetof(struct agent_config, hide) },
	{ "caller", offsetof(struct agent_config, caller) }, { "patch", offsetof(struct agent_config, patch) },
};

static char **list_at(struct agent_config *c, size_t i)
{
	return (char **)((char *)c + lists[i].off);
}

static void set(const char *key, const char *v, void *ctx)
{
	struct agent_config *c = ctx;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (!strcmp(key, lists[i].key)) {
			set_list(list_at(c, i), v);
			return;
		}
	}
	if (!strcmp(key, "mode"))
		c->mode = !strcmp(v, "function") ? TRACER_FUNCTION : !strcmp(v, "profile") ? TRACER_PROFILE : TRACER_GRAPH;
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
	else if (!strcmp(key, "summary"))
		c->defer_warnings = !strcmp(v, "record") || !strcmp(v, "attach");
	else if (!strcmp(key, "follow"))
		c->follow = atoi(v) != 0;
	else if (!strcmp(key, "libcall"))
		c->libcall = atoi(v);
	else if (!strcmp(key, "max_size"))
		c->max_size = strtoull(v, NULL, 10);
}

int agent_config_read(const char *dir, struct agent_config *c)
{
	char path[4200];
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(c->out, sizeof(c->out), "%s", dir);
	c->follow = true;
	c->mode = TRACER_GRAPH;
	c->chunk_size = 64 * 1024;
	c->nchunks = 4;
	c->buffer_max = AGENT_BUFFER_MAX;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		set_list(list_at(c, i), "");
		if (!*list_at(c, i))
			return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/poketrace/config", dir);
	if ((r = kvfile_read(path, set, c)) < 0)
		return r;
	if (c->chunk_size < 4096 || c->nchunks < 2)
		return -EINVAL;
	return 0;
}
