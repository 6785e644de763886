/* Ops: ftrace-style callbacks with glob filters on many sites; one ops per
 * site (its own trampoline), several (the list), with links; filter changes
 * in one batch; the recursion guard; unregistering while threads run. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "targets/hookfns.h"

static atomic_long hits[4];
static const char *last_sym;
static uintptr_t last_caller;

static void cb(struct poketrace_ctx *c)
{
	atomic_fetch_add(&hits[(intptr_t)c->data], 1);
	last_sym = c->fn->symbol;
	last_caller = c->caller;
}

static struct poketrace_ops *reg(intptr_t id, const char *filter, const char *notrace)
{
	struct poketrace_ops_opts o = { sizeof(o), (void *)id, filter, "t_ops", notrace };
	struct poketrace_ops *ops = NULL;

	OK(poketrace_ops_register(cb, &o, &ops));
	return ops;
}

__attribute__((noinline)) static long call_h1(long x)
{
	long r = h1(x);

	__asm__ volatile("");
	return r;
}

static void filters(void)
{
	struct poketrace_ops *a;
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	a = reg(0, "h1,h2,h6", NULL);
	CHECK(poketrace_ops_nsites(a) == 3, "%ld sites", poketrace_ops_nsites(a));
	CHECK(call_h1(1) == 2 && h2(1, 2) == 3 && h0() == 42, "results");
	CHECK(hits[0] == 2 && !strcmp(last_sym, "h2"), "hits %ld last %s", hits[0], last_sym);
	CHECK(last_caller > (uintptr_t)filters && last_caller < (uintptr_t)filters + 4096,
	      "ctx->caller is not in the calling function");
	poketrace_get_stats(&s0);
	OK(poketrace_ops_set_filter(a, "h*", "t_ops", "hsleep,hrec,hv"));
	poketrace_get_stats(&s1);
	CHECK(s1.batches == s0.batches + 1, "a filter change took %lu batches",
	      (unsigned long)(s1.batches - s0.batches));
	hits[0] = 0;
	h0();
	h1(1);
	h2(1, 1);
	hv(1, 1L);
	CHECK(hits[0] == 3, "after set_filter: %ld", hits[0]);
	OK(poketrace_ops_set_filter(a, "nothing*", NULL, NULL));
	CHECK(poketrace_ops_nsites(a) == 0, "sites %ld", poketrace_ops_nsites(a));
	h1(1);
	CHECK(hits[0] == 3, "called with no sites");
	OK(poketrace_ops_unregister(a));
	CHECK(poketrace_ops_unregister(a) == -ENOENT && strstr(poketrace_last_error(), "not a registered"),
	      "double unregister: %s", poketrace_last_error());
}

static void several(void)
{
	struct poketrace_ops *a, *b, *c;
	struct poketrace_link *l;
	struct poketrace_link_opts lo = { sizeof(lo), (void *)3, 0, 0 };

	OK(poketrace_init(NULL));
	a = reg(0, "h1,h2", NULL);
	b = reg(1, "h2", NULL);
	c = reg(2, "h2,h6", NULL);
	CHECK(h2(1, 1) == 2 && hits[0] == 1 && hits[1] == 1 && hits[2] == 1, "list: %ld %ld %ld", hits[0],
	      hits[1], hits[2]);
	CHECK(h1(1) == 2 && hits[0] == 2 && hits[1] == 1, "single ops site");
	/* A link on an ops site: the ops run in its image. */
	OK(poketrace_link_attach(POKETRACE_FEXIT, "h2", (void *)cb, &lo, &l));
	CHECK(h2(2, 2) == 4 && hits[0] == 3 && hits[1] == 2 && hits[2] == 2 && hits[3] == 1,
	      "ops + link: %ld %ld %ld %ld", hits[0], hits[1], hits[2], hits[3]);
	OK(poketrace_link_detach(l));
	OK(poketrace_ops_unregister(b));
	CHECK(h2(1, 1) == 2 && hits[0] == 4 && hits[1] == 2 && hits[2] == 3, "after unregistering b");
	OK(poketrace_ops_unregister(a));
	OK(poketrace_ops_unregister(c));
	CHECK(h2(1, 1) == 2 && hits[0] == 4 && hits[2] == 3, "after unregistering all");
	OK(poketrace_quiesce(3000));
}

static int reentered;

static void reentrant(struct poketrace_ctx *c)
{
	(void)c;
	reentered++;
	CHECK(h1(5) == 6, "a hooked call from a callback");
}

static void recursion(void)
{
	struct poketrace_ops_opts o = { sizeof(o), NULL, "h1", NULL, NULL };
	struct poketrace_ops *ops;
	struct poketrace_stats s0, s1;

	OK(poketrace_init(NULL));
	OK(poketrace_ops_register(reentrant, &o, &ops));
	poketrace_get_stats(&s0);
	CHECK(h1(1) == 2 && reentered == 1, "callback ran %d times", reentered);
	poketrace_get_stats(&s1);
	CHECK(s1.recursion_misses == s0.recursion_misses + 1, "misses not counted");
	OK(poketrace_ops_unregister(ops));
}

static atomic_int stop;

static void *worker(void *arg)
{
	long n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		CHECK(h1(n) == n + 1 && h2(n, 1) == n + 1, "results under ops changes");
		n++;
	}
	return NULL;
}

static void churn(void)
{
	struct poketrace_ops *a, *b;
	pthread_t th[2];

	OK(poketrace_init(NULL));
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	a = reg(0, "h1,h2", NULL);
	/* 200 rounds, and more until both callbacks have run (the workers run
	 * when the scheduler lets them) */
	for (int r = 0; r < 200 || ((!hits[0] || !hits[1]) && r < 200000); r++) {
		b = reg(1, r % 2 ? "h2" : "h*", "hsleep");
		OK(poketrace_ops_set_filter(a, r % 3 ? "h1" : "h1,h2", "t_ops", NULL));
		OK(poketrace_ops_unregister(b));
	}
	OK(poketrace_ops_unregister(a));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(hits[0] > 0 && hits[1] > 0, "callbacks never ran");
	OK(poketrace_quiesce(5000));
}

static void bad_input(void)
{
	struct poketrace_ops *o;
	struct poketrace_ops_opts bad = { 3 };

	OK(poketrace_init(NULL));
	CHECK(poketrace_ops_register(NULL, NULL, &o) == -EINVAL, "NULL fn");
	CHECK(poketrace_ops_register(cb, &bad, &o) == -EINVAL && strstr(poketrace_last_error(), "sz"),
	      "opts->sz");
	CHECK(poketrace_ops_set_filter(NULL, "x", NULL, NULL) == -EINVAL, "NULL ops");
}

TEST_MAIN(CASE(filters), CASE(several), CASE(recursion), CASE(churn), CASE(bad_input))
