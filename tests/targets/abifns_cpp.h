#ifndef PT_TEST_ABIFNS_CPP_H
#define PT_TEST_ABIFNS_CPP_H

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

/* non-trivially copyable: passed by invisible reference */
struct NT {
	long v;
	NT(long x) : v(x) {}
	NT(const NT &o) : v(o.v) {}
	~NT() {}
};

/* like leveldb::Status: 8 bytes, a non-trivial destructor: returned
 * through a hidden pointer in rdi */
struct Status {
	const char *s;
	Status() : s(nullptr) {}
	Status(const Status &o) : s(o.s ? strdup(o.s) : nullptr) {}
	~Status() { free((void *)s); }
};

struct A {
	long v, w;
	long get() { return v; }
};

long by_string(std::string s, long k);
std::unique_ptr<long> make_up(long a, long b);
long by_nt(NT a, long b, long c);
Status get_status(int a, int b, int *out);
long np_f(std::nullptr_t, long a, long b);
long call_pmf(A *a, long (A::*m)(), long k);
long call_pmd(A *a, long A::*m, long k);

#endif
