/* gcc -fpatchable-function-entry=M,N: N of the M nops before the entry.
 * Built with gcc (the attribute sets M,N per function). */
#define NI __attribute__((noinline))
static volatile int one = 1;

NI __attribute__((patchable_function_entry(7, 2))) int pre72(int x) { return x * one + 1; }
NI __attribute__((patchable_function_entry(8, 3))) int pre83(int x) { return x * one + 2; }
NI __attribute__((patchable_function_entry(5, 1))) int pre51(int x) { return x * one + 3; }
