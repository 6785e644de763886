/* The call-path tree (see pathtree.h). */
#include "cli/pathtree.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_of(uint32_t parent, uint32_t fn, uint32_t cap)
{
	uint64_t k = ((uint64_t)parent << 32 | fn) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(k >> 32) & (cap - 1);
}

int ptree_init(struct ptree *p)
{
	memset(p, 0, sizeof(*p));
	p->cap = 1024;
	p->hcap = 2048;
	p->v = malloc(p->cap * sizeof(*p->v));
	p->hash = calloc(p->hcap, sizeof(*p->hash));
	if (!p->v || !p->hash) {
		ptree_free(p);
		return -1;
	}
	memset(&p->v[0], 0, sizeof(p->v[0]));
	p->v[0].parent = p->v[0].child = p->v[0].next = PATH_NONE;
	p->n = 1;
	return 0;
}

void ptree_free(struct ptree *p)
{
	free(p->v);
	free(p->hash);
	memset(p, 0, sizeof(*p));
}

static int grow_hash(struct ptree *p)
{
	uint32_t cap = p->hcap * 2, *h = calloc(cap, sizeof(*h));

	if (!h)
		return -1;
	for (uint32_t i = 1; i < p->n; i++) {
		uint32_t j = hash_of(p->v[i].parent, p->v[i].fn, cap);

		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = i;
	}
	free(p->hash);
	p->hash = h;
	p->hcap = cap;
	return 0;
}

uint32_t ptree_child(struct ptree *p, uint32_t parent, uint32_t fn)
{
	uint32_t j = hash_of(parent, fn, p->hcap), i;
	struct pnode *n;

	for (; (i = p->hash[j]); j = (j + 1) & (p->hcap - 1))
		if (p->v[i].parent == parent && p->v[i].fn == fn)
			return i;
	if (p->n == p->cap) {
		struct pnode *nv = realloc(p->v, (size_t)p->cap * 2 * sizeof(*nv));

		if (!nv)
			return PATH_NONE;
		p->v = nv;
		p->cap *= 2;
	}
	i = p->n++;
	n = &p->v[i];
	memset(n, 0, sizeof(*n));
	n->fn = fn;
	n->parent = parent;
	n->child = PATH_NONE;
	n->next = p->v[parent].child;
	p->v[parent].child = i;
	p->hash[j] = i;
	if ((uint64_t)p->n * 2 > p->hcap && grow_hash(p) < 0)
		return PATH_NONE;
	return i;
}

static const struct ptree *sort_tree;
static const void *sort_arg;
static int (*sort_cmp)(const struct ptree *, uint32_t, uint32_t, const void *);

static int by_cmp(const void *a, const void *b)
{
	return sort_cmp(sort_tree, *(const uint32_t *)a, *(const uint32_t *)b, sort_arg);
}

uint32_t *ptree_children(const struct ptree *p, uint32_t parent, uint32_t *n,
			 int (*cmp)(const struct ptree *, uint32_t, uint32_t, const void *), const void *arg)
{
	uint32_t k = 0, *v;

	for (uint32_t c = p->v[parent].child; c != PATH_NONE; c = p->v[c].next)
		k++;
	v = malloc((k ? k : 1) * sizeof(*v));
	if (!v) {
		*n = 0;
		return NULL;
	}
	k = 0;
	for (uint32_t c = p->v[parent].child; c != PATH_NONE; c = p->v[c].next)
		v[k++] = c;
	sort_tree = p;
	sort_cmp = cmp;
	sort_arg = arg;
	qsort(v, k, sizeof(*v), by_cmp);
	*n = k;
	return v;
}
