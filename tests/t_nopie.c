/* Images for a library function from a program built without PIE: the
 * handlers are at 0x40xxxx, within rel32 of address 0 but not of the image
 * near the library; an image is sized for its worst placement. */
#include "harness.h"

long np_lib_fn(long a, long b);

static int n;

static void h(struct poketrace_ctx *c)
{
	(void)c;
	n++;
}

static int keep(struct poketrace_ctx *c)
{
	h(c);
	return 0; /* the body runs */
}

static void links_and_ops(void)
{
	struct poketrace_link_opts o = { sizeof(o), NULL, 0, 0 };
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, "np_lib_fn", NULL, NULL };
	enum poketrace_link_kind k[] = { POKETRACE_FENTRY, POKETRACE_FEXIT, POKETRACE_FEXIT, POKETRACE_FMOD_RET };
	struct poketrace_link *l[4];
	struct poketrace_ops *ops;

	OK(poketrace_init(NULL));
	for (int i = 0; i < 4; i++)
		OK(poketrace_link_attach(k[i], "np_lib_fn", k[i] == POKETRACE_FMOD_RET ? (void *)keep : (void *)h, &o,
					 &l[i]));
	/* (np_lib_fn in this program is its PLT entry, near the handler) */
	CHECK((uintptr_t)h < 0x80000000u && poketrace_link_fn(l[0])->addr > 0x100000000u,
	      "not the layout under test: handler %p, function %#lx", (void *)h,
	      (unsigned long)poketrace_link_fn(l[0])->addr);
	CHECK(np_lib_fn(1, 2) == 3 && n == 4, "np_lib_fn: %ld, handlers ran %d times", np_lib_fn(1, 2), n);
	OK(poketrace_ops_register(h, &oo, &ops));
	n = 0;
	CHECK(np_lib_fn(2, 2) == 4 && n == 5, "with ops: handlers ran %d times", n);
	OK(poketrace_ops_unregister(ops));
	OK(poketrace_links_detach(l, 4));
	n = 0;
	CHECK(np_lib_fn(3, 3) == 6 && n == 0, "after detach");
}

TEST_MAIN(CASE(links_and_ops))
