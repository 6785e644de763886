/* A C++ program that crashed under `poketrace record` (issue 12), g++ -O2
 * -g: Status is returned through a hidden pointer (non-trivial destructor),
 * std::string is passed by invisible reference. */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

struct Status { /* like leveldb::Status */
	const char *s;
	Status() : s(nullptr) {}
	Status(const Status &o) : s(o.s ? strdup(o.s) : nullptr) {}
	~Status() { free((void *)s); }
};

__attribute__((noinline)) Status get(int a, int b, int *out)
{
	*out = a + b;
	return Status();
}

__attribute__((noinline)) long byval(std::string s, long x)
{
	return (long)s.size() + x;
}

int main()
{
	int r = 0;
	long t = 0;

	for (int i = 0; i < 100; i++) {
		Status st = get(i, 1, &r);

		t += r;
		t += byval(std::string("hello"), i);
	}
	printf("t=%ld\n", t);
	return 0;
}
