/* The interface between a generated corpus (gen.c) and its runners: plain
 * C types only, so that the runner's compiler and flags do not matter. */
#ifndef PT_TEST_ABI_CORPUS_H
#define PT_TEST_ABI_CORPUS_H

#define ABI_MAX_FNS 4096

#ifdef __cplusplus
extern "C" {
#endif

struct abi_fn {
	const char *name;
	/* calls the function once: *seen what it folded its arguments into,
	 * *ret the fold of what it returned */
	void (*call)(unsigned long long *seen, unsigned long long *ret);
	void *typed;  /* a handler with the function's prototype: folds into abi_typed_seen */
	void *repl;   /* a replacement calling abi_orig[i] (NULL for variadic functions) */
	int global;   /* external linkage: no compiler may have changed its ABI */
	int varargs;
};

extern const struct abi_fn abi_fns[];
extern const int abi_nfns;
extern void *abi_orig[ABI_MAX_FNS];
extern volatile unsigned long long abi_seen, abi_typed_seen;
extern unsigned long abi_repl_hits;
void abi_init(void);

#ifdef __cplusplus
}
#endif
#endif
