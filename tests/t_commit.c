/* All or nothing: every system call a commit makes is made to fail, once,
 * in turn (the first, then the second, ...), while other threads run
 * through the sites.  After each attempt every site holds exactly its old
 * bytes (the commit failed and said so) or exactly its new ones (it
 * succeeded), and the functions compute what they compute.  In each write
 * and sync mode; and through the hook layer, whose failed attach must free
 * nothing a thread may still run. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/textwrite.h"
#include "base/fault.h"
#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

static int fail_at, calls_seen;
static char failed_what[32];

static int inject(const char *what)
{
	if (++calls_seen != fail_at)
		return 0;
	snprintf(failed_what, sizeof(failed_what), "%s", what);
	return what[0] == 'm' && what[1] == 'a' ? ENOMEM : EIO;
}

static atomic_int stop;

static void *caller(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int a = tgt_add(2, 3), v = tgt_void();

		CHECK(a == 5 || a == 42, "tgt_add returned %d", a);
		CHECK(tgt_mul(6, 7) == 42, "tgt_mul");
		CHECK(v == 7 || v == 42, "tgt_void returned %d", v);
	}
	return NULL;
}

struct site {
	void *fn;
	uint8_t *at;
	uint8_t before[5], after[5];
};

static void snapshot(struct site *s, int n, bool after)
{
	for (int i = 0; i < n; i++)
		memcpy(after ? s[i].after : s[i].before, s[i].at, 5);
}

static bool holds(const struct site *s, int n, const struct poketrace_patch *want, bool old)
{
	for (int i = 0; i < n; i++) {
		uint8_t b[5];

		if (old) {
			if (memcmp(s[i].at, s[i].before, 5))
				return false;
			continue;
		}
		if (want[i].insn == POKETRACE_INSN_NOP) {
			if (s[i].at[0] != 0x0f)
				return false;
		} else if (poketrace_encode(want[i].insn, (uintptr_t)s[i].at, want[i].target, b) < 0 ||
			   memcmp(s[i].at, b, 5)) {
			return false;
		}
	}
	return true;
}

/* Fails call 1, 2, ... of a three-site batch until one attempt makes no
 * call fail (fail_at beyond the commit's calls); toggles back each time. */
