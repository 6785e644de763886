/* Functions built with patch sites (flavor chosen by the Makefile). */
#ifndef PT_TEST_FUNCS_H
#define PT_TEST_FUNCS_H

int tgt_add(int a, int b);
long tgt_mul(long a, long b);
int tgt_void(void);
double tgt_double(double x);
int (*tgt_static_ptr(void))(int);
int tgt_nosite(int x);

/* libt_shared.so (clang -fpatchable-function-entry=5), linked at start. */
int shared_fn(int x);
int shared_fn2(int x);

#endif
