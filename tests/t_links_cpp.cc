// C++ exceptions thrown through functions whose images call the body
// (fexit) or run before it (fentry): the unwinder must find the generated
// frames' unwind information, and handlers must not run for the throw.
#include <cstring>
#include <stdexcept>

#include "harness.h"

int thrower(int x);
int catcher(int x);

static int exits, entries;

static void on_exit_(struct poketrace_ctx *c)
{
	(void)c;
	exits++;
}

static void on_entry(struct poketrace_ctx *c)
{
	(void)c;
	entries++;
}

static void exception_through_fexit()
{
	struct poketrace_link *x = nullptr, *e = nullptr;
	bool caught = false;

	OK(poketrace_init(nullptr));
	OK(poketrace_link_attach(POKETRACE_FEXIT, "_Z7throweri", (void *)on_exit_, nullptr, &x));
	OK(poketrace_link_attach(POKETRACE_FENTRY, "_Z7catcheri", (void *)on_entry, nullptr, &e));
	CHECK(thrower(4) == 8 && exits == 1, "normal return: exits %d", exits);
	try {
		thrower(-3);
	} catch (const std::runtime_error &err) {
		caught = !strcmp(err.what(), "negative: -3");
	}
	CHECK(caught, "the exception did not arrive intact");
	CHECK(exits == 1, "an fexit handler ran for a call that threw");
	CHECK(catcher(-1) == -1 && catcher(5) == 10 && entries == 2 && exits == 2,
	      "caught inside a hooked caller: entries %d exits %d", entries, exits);
	OK(poketrace_link_detach(x));
	OK(poketrace_link_detach(e));
	CHECK(thrower(1) == 2 && exits == 2, "after detach");
}

static int handler_calls;

static void refusing_handler(struct poketrace_ctx *c)
{
	handler_calls++;
	if (c->args[0] == 13)
		throw std::runtime_error("the handler refuses 13");
}

// An exception out of a handler (through the image's frame) leaves the
// thread's recursion guard clear: its handlers keep running after.
static void throw_from_handler()
{
	struct poketrace_link *l[2];
	struct poketrace_stats s0, s1;
	bool caught = false;

	OK(poketrace_init(nullptr));
	OK(poketrace_link_attach(POKETRACE_FENTRY, "_Z7throweri", (void *)refusing_handler, nullptr, &l[0]));
	OK(poketrace_link_attach(POKETRACE_FEXIT, "_Z7catcheri", (void *)refusing_handler, nullptr, &l[1]));
	poketrace_get_stats(&s0);
	CHECK(thrower(1) == 2 && handler_calls == 1, "before: %d calls", handler_calls);
	try {
		thrower(13);
	} catch (const std::runtime_error &err) {
		caught = !strcmp(err.what(), "the handler refuses 13");
	}
	CHECK(caught, "the handler's exception did not arrive");
	for (int i = 0; i < 5; i++)
		CHECK(thrower(i) == 2 * i, "thrower(%d)", i);
	CHECK(handler_calls == 7, "handlers ran %d times after the throw (7 expected): the guard stayed set",
	      handler_calls);
	caught = false;
	try {
		catcher(13); /* fexit handler of catcher throws, after the body */
	} catch (const std::runtime_error &) {
		caught = true;
	}
	CHECK(caught && catcher(2) == 4, "the fexit handler's exception");
	poketrace_get_stats(&s1);
	CHECK(handler_calls == 11 && s1.recursion_misses == s0.recursion_misses,
	      "%d handler calls, %lu recursion misses", handler_calls,
	      (unsigned long)(s1.recursion_misses - s0.recursion_misses));
	OK(poketrace_links_detach(l, 2));
}

TEST_MAIN(CASE(exception_through_fexit), CASE(throw_from_handler))
