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

TEST_MAIN(CASE(exception_through_fexit))
