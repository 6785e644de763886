/* The state machine behind links and ops: what is attached to each hooked
 * site, and turning a set of changed sites into one batch. */
#ifndef PT_CORE_HOOKS_H
#define PT_CORE_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/proto.h"
#include "core/sites.h"
#include "poketrace.h"

/* Internal site flag: the site belongs to links/ops; poketrace_patch refuses it. */
#define SITE_HOOKED (1u << 9)

struct hook;

struct poketrace_link {
	enum poketrace_link_kind kind;
	void *handler, *data;
	int priority;
	unsigned flags;
	uint64_t seq;
	struct hook *hook;          /* NULL once detached or its module unloaded */
	struct poketrace_link *next;
	struct poketrace_fn fn;     /* strings below, owned by the link */
	char *symbol, *module;
	uintptr_t body;             /* the function as the original: site+5, or a relocated copy */
};

struct poketrace_ops {
	void (*fn)(struct poketrace_ctx *);
	void *data;
	uint64_t seq;
	char **filter, **modules, **notrace; /* NULL-terminated glob lists */
	bool relocate;              /* POKETRACE_OPS_RELOCATE */
	uintptr_t *sites;           /* sorted: the sites it is attached to */
	size_t nsites;
	struct poketrace_ops *next;
};

struct hook {
	uintptr_t site, func;
	uintptr_t body;             /* what calling the function runs: site+5, or its relocated copy */
	char *symbol, *module;
	uint64_t module_vaddr;      /* func's link-time address, for DWARF */
	struct pt_proto proto;
	bool proto_done;
	struct poketrace_link *links; /* by kind, priority, seq */
	struct poketrace_ops **ops;   /* by seq */
	size_t nops, capops;
	struct image *img;          /* what the site calls or jumps to, if generated */
	uint8_t written[5];         /* the site's bytes as poketrace left them */
	bool touched;
};

int hooks_init(void);
/* Drops the hooks of modules that were unloaded (call after engine_enter). */
void hooks_sync(void);
struct hook *hooks_get(uintptr_t site, bool create);
/* Rebuilds the images of the touched hooks and retargets them in one batch;
 * frees hooks left with nothing attached.  All or nothing. */
int hooks_apply(struct hook **touched, size_t n);
/* Drops a hook that got nothing attached (a failed attach). */
void hooks_drop_if_empty(struct hook *h);
/* Retires the shared trampolines of an unregistered ops. */
void hooks_forget_ops(struct poketrace_ops *ops);
uint64_t hooks_recursion_misses(void);

/* A dynamic array of touched hooks, each once. */
struct touched {
	struct hook **v;
	size_t n, cap;
};
int touched_add(struct touched *t, struct hook *h);
void touched_clear(struct touched *t);

#endif
