/* Fault injection for tests: every system call a commit makes that can fail
 * asks pt_fault() first, and fails with the errno it returns (0: go on).
 * Unset (NULL) outside the tests; one load and a branch per call. */
#ifndef PT_BASE_FAULT_H
#define PT_BASE_FAULT_H

/* what: "mprotect", "pwrite", "open", "membarrier", "signal", "maps", "alloc" */
extern int (*pt_fault_hook)(const char *what);

static inline int pt_fault(const char *what)
{
	return pt_fault_hook ? pt_fault_hook(what) : 0;
}

#endif
