/* gcc's five 1-byte nops: made one 5-byte nop only while the process is
 * single-threaded; otherwise unpatchable, with the reason given. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "targets/funcs.h"

static const uint8_t nops90[5] = { 0x90, 0x90, 0x90, 0x90, 0x90 };
static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static atomic_int stop;

static void *idle(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		usleep(1000);
	return NULL;
}

static void single_init(void)
{
	struct poketrace_site s;

	CHECK(!memcmp((void *)tgt_add, nops90, 5), "the compiler did not emit 90 x5");
	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	CHECK(s.kind == POKETRACE_SITE_PFE_GCC && (s.flags & POKETRACE_SITE_NORMALIZED) &&
	      !(s.flags & POKETRACE_SITE_UNPATCHABLE), "flags %#x", s.flags);
	CHECK(!memcmp((void *)tgt_add, nop5, 5), "not normalized in memory");
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_JMP,
						      (void *)tgt_mul }, 1, NULL));
	CHECK(tgt_add(6, 7) == 42, "jmp to tgt_mul");
}

static void threaded_init(void)
{
	struct poketrace_site s;
	pthread_t t;
	int r;

	pthread_create(&t, NULL, idle, NULL);
	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	CHECK((s.flags & POKETRACE_SITE_UNPATCHABLE) && s.reason == POKETRACE_REASON_GCC_NOPS_THREADED,
	      "flags %#x reason %d", s.flags, s.reason);
	CHECK(!memcmp((void *)tgt_add, nops90, 5), "rewritten while another thread ran");
	r = poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_NOP, NULL },
			    1, NULL);
	CHECK(r == -EPERM && strstr(poketrace_last_error(), "several threads"), "%d: %s", r,
	      poketrace_last_error());
	CHECK(!memcmp((void *)tgt_add, nops90, 5), "bytes changed");
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
}

static void dlopen_threaded(void)
{
	struct poketrace_site s;
	pthread_t t;
	void *h, *fn;

	OK(poketrace_init(NULL)); /* single-threaded: the executable's sites are fine */
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	CHECK(s.flags & POKETRACE_SITE_NORMALIZED, "executable not normalized");
	pthread_create(&t, NULL, idle, NULL);
	h = dlopen(DL_PATH, RTLD_NOW);
	CHECK(h, "dlopen: %s", dlerror());
	fn = dlsym(h, "dl_fn");
	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	CHECK(s.reason == POKETRACE_REASON_GCC_NOPS_THREADED, "a module loaded while threads run: "
	      "reason %d", s.reason);
	CHECK(!memcmp((void *)s.addr, nops90, 5), "rewritten");
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	dlclose(h);
}

TEST_MAIN(CASE(single_init), CASE(threaded_init), CASE(dlopen_threaded))
