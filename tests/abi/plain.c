/* Runs a generated corpus (gen.c) and prints every function's results, for
 * a comparison of its output untraced and under `poketrace record`. */
#include <stdio.h>

#include "abi/corpus.h"

int main(void)
{
	abi_init();
	for (int i = 0; i < abi_nfns; i++) {
		unsigned long long seen, ret;

		abi_fns[i].call(&seen, &ret);
		printf("%s %016llx %016llx\n", abi_fns[i].name, seen, ret);
	}
	return 0;
}
