// C++ exceptions thrown through functions whose images call the body
// (fexit) or run before it (fentry): the unwinder must find the generated
// frames' unwind information, and handlers must not run for the throw.
#include <cstring>
#include <dlfcn.h>
#include <stdexcept>
#include <unwind.h>

#include "harness.h"

int thrower(int x);
int catcher(int x);
// the same, built without patch sites: their entries are relocated
int rthrower(int x);
int rcatcher(int x);

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

static void through_fexit(const char *tname, const char *cname, int (*thrower)(int), int (*catcher)(int))
{
	struct poketrace_link *x = nullptr, *e = nullptr;
	bool caught = false;

	exits = entries = 0;
	OK(poketrace_init(nullptr));
	OK(poketrace_link_attach(POKETRACE_FEXIT, tname, (void *)on_exit_, nullptr, &x));
	OK(poketrace_link_attach(POKETRACE_FENTRY, cname, (void *)on_entry, nullptr, &e));
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

static void exception_through_fexit()
{
	through_fexit("_Z7throweri", "_Z7catcheri", thrower, catcher);
}

// The same through relocated entries: the exception passes the function's
// own frame (entered from its copy), the pad and the image.
static void relocated_exception()
{
	struct poketrace_site s;

	through_fexit("_Z8rthroweri", "_Z8rcatcheri", rthrower, rcatcher);
	OK(poketrace_site_lookup((uintptr_t)rthrower, &s));
	CHECK(s.kind == POKETRACE_SITE_RELOC, "rthrower's site is of kind %d", (int)s.kind);
}

// A backtrace from a handler of a relocated function reaches its caller:
// every frame between (the image, the pad, the copy's caller) unwinds.
static bool saw_caller;
static _Unwind_Reason_Code frame(struct _Unwind_Context *c, void *)
{
	Dl_info di;

	if (dladdr((void *)_Unwind_GetIP(c), &di) && di.dli_sname && strstr(di.dli_sname, "relocated_backtrace"))
		saw_caller = true;
	return _URC_NO_REASON;
}

static void backtrace_handler(struct poketrace_ctx *)
{
	_Unwind_Backtrace(frame, nullptr);
}

__attribute__((noinline)) void relocated_backtrace()
{
	struct poketrace_link *l[2];

	OK(poketrace_init(nullptr));
	OK(poketrace_link_attach(POKETRACE_FENTRY, "_Z8rthroweri", (void *)backtrace_handler, nullptr, &l[0]));
	CHECK(rthrower(3) == 6 && saw_caller, "fentry: the backtrace does not reach the caller");
	saw_caller = false;
	OK(poketrace_link_attach(POKETRACE_FEXIT, "_Z8rthroweri", (void *)backtrace_handler, nullptr, &l[1]));
	CHECK(rthrower(4) == 8 && saw_caller, "fexit: the backtrace does not reach the caller");
	OK(poketrace_links_detach(l, 2));
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

template <class... A> long sum_pack(long a, A... rest);
extern template long sum_pack<long, long, long, long, long>(long, long, long, long, long, long);

static long pack_args[6];

static void on_pack(struct poketrace_ctx *c)
{
	memcpy(pack_args, c->args, sizeof(pack_args));
}

// A variadic template's parameters are all counted: the pack's were not,
// a prototype of 1 argument was taken as certain, and the image saved rdi
// only (the handler could clobber the other five)
static void parameter_pack(void)
{
	long (*f)(long, long, long, long, long, long) = &sum_pack<long, long, long, long, long>;
	long want = f(1, 2, 3, 4, 5, 6);
	struct poketrace_link *l = nullptr;
	const struct poketrace_fn *fn;

	OK(poketrace_init(nullptr));
	OK(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)f, (void *)on_pack, nullptr, &l));
	fn = poketrace_link_fn(l);
	CHECK(fn && fn->nargs == 6, "sum_pack: %d arguments, want 6", fn ? fn->nargs : -1);
	CHECK(f(1, 2, 3, 4, 5, 6) == want, "sum_pack(1..6) = %ld, want %ld", f(1, 2, 3, 4, 5, 6), want);
	for (int i = 0; i < 6; i++)
		CHECK(pack_args[i] == i + 1, "the handler's argument %d is %ld", i, pack_args[i]);
	OK(poketrace_link_detach(l));
}

TEST_MAIN(CASE(parameter_pack), CASE(exception_through_fexit), CASE(throw_from_handler), CASE(relocated_exception), CASE(relocated_backtrace))