static void each_failure(const struct poketrace_init_opts *o)
{
	void *fns[] = { (void *)tgt_add, (void *)tgt_mul, (void *)tgt_void };
	struct site s[3];
	struct poketrace_patch on[3], off[3];
	pthread_t t[2];
	int failures = 0, points = 0;

	OK(poketrace_init(o));
	for (int i = 0; i < 3; i++) {
		struct poketrace_site ps;

		OK(poketrace_site_lookup((uintptr_t)fns[i], &ps));
		s[i].fn = fns[i];
		s[i].at = (uint8_t *)ps.addr;
		on[i] = (struct poketrace_patch){ ps.addr, i == 1 ? POKETRACE_INSN_CALL : POKETRACE_INSN_JMP,
						  i == 1 ? (void *)tramp_count_a : (void *)tramp_ret42 };
		off[i] = (struct poketrace_patch){ ps.addr, POKETRACE_INSN_NOP, NULL };
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	for (int dir = 0; dir < 2; dir++) {
		const struct poketrace_patch *want = dir ? off : on;

		for (fail_at = 1;; fail_at++) {
			int r;

			calls_seen = 0;
			failed_what[0] = '\0';
			snapshot(s, 3, false);
			pt_fault_hook = inject;
			r = poketrace_patch(want, 3, NULL);
			pt_fault_hook = NULL;
			if (calls_seen < fail_at) {
				/* nothing failed: the whole commit ran */
				CHECK(r == 0 && holds(s, 3, want, false), "the clean run: %d %s", r, poketrace_last_error());
				break;
			}
			points++;
			if (r == 0) {
				CHECK(holds(s, 3, want, false), "%s failing (call %d): success, but the new bytes are not "
				      "all there", failed_what, fail_at);
				/* back to where this direction starts */
				OK(poketrace_patch(dir ? on : off, 3, NULL));
			} else {
				failures++;
				CHECK(holds(s, 3, want, true), "%s failing (call %d): failed (%s), but the sites do not "
				      "hold their old bytes", failed_what, fail_at, poketrace_last_error());
			}
			CHECK(fail_at < 200, "the commit makes more than 200 calls");
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%d failure points, %d commits rolled back whole, the rest completed whole\n", points, failures);
	CHECK(points >= 3 && failures >= 3, "too few failure points (%d) or failures (%d) to mean anything",
	      points, failures);
}

static void mprotect_membarrier(void)
{
	struct poketrace_init_opts o = { sizeof(o), POKETRACE_SYNC_MEMBARRIER, POKETRACE_WRITE_MPROTECT, 0 };

	each_failure(&o);
}

static void mprotect_signal(void)
{
	struct poketrace_init_opts o = { sizeof(o), POKETRACE_SYNC_SIGNAL, POKETRACE_WRITE_MPROTECT, 0 };

	each_failure(&o);
}

static void procmem_membarrier(void)
{
	struct poketrace_init_opts o = { sizeof(o), POKETRACE_SYNC_MEMBARRIER, POKETRACE_WRITE_PROCMEM, 0 };

	each_failure(&o);
}

/* Links: a failed attach leaves the site a nop and frees nothing a thread
 * may have entered (a rolled-back batch's images are retired); the images
 * it made are reclaimed once no thread can be in them. */
static volatile long entries;

static void on_entry(struct poketrace_ctx *c)
{
	(void)c;
	entries++;
}

static void links(void)
{
	struct poketrace_stats st;
	pthread_t t[2];
	int failures = 0;

	OK(poketrace_init(NULL));
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	for (fail_at = 1;; fail_at++) {
		struct poketrace_link *l = NULL;
		struct poketrace_site ps;
		int r;

		calls_seen = 0;
		pt_fault_hook = inject;
		r = poketrace_link_attach(POKETRACE_FENTRY, "tgt_mul", (void *)on_entry, NULL, &l);
		pt_fault_hook = NULL;
		OK(poketrace_site_lookup((uintptr_t)tgt_mul, &ps));
		if (r < 0) {
			failures++;
			CHECK(((uint8_t *)ps.addr)[0] == 0x0f, "a failed attach (%s failing) left the site changed",
			      failed_what);
		} else {
			CHECK(((uint8_t *)ps.addr)[0] == 0xe8, "an attach that succeeded left no call");
			OK(poketrace_link_detach(l));
		}
		if (calls_seen < fail_at)
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	OK(poketrace_quiesce(10000));
	poketrace_get_stats(&st);
	printf("%d attach attempts failed whole; images: %lu live, %lu retired, %lu reclaimed\n", failures,
	       (unsigned long)st.images_live, (unsigned long)st.images_retired, (unsigned long)st.images_reclaimed);
	CHECK(failures >= 3 && st.images_retired == 0, "failures %d, retired %lu", failures,
	      (unsigned long)st.images_retired);
}

/* Every mprotect from the k-th on fails (k = 1, 2, ...: at the kernel's
 * limit on mappings, all of them do): an attach whose batch ran keeps it
 * and succeeds even when the code's protection cannot be given back (a
 * failure there used to be reported with the call in place, and the
 * images it points at released); one that could not run fails with the
 * nop in place.  The next clean change gives the protection back. */
static int sticky_from, mprotects_seen;

static int inject_mprotects(const char *what)
{
	return strcmp(what, "mprotect") || ++mprotects_seen < sticky_from ? 0 : ENOMEM;
}

static bool page_writable(uintptr_t a)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool w = false;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perm[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && a >= lo && a < hi)
			w = perm[1] == 'w';
	}
	if (f)
		fclose(f);
	return w;
}

static void protection_owed(void)
{
	struct poketrace_site ps;
	pthread_t t[2];
	int kept = 0;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_mul, &ps));
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	for (sticky_from = 1;; sticky_from++) {
		struct poketrace_link *l = NULL;
		long e0 = entries;
		int r;

		mprotects_seen = 0;
		pt_fault_hook = inject_mprotects;
		r = poketrace_link_attach(POKETRACE_FENTRY, "tgt_mul", (void *)on_entry, NULL, &l);
		pt_fault_hook = NULL;
		if (r < 0) {
			CHECK(((uint8_t *)ps.addr)[0] == 0x0f, "mprotects failing from the %dth: failed (%s), but the "
			      "site is changed", sticky_from, poketrace_last_error());
		} else {
			CHECK(((uint8_t *)ps.addr)[0] == 0xe8, "mprotects failing from the %dth: success, no call",
			      sticky_from);
			CHECK(tgt_mul(6, 7) == 42 && entries > e0, "mprotects failing from the %dth: the hook does not run",
			      sticky_from);
			kept += mprotects_seen >= sticky_from;
			OK(poketrace_link_detach(l));
		}
		CHECK(!page_writable(ps.addr), "mprotects failing from the %dth: the code is still writable after "
		      "a clean change", sticky_from);
		if (mprotects_seen < sticky_from)
			break;
		CHECK(sticky_from < 100, "an attach makes more than 100 mprotects");
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%d attaches kept with the code's protection owed\n", kept);
	CHECK(kept >= 1, "no attach ran its batch with the close failing: the case tests nothing");
}

/* Debts of protection, through the session layer: more than a fixed
 * table's worth are all kept (each close succeeds), and one whose pages
 * were unmapped and the address reused by the program's own W+X memory (a
 * JIT's, after a dlclose) is forgotten, not made read-only under it. */
static uint8_t *map_file_code(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);

	close(fd);
	CHECK(p != MAP_FAILED, "mmap of the test's own file");
	return p;
}

