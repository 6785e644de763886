/* Call paths (graph, flame): a tree with one node per distinct path from a
 * root, found by a hash of (parent, function).  Memory: one node per path,
 * never per call. */
#ifndef PT_CLI_PATHTREE_H
#define PT_CLI_PATHTREE_H

#include <stdint.h>

#define PATH_NONE UINT32_MAX
#define PATH_ROOT 0

struct pnode {
	uint32_t fn, parent, child, next;   /* first child, next sibling */
	uint64_t calls, cut, total, self;   /* total, self: cycles of the calls not cut */
};

struct ptree {
	struct pnode *v;
	uint32_t n, cap;
	uint32_t *hash, hcap;
};

int ptree_init(struct ptree *p);
void ptree_free(struct ptree *p);
/* The node of fn called from parent, made if new; PATH_NONE if out of memory. */
uint32_t ptree_child(struct ptree *p, uint32_t parent, uint32_t fn);
/* parent's children in an array (malloc'ed, *n of them), sorted by cmp. */
uint32_t *ptree_children(const struct ptree *p, uint32_t parent, uint32_t *n,
			 int (*cmp)(const struct ptree *, uint32_t, uint32_t, const void *), const void *arg);

#endif
