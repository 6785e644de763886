/* A minimal test harness: each binary holds named cases; `BIN --list` names
 * them and `BIN CASE` runs one in this process (tests/run.sh runs each in a
 * process of its own).  A case passes by returning; CHECK exits non-zero. */
#ifndef PT_TEST_HARNESS_H
#define PT_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poketrace.h"

#define CHECK(cond, ...)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__,     \
				__LINE__, #cond);                                   \
			fprintf(stderr, __VA_ARGS__);                               \
			fprintf(stderr, "\n");                                      \
			exit(1);                                                    \
		}                                                                   \
	} while (0)

/* A poketrace call that must succeed. */
#define OK(expr)                                                                    \
	do {                                                                        \
		long ok_r_ = (long)(expr);                                          \
		CHECK(ok_r_ >= 0, "%s returned %ld: %s", #expr, ok_r_,              \
		      poketrace_last_error());                                      \
	} while (0)

static inline double test_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether cond became true, polled every millisecond for up to secs
 * seconds: how a test waits for another thread to get somewhere, whatever
 * the machine's speed and load (never a fixed sleep that assumes it). */
#define WAIT_FOR(cond, secs)                                                        \
	({                                                                          \
		double wf_end_ = test_now() + (secs);                               \
		int wf_ok_;                                                         \
		while (!(wf_ok_ = !!(cond)) && test_now() < wf_end_)                \
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);          \
		wf_ok_;                                                             \
	})

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_MAIN(...)                                                              \
	static const struct test_case test_cases_[] = { __VA_ARGS__ };              \
	int main(int argc, char **argv)                                             \
	{                                                                           \
		size_t n = sizeof(test_cases_) / sizeof(test_cases_[0]);            \
		if (argc == 2 && !strcmp(argv[1], "--list")) {                      \
			for (size_t i = 0; i < n; i++)                              \
				puts(test_cases_[i].name);                          \
			return 0;                                                   \
		}                                                                   \
		for (size_t i = 0; argc == 2 && i < n; i++)                         \
			if (!strcmp(argv[1], test_cases_[i].name)) {                \
				test_cases_[i].fn();                                \
				return 0;                                           \
			}                                                           \
		fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);              \
		return 2;                                                           \
	}

#define CASE(f) { #f, f }

#endif