/* every mprotect fails but the (open_at)th: the debts' payments before it,
 * the session's own after it */
static int open_at;

static int inject_all_but_open(const char *what)
{
	return strcmp(what, "mprotect") || ++mprotects_seen == open_at ? 0 : ENOMEM;
}

/* a session writing a's first byte as it is, with `owed` debts before it
 * that cannot be paid, and a close that fails */
static int failing_close(uint8_t *a, int owed)
{
	struct text_session ts;
	uintptr_t at = (uintptr_t)a;
	int r;

	mprotects_seen = 0;
	open_at = owed + 1;
	pt_fault_hook = inject_all_but_open;
	if ((r = text_open(&ts, &at, 1, 1)) == 0) {
		OK(text_write(&ts, at, a, 1));
		r = text_close(&ts);
	}
	pt_fault_hook = NULL;
	return r;
}

static void owed_debts(void)
{
	enum { N = 80 };
	uint8_t *page[N], *jit;
	struct text_session ts;
	uintptr_t at;

	for (int i = 0; i < N; i++) {
		page[i] = map_file_code();
		CHECK(failing_close(page[i], i) == 0, "debt %d: the close failed after its write", i + 1);
		CHECK(page_writable((uintptr_t)page[i]), "debt %d: the page was restored", i + 1);
	}
	munmap(page[0], 4096); /* as dlclose does; the program maps its own W+X memory there */
	jit = mmap(page[0], 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(jit == page[0], "mmap at the freed address");
	at = (uintptr_t)page[1];
	OK(text_open(&ts, &at, 1, 1)); /* pays the debts first */
	OK(text_close(&ts));
	CHECK(page_writable((uintptr_t)jit), "the program's W+X memory was made read-only");
	jit[0] = 0xc3; /* (would fault) */
	for (int i = 1; i < N; i++)
		CHECK(!page_writable((uintptr_t)page[i]), "debt %d was not paid", i + 1);
}

TEST_MAIN(CASE(mprotect_membarrier), CASE(mprotect_signal), CASE(procmem_membarrier), CASE(links), CASE(protection_owed), CASE(owed_debts))
