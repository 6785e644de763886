/* poketrace graph and dump --flame: calls aggregated by call path, all
 * threads merged, in a tree of paths (pathtree.h): memory grows with the
 * number of distinct paths, not of calls. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/names.h"
#include "cli/pathtree.h"
#include "cli/readcmd.h"

struct paths {
	struct ptree tree;
	const bool *target;     /* graph FUNCTION: its ids (NULL: every call) */
	bool oom;
};

static void enter(void *arg, struct cthread *th, struct cframe *f, const struct rd_event *e)
{
	struct paths *p = arg;
	struct cframe *up = calls_shown_parent(th, f);
	uint32_t parent = up ? up->node : PATH_ROOT;

	(void)e;
	/* graph FUNCTION: only what runs below a call of it; calls of it not
	 * below another one are merged at the top */
	if (p->target && (parent == PATH_ROOT || parent == PATH_NONE)) {
		if (!p->target[f->fn]) {
			f->node = PATH_NONE;
			return;
		}
		parent = PATH_ROOT;
	}
	if (parent == PATH_NONE) {
		f->node = PATH_NONE;
		return;
	}
	f->node = ptree_child(&p->tree, parent, f->fn);
	p->oom |= f->node == PATH_NONE;
}

static void leave(void *arg, struct cthread *th, struct cframe *f, uint64_t end, enum cut cut,
		  const struct rd_event *exit)
{
	struct paths *p = arg;
	struct pnode *n;
	uint64_t d = end - f->start;

	(void)th;
	(void)exit;
	if (f->node == PATH_NONE)
		return;
	n = &p->tree.v[f->node];
	if (cut) {
		n->cut++;
		return;
	}
	n->calls++;
	n->total += d;
	n->self += d > f->child ? d - f->child : 0;
}

/* Streams read in parallel: a tree per thread, added into the first one
 * node by node (a node is made after its parent: ids grow from the root). */
static void *paths_part(void *arg)
{
	const struct paths *base = arg;
	struct paths *p = calloc(1, sizeof(*p));

	if (p && ptree_init(&p->tree) < 0) {
		free(p);
		return NULL;
	}
	if (p)
		p->target = base->target;
	return p;
}

static void paths_merge(void *arg, void *part)
{
	struct paths *to = arg, *from = part;
	uint32_t *map = malloc((from->tree.n ? from->tree.n : 1) * sizeof(*map));

	to->oom |= from->oom || !map;
	for (uint32_t i = 0; map && i < from->tree.n; i++) {
		const struct pnode *b = &from->tree.v[i];
		struct pnode *a;

		map[i] = i == PATH_ROOT ? PATH_ROOT
			 : map[b->parent] == PATH_NONE ? PATH_NONE
						       : ptree_child(&to->tree, map[b->parent], b->fn);
		if (map[i] == PATH_NONE) {
			to->oom = true;
			continue;
		}
		a = &to->tree.v[map[i]];
		a->calls += b->calls;
		a->cut += b->cut;
		a->total += b->total;
		a->self += b->self;
	}
	free(map);
	ptree_free(&from->tree);
	free(from);
}

static int collect(struct readopts *o, struct trace *t, struct paths *p, struct read_totals *tot)
{
	static const struct read_split split = { paths_part, paths_merge };
	struct calls_cfg cc;

	if (ptree_init(&p->tree) < 0) {
		cli_error("out of memory");
		return -1;
	}
	readopts_calls(o, &cc);
	cc.arg = p;
	cc.enter = enter;
	cc.leave = leave;
	read_streams(t, o, &cc, tot, &split);
	if (p->oom)
		cli_error("out of memory: some call paths are missing");
	return 0;
}

/* ------------------------------------------------------------------ graph */

static int heaviest_first(const struct ptree *p, uint32_t a, uint32_t b, const void *arg)
{
	const struct pnode *x = &p->v[a], *y = &p->v[b];

	(void)arg;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return (x->fn > y->fn) - (x->fn < y->fn);
}

struct level {
	uint32_t *kids, n, i;
};

/* Depth first with a stack of its own: paths may be thousands deep.  The
 * margin holds "| " or "  " per level above the node being printed. */
static void print_graph(const struct trace *t, const struct ptree *p)
{
	struct level *st = malloc(64 * sizeof(*st));
	size_t depth = 1, cap = 64, mcap = 0;
	char *margin = NULL, b[32];

	if (!st)
		return;
	st[0].kids = ptree_children(p, PATH_ROOT, &st[0].n, heaviest_first, NULL);
	st[0].i = 0;
	while (depth) {
		struct level *l = &st[depth - 1];
		const struct pnode *n;
		size_t lv = depth - 1; /* 0: a root */
		uint32_t node;
		bool last;

		if (l->i == l->n) {
			free(l->kids);
			depth--;
			continue;
		}
		node = l->kids[l->i++];
		n = &p->v[node];
		last = l->i == l->n;
		if (2 * lv + 2 > mcap && !(margin = realloc(margin, mcap = 4 * lv + 64)))
			break;
		printf("  %s : %.*s%s", format_time(b, 32, trace_ns(t, n->total)), lv ? (int)(2 * (lv - 1)) : 0, margin,
		       lv ? (last ? "`-" : "+-") : "");
		if (n->cut)
			printf("(%llu, %llu cut) %s\n", (unsigned long long)n->calls, (unsigned long long)n->cut,
			       trace_fn_name(t, n->fn));
		else
			printf("(%llu) %s\n", (unsigned long long)n->calls, trace_fn_name(t, n->fn));
		if (lv)
			memcpy(margin + 2 * (lv - 1), last ? "  " : "| ", 2);
		if (depth == cap) {
			struct level *nv = realloc(st, (cap *= 2) * sizeof(*st));

			if (!nv)
				break;
			st = nv;
		}
		st[depth].kids = ptree_children(p, node, &st[depth].n, heaviest_first, NULL);
		st[depth].i = 0;
		depth++;
	}
	while (depth)
		free(st[--depth].kids);
	free(st);
	free(margin);
}

