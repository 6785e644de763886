/* Functions of many prototypes for the link and ops tests (built with clang
 * -fpatchable-function-entry=5 -g, so their DWARF prototypes are known). */
#ifndef PT_TEST_HOOKFNS_H
#define PT_TEST_HOOKFNS_H

struct small { long a, b; };         /* 16 bytes: in registers */
struct big { long a, b, c; };        /* 24 bytes: on the stack */

int h0(void);
long h1(long a);
long h2(long a, long b);
long h6(long a, long b, long c, long d, long e, long f);
long h8(long a, long b, long c, long d, long e, long f, long g, long h);
double hd(double x, float y);
double hmix(int a, double b, long c, double d);
long hs(struct small s, long k);
long hbig(struct big b, long k);
long hv(int n, ...);
long hsleep(long ms);
long hrec(long n);
long horder(long x);
extern volatile int hsleep_inside;
extern int order_log[32], order_n;

extern void *orig_h8, *orig_hs, *orig_hd, *orig_h0;
long r_h8(long a, long b, long c, long d, long e, long f, long g, long h);
long r_hs(struct small s, long k);
double r_hd(double x, float y);
int r_h0(void);

/* The same shapes without debug information (prototype unknown). */
long nd2(long a, long b);
long nd8(long a, long b, long c, long d, long e, long f, long g, long h);
long ndv(int n, ...);

#endif