static const char usage_graph[] =
	"usage: poketrace graph [OPTIONS] [DIR [FUNCTION]]\n"
	"\n"
	"The call tree with total time and calls per call path, all threads merged;\n"
	"with FUNCTION (mangled, full or simple name, or a glob), the trees below every\n"
	"call of it, merged.  Calls cut by a gap or the end of the trace are counted\n"
	"apart: '(12, 1 cut)'.  Needs a trace of the graph tracer.\n"
	"\n"
	READ_USAGE;

int cmd_graph(int argc, char **argv)
{
	static const struct option longopts[] = { READ_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct readopts o;
	struct trace t;
	struct paths p = { 0 };
	struct read_totals tot = { 0 };
	const char *func = NULL;
	bool *target = NULL, any = false;
	int c, r;

	readopts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, READ_SHORTOPTS, longopts, NULL)) != -1) {
		if ((r = readopts_option(&o, c, optarg, usage_graph)) < 0)
			return EXIT_USAGE;
		if (!r) {
			fputs(usage_graph, stderr);
			return EXIT_USAGE;
		}
	}
	if (readopts_args(&o, argc, argv, &func, usage_graph) < 0)
		return EXIT_USAGE;
	if ((r = readopts_open(&o, &t)) != 0)
		return r < 0 ? 1 : EXIT_USAGE;
	if (strcmp(t.tracer, "graph") && t.tracer[0]) {
		cli_error("%s was recorded with the %s tracer; graph needs --tracer graph", o.dir, t.tracer);
		trace_close(&t);
		return 1;
	}
	if (func) {
		target = calloc(t.nfuncs ? t.nfuncs : 1, sizeof(*target));
		for (uint32_t i = 0; target && i < t.nfuncs; i++)
			any |= target[i] = names_match_in(t.funcs[i].name, t.funcs[i].module, func);
		if (!any) {
			cli_error("no function '%s' in %s/poketrace/functions", func, o.dir);
			free(target);
			trace_close(&t);
			return 1;
		}
		p.target = target;
	}
	if (collect(&o, &t, &p, &tot) == 0) {
		printf("# Function Call Graph: total time and (calls) per call path\n");
		print_graph(&t, &p.tree);
		read_say_cut(stdout, &tot);
		ptree_free(&p.tree);
	}
	free(target);
	trace_close(&t);
	return readopts_status(&t);
}

/* ------------------------------------------------------------------ flame */

static int by_name(const struct ptree *p, uint32_t a, uint32_t b, const void *arg)
{
	const struct trace *t = arg;

	int c = strcmp(trace_fn_name(t, p->v[a].fn), trace_fn_name(t, p->v[b].fn));

	return c ? c : (p->v[a].fn > p->v[b].fn) - (p->v[a].fn < p->v[b].fn);
}

/* "a;b;c SELF_NS" for every path with calls not cut, depth first; plen[k]
 * is the length of the path down to level k. */
static void print_folded(const struct trace *t, const struct ptree *p)
{
	size_t depth = 1, cap = 64, len = 0, pcap = 256;
	struct level *st = malloc(cap * sizeof(*st));
	size_t *plen = malloc(cap * sizeof(*plen));
	char *path = malloc(pcap);

	if (!st || !plen || !path)
		goto out;
	st[0].kids = ptree_children(p, PATH_ROOT, &st[0].n, by_name, t);
	st[0].i = 0;
	plen[0] = 0;
	while (depth) {
		struct level *l = &st[depth - 1];
		const char *name;
		uint32_t node;
		size_t nl;

		if (l->i == l->n) {
			free(l->kids);
			depth--;
			continue;
		}
		node = l->kids[l->i++];
		name = trace_fn_name(t, p->v[node].fn);
		nl = strlen(name);
		len = plen[depth - 1];
		if (len + nl + 2 > pcap) {
			char *np = realloc(path, pcap = (len + nl + 2) * 2);

			if (!np)
				break;
			path = np;
		}
		if (len)
			path[len++] = ';';
		memcpy(path + len, name, nl);
		len += nl;
		path[len] = '\0';
		if (p->v[node].calls)
			printf("%s %.0f\n", path, trace_ns(t, p->v[node].self));
		if (depth == cap) {
			struct level *ns = realloc(st, cap * 2 * sizeof(*st));
			size_t *nl2 = ns ? realloc(plen, cap * 2 * sizeof(*plen)) : NULL;

			if (ns)
				st = ns;
			if (!ns || !nl2)
				break;
			plen = nl2;
			cap *= 2;
		}
		st[depth].kids = ptree_children(p, node, &st[depth].n, by_name, t);
		st[depth].i = 0;
		plen[depth] = len;
		depth++;
	}
	while (depth)
		free(st[--depth].kids);
out:
	free(st);
	free(plen);
	free(path);
}

int dump_flame(struct readopts *o, struct trace *t)
{
	struct paths p = { 0 };
	struct read_totals tot = { 0 };

	if (collect(o, t, &p, &tot) < 0)
		return -1;
	print_folded(t, &p.tree);
	if (tot.cut || tot.gaps)
		read_say_cut(stderr, &tot);
	ptree_free(&p.tree);
	return 0;
}
