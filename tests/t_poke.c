/* The poke engine: emulation while a batch is in flight, fork during a batch,
 * W^X, write and sync modes, and bad input. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/poke.h"
#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct poketrace_patch patch_of(void *fn, enum poketrace_insn_kind k, void *target)
{
	return (struct poketrace_patch){ (uintptr_t)fn, k, target };
}

static void patch1(void *fn, enum poketrace_insn_kind k, void *target)
{
	struct poketrace_patch p = patch_of(fn, k, target);

	OK(poketrace_patch(&p, 1, NULL));
}

/* ---------------------------------------------------------- emulation race */

#define WORKERS 2
static atomic_int stop;
static atomic_long calls[WORKERS];

static void *call_loop(void *arg)
{
	long i = (long)arg;

	while (!atomic_load(&stop)) {
		CHECK(tgt_add(1, 2) == 3, "tgt_add result during the race");
		atomic_fetch_add(&calls[i], 1);
	}
	return NULL;
}

struct race {
	long a0, b0, own_b;
	int checked;
};
static struct race race;

/* Runs inside the commit, after step 1 and step 2: every site holds int3.
 * Whoever executes tgt_add now must land in B — this thread too. */
static void race_hook(int step)
{
	long a, b;

	if (step != 1 && step != 2)
		return;
	race.a0 = count_a;
	race.b0 = count_b;
	CHECK(((uint8_t *)tgt_add)[0] == 0xcc, "step %d: no int3 at the site", step);
	CHECK(tgt_add(20, 22) == 42, "this thread's own trapped call");
	CHECK(count_b == race.b0 + 1 || count_b > race.b0, "own trapped call did not land in B");
	/* the workers run into the int3 meanwhile, however long the scheduler
	 * keeps them off a core */
	WAIT_FOR(count_b - race.b0 > 10, 60);
	a = count_a - race.a0;
	b = count_b - race.b0;
	/* At most one call per worker can have passed `call A` before the
	 * int3 was visible and incremented A after that. */
	CHECK(a <= WORKERS, "step %d: %ld calls reached the OLD target A", step, a);
	CHECK(b > 10, "step %d: only %ld calls reached B while trapping", step, b);
	race.checked++;
}

static void emulate_race(void)
{
	pthread_t th[WORKERS];
	struct poketrace_batch_stats st;
	struct poketrace_stats gs0, gs1;
	long total = 0;

	OK(poketrace_init(NULL));
	patch1((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, call_loop, (void *)i);
	sleep_ms(50);
	poketrace_get_stats(&gs0);
	poke_test_hook = race_hook;
	{
		struct poketrace_patch p = patch_of((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_b);

		OK(poketrace_patch(&p, 1, &st));
	}
	poke_test_hook = NULL;
	sleep_ms(20);
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		total += atomic_load(&calls[i]);
	}
	poketrace_get_stats(&gs1);
	CHECK(race.checked == 2, "hook checked %d steps", race.checked);
	CHECK(st.traps > 10, "only %lu traps emulated in the batch", (unsigned long)st.traps);
	CHECK(gs1.traps_emulated - gs0.traps_emulated >= st.traps, "global trap count");
	/* None skipped: every worker call reached A or B (the hook's own 2 calls too). */
	CHECK(count_a + count_b == total + 2, "calls %ld, A %ld + B %ld", total, count_a, count_b);
	CHECK(tgt_add(1, 1) == 2 && count_b > 0, "after the batch");
}

/* ------------------------------------------------------- one instant */

/* Two sites switched in one batch change at one instant: with the committer
 * held after the first site's int3, a thread calling both sites (in the
 * order their int3s are written) never meets the first one new and the
 * second one old. */
static atomic_long torn, pairs;
static uintptr_t add_site, mul_site;
static int held;

static void *pair_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		long t0 = tls_count, t1, t2;
		int ok;

		if (add_site < mul_site) {
			ok = tgt_add(1, 2) == 3;
			t1 = tls_count;
			ok &= tgt_mul(2, 3) == 6;
		} else {
			ok = tgt_mul(2, 3) == 6;
			t1 = tls_count;
			ok &= tgt_add(1, 2) == 3;
		}
		t2 = tls_count;
		CHECK(ok, "results during the batch");
		if (t1 - t0 == 1 && t2 - t1 == 0)
			atomic_fetch_add(&torn, 1);
		atomic_fetch_add(&pairs, 1);
	}
	return NULL;
}

static void held_hook(int step)
{
	struct poketrace_stats gs0, gs;

	if (step != POKE_STEP_FIRST_INT3)
		return;
	/* the workers run into the first int3 meanwhile, however long the
	 * scheduler keeps them off a core */
	poketrace_get_stats(&gs0);
	CHECK(WAIT_FOR((poketrace_get_stats(&gs), gs.traps_emulated - gs0.traps_emulated > 100), 60),
	      "no thread met the first site's int3");
	held++;
}

static void batch_at_once(void)
{
	pthread_t th[WORKERS];
	struct poketrace_patch p[2];
	struct poketrace_batch_stats st;
	struct poketrace_site s;
	long before;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	add_site = s.addr;
	OK(poketrace_site_lookup((uintptr_t)tgt_mul, &s));
	mul_site = s.addr;
	p[0] = patch_of((void *)add_site, POKETRACE_INSN_CALL, (void *)tramp_count_tls);
	p[1] = patch_of((void *)mul_site, POKETRACE_INSN_CALL, (void *)tramp_count_tls);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, pair_loop, NULL);
	WAIT_FOR(atomic_load(&pairs) > 1000, 60);
	poke_test_hook = held_hook;
	OK(poketrace_patch(p, 2, &st));
	poke_test_hook = NULL;
	before = atomic_load(&pairs);
	WAIT_FOR(atomic_load(&pairs) > before + 1000, 60);
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	CHECK(held == 1, "the hook ran %d times", held);
	CHECK(st.traps > 100, "only %lu traps while the committer was held", (unsigned long)st.traps);
	CHECK(atomic_load(&torn) == 0, "%ld of %ld pairs met the first site new and the second old",
	      atomic_load(&torn), atomic_load(&pairs));
	{
		long t0 = tls_count;

		CHECK(tgt_add(1, 2) == 3 && tgt_mul(2, 3) == 6 && tls_count == t0 + 2, "both sites attached after the batch");
	}
}

/* ------------------------------------------------------- fork during batch */

static atomic_int in_batch, batch_done;

static void fork_hook(int step)
{
	if (step != 1)
		return;
	atomic_store(&in_batch, 1);
	sleep_ms(300);
}

static void *committer(void *arg)
{
	(void)arg;
	patch1((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a);
	atomic_store(&batch_done, 1);
	return NULL;
}

static void fork_during_batch(void)
{
	pthread_t th;
	pid_t pid;
	int status;

	OK(poketrace_init(NULL));
	poke_test_hook = fork_hook;
	pthread_create(&th, NULL, committer, NULL);
	while (!atomic_load(&in_batch))
		sleep_ms(1);
	CHECK(((uint8_t *)tgt_add)[0] == 0xcc, "batch not in flight");
	pid = fork(); /* must wait until the batch is complete */
	if (pid == 0) {
		/* The child has one thread and no batch: no int3 may be left. */
		if (((uint8_t *)tgt_add)[0] != 0xe8)
			_exit(3);
		if (tgt_add(2, 3) != 5)
			_exit(4);
		_exit(0);
	}
	CHECK(atomic_load(&batch_done) || ((uint8_t *)tgt_add)[0] == 0xe8,
	      "fork returned while the batch was in flight");
	CHECK(pid > 0, "fork");
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	pthread_join(th, NULL);
	poke_test_hook = NULL;
	/* The child can patch too: the engine was reset in it. */
	pid = fork();
	if (pid == 0) {
		struct poketrace_patch p = patch_of((void *)tgt_add, POKETRACE_INSN_NOP, NULL);

		_exit(poketrace_patch(&p, 1, NULL) == 0 && tgt_add(1, 1) == 2 ? 0 : 5);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "patching in the child: status %#x", status);
}

/* -------------------------------------------------------------- W^X, modes */

static int wx_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	CHECK(f, "maps");
	while (fgets(line, sizeof(line), f)) {
		char perms[8];

		if (sscanf(line, "%*s %7s", perms) == 1 && perms[1] == 'w' && perms[2] == 'x')
			n++;
	}
	fclose(f);
	return n;
}

static char site_page_perms[8];

static void perms_hook(int step)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)tgt_add;

	if (step != 1 || !f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx %7s", &s, &e, site_page_perms) == 3 && a >= s && a < e)
			break;
	}
	fclose(f);
}

static void toggle_all(int first, int rounds, struct poketrace_batch_stats *last)
{
	void *fns[] = { (void *)tgt_add, (void *)tgt_mul, (void *)tgt_void, (void *)tgt_double };
	struct poketrace_patch p[4];

	for (int r = first; r < first + rounds; r++) {
		for (int i = 0; i < 4; i++)
			p[i] = patch_of(fns[i], r % 2 ? POKETRACE_INSN_NOP : POKETRACE_INSN_CALL,
					(void *)tramp_count_a);
		OK(poketrace_patch(p, 4, last));
	}
}

static void no_wx(void)
{
	struct poketrace_batch_stats st;

	OK(poketrace_init(NULL));
	CHECK(wx_mappings() == 0, "W+X mappings before any batch");
	poke_test_hook = perms_hook;
	toggle_all(0, 1, &st);
	poke_test_hook = NULL;
	CHECK(site_page_perms[0] && site_page_perms[2] == 'x', "the site page lost X during the batch: %s",
	      site_page_perms);
	CHECK(wx_mappings() == 0, "a W+X mapping was left after a batch");
	/* 4 sites on neighbouring pages: one range, two mprotect calls. */
	CHECK(st.sites == 4 && st.ranges == 1 && st.mprotects == 2,
	      "%zu sites, %u ranges, %u mprotects", st.sites, st.ranges, st.mprotects);
	toggle_all(1, 21, &st);
	CHECK(st.mprotects == 2 * st.ranges, "mprotects %u for %u ranges", st.mprotects, st.ranges);
}

static void procmem_mode(void)
{
	struct poketrace_init_opts o = { .sz = sizeof(o), .write = POKETRACE_WRITE_PROCMEM };
	struct poketrace_batch_stats st;
	struct poketrace_stats gs;
	long before;

	OK(poketrace_init(&o));
	poke_test_hook = perms_hook;
	toggle_all(0, 1, &st);
	poke_test_hook = NULL;
	CHECK(!strcmp(site_page_perms, "r-xp"), "page is %s during a /proc/self/mem batch", site_page_perms);
	CHECK(st.mprotects == 0, "%u mprotect calls with /proc/self/mem", st.mprotects);
	before = count_a;
	tgt_add(1, 1);
	tgt_mul(1, 1);
	CHECK(count_a == before + 2, "patched through /proc/self/mem");
	toggle_all(1, 1, &st);
	tgt_add(1, 1);
	CHECK(count_a == before + 2, "unpatched through /proc/self/mem");
	poketrace_get_stats(&gs);
	CHECK(gs.write_mode == POKETRACE_WRITE_PROCMEM, "write mode %u", gs.write_mode);
	CHECK(wx_mappings() == 0, "W+X mapping");
}

static void signal_sync(void)
{
	struct poketrace_init_opts o = { .sz = sizeof(o), .sync = POKETRACE_SYNC_SIGNAL };
	struct poketrace_batch_stats st;
	struct poketrace_stats gs;
	pthread_t th[WORKERS];
	long total = 0;

	OK(poketrace_init(&o));
	poketrace_get_stats(&gs);
	CHECK(gs.sync_mode == POKETRACE_SYNC_SIGNAL, "sync mode %u", gs.sync_mode);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, call_loop, (void *)i);
	/* 400 changes, and more until a worker has called through the site
	 * (when they run is the scheduler's choice); it ends as a nop */
	for (int r = 0; r < 2000000; r++) {
		struct poketrace_patch p = patch_of((void *)tgt_add, r % 2 ? POKETRACE_INSN_NOP : POKETRACE_INSN_CALL,
						    (void *)tramp_count_a);

		OK(poketrace_patch(&p, 1, &st));
		CHECK(st.syncs == 3, "syncs %u", st.syncs);
		if (r >= 399 && r % 2 && count_a > 0)
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		total += calls[i];
	}
	CHECK(total > 0 && count_a > 0, "workers ran (%ld calls, %ld counted)", total, count_a);
}

/* What SELinux (execmod) or PaX do: refuse mprotect to W+X.  A seccomp
 * filter makes mprotect fail with EACCES when PROT_WRITE and PROT_EXEC are
 * both asked for; poketrace must fall back to /proc/self/mem by itself. */
static void refuse_wx(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_WRITE, 0, 1),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs");
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %s", strerror(errno));
	CHECK(mprotect((void *)((uintptr_t)tgt_add & ~4095UL), 4096, PROT_READ | PROT_WRITE | PROT_EXEC) < 0 &&
	      errno == EACCES, "the filter does not refuse W+X");
}

static void wx_refused(void)
{
	struct poketrace_batch_stats st;
	struct poketrace_stats gs;
	pthread_t th[WORKERS];
	long before;

	refuse_wx();
	OK(poketrace_init(NULL));
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, call_loop, (void *)i);
	toggle_all(0, 1, &st);
	poketrace_get_stats(&gs);
	CHECK(gs.write_mode == POKETRACE_WRITE_PROCMEM, "did not fall back to /proc/self/mem");
	toggle_all(1, 20, &st);
	CHECK(st.mprotects == 0, "%u mprotect calls after the fallback", st.mprotects);
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	before = count_a; /* enabled by the last of the 20 batches */
	tgt_add(1, 1);
	tgt_void();
	CHECK(count_a == before + 2, "patched without W+X: %ld", count_a - before);
	CHECK(wx_mappings() == 0, "W+X mapping");
}

/* ---------------------------------------------------------------- bad input */

static void expect_err(int r, int want, const char *needle)
{
	CHECK(r == want, "returned %d, want %d (%s)", r, want, poketrace_last_error());
	CHECK(strstr(poketrace_last_error(), needle), "message \"%s\" lacks \"%s\"",
	      poketrace_last_error(), needle);
}

static void bad_input(void)
{
	uint8_t add0[5], mul0[5], wrong[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x01 }, call[5];
	struct poketrace_site sa, sm;
	struct poketrace_batch *b;
	struct poketrace_patch p[2];
	void *mem;

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &sa));
	OK(poketrace_site_lookup((uintptr_t)tgt_mul, &sm));
	memcpy(add0, (void *)sa.addr, 5);
	memcpy(mul0, (void *)sm.addr, 5);

	/* An address that is not a site: data, mid-function, libc, nowhere. */
	p[0] = patch_of((void *)&count_a, POKETRACE_INSN_NOP, NULL);
	expect_err(poketrace_patch(p, 1, NULL), -ENOENT, "not a patch site");
	p[0] = patch_of((char *)tgt_add + 9, POKETRACE_INSN_NOP, NULL);
	expect_err(poketrace_patch(p, 1, NULL), -ENOENT, "not a patch site");
	p[0] = patch_of(dlsym(RTLD_DEFAULT, "puts"), POKETRACE_INSN_CALL, (void *)tramp_count_a);
	expect_err(poketrace_patch(p, 1, NULL), -ENOENT, "no patch sites");
	p[0] = patch_of((void *)0x1000, POKETRACE_INSN_NOP, NULL);
	expect_err(poketrace_patch(p, 1, NULL), -ENOENT, "no loaded module");

	/* Expected bytes that do not match: the whole batch is refused. */
	b = poketrace_batch_new();
	CHECK(b, "batch_new");
	OK(poketrace_encode(POKETRACE_INSN_CALL, sa.addr, (void *)tramp_count_a, call));
	OK(poketrace_batch_add(b, sa.addr, add0, call));
	OK(poketrace_encode(POKETRACE_INSN_CALL, sm.addr, (void *)tramp_count_a, call));
	OK(poketrace_batch_add(b, sm.addr, wrong, call));
	expect_err(poketrace_batch_commit(b, NULL), -EBUSY, "expected 0f 1f 44 00 01");
	CHECK(!memcmp((void *)sa.addr, add0, 5) && !memcmp((void *)sm.addr, mul0, 5),
	      "a refused batch changed bytes");
	poketrace_batch_free(b);

	/* New bytes that are no single 5-byte instruction we can emulate. */
	b = poketrace_batch_new();
	expect_err(poketrace_batch_add(b, sa.addr, add0, (const uint8_t[5]){ 0x90, 0x90, 0x90, 0x90, 0x90 }),
		   -EINVAL, "not a 5-byte nop");
	poketrace_batch_free(b);

	/* The same site twice in one batch. */
	p[0] = patch_of((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a);
	p[1] = patch_of((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_b);
	expect_err(poketrace_patch(p, 2, NULL), -EINVAL, "twice");
	CHECK(!memcmp((void *)sa.addr, add0, 5), "bytes changed");

	/* A target beyond rel32 reach. */
	p[0] = patch_of((void *)tgt_add, POKETRACE_INSN_CALL, (void *)(sa.addr + (3UL << 30)));
	expect_err(poketrace_patch(p, 1, NULL), -ERANGE, "rel32");
	CHECK(!memcmp((void *)sa.addr, add0, 5), "bytes changed");

	/* NULL arguments. */
	expect_err(poketrace_patch(NULL, 1, NULL), -EINVAL, "NULL");
	expect_err(poketrace_batch_add(NULL, sa.addr, add0, add0), -EINVAL, "NULL");
	expect_err(poketrace_batch_commit(NULL, NULL), -EINVAL, "NULL");
	expect_err(poketrace_site_lookup(sa.addr, NULL), -EINVAL, "NULL");
	expect_err((int)poketrace_sites_foreach(NULL, NULL, NULL, NULL), -EINVAL, "NULL");
	expect_err(poketrace_execmem_alloc((void *)tgt_add, 16, NULL), -EINVAL, "NULL");
	expect_err(poketrace_encode(POKETRACE_INSN_CALL, sa.addr, NULL, call), -EINVAL, "NULL");
	OK(poketrace_patch(NULL, 0, NULL)); /* an empty batch is fine */

	/* Executable memory misuse. */
	OK(poketrace_execmem_alloc((void *)tgt_add, 32, &mem));
	expect_err(poketrace_execmem_free((char *)mem + 16), -EINVAL, "not returned by");
	expect_err(poketrace_execmem_write(add0, add0, 5), -EINVAL, "not allocated");
	OK(poketrace_execmem_free(mem));
	expect_err(poketrace_execmem_free(mem), -EINVAL, "freed already");

	CHECK(tgt_add(2, 2) == 4 && tgt_mul(2, 3) == 6, "functions still work");
}

static void execmem(void)
{
	static const uint8_t ret7[] = { 0xb8, 7, 0, 0, 0, 0xc3 }; /* mov eax,7; ret */
	struct poketrace_site s, v;
	void *p[200];

	OK(poketrace_init(NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_add, &s));
	for (int i = 0; i < 200; i++) {
		int64_t d;

		OK(poketrace_execmem_alloc((void *)tgt_add, 100, &p[i]));
		CHECK(((uintptr_t)p[i] & 15) == 0, "alignment");
		d = (int64_t)((uintptr_t)p[i] + 100 - (s.addr + 5));
		CHECK(d > INT32_MIN && d < INT32_MAX, "%p out of reach of %#lx", p[i], s.addr);
		for (int j = 0; j < i; j++)
			CHECK(p[j] != p[i], "the same block twice");
	}
	OK(poketrace_execmem_write(p[7], ret7, sizeof(ret7)));
	CHECK(((int (*)(void))p[7])() == 7, "generated code runs");
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_void, POKETRACE_INSN_JMP, p[7] }, 1, NULL));
	OK(poketrace_site_lookup((uintptr_t)tgt_void, &v));
	CHECK(tgt_void() == 7 && ((uint8_t *)v.addr)[0] == 0xe9, "jmp to generated code");
	for (int i = 0; i < 200; i++)
		OK(poketrace_execmem_free(p[i]));
	OK(poketrace_execmem_alloc((void *)tgt_add, 100, &p[0]));
	CHECK(((uint8_t *)p[0])[0] == 0xcc || ((uint8_t *)p[0])[0] == 0xb8, "fresh memory");
	CHECK(wx_mappings() == 0, "W+X mapping after execmem writes");
}

TEST_MAIN(CASE(emulate_race), CASE(batch_at_once), CASE(fork_during_batch), CASE(no_wx), CASE(procmem_mode),
	  CASE(signal_sync), CASE(wx_refused), CASE(bad_input), CASE(execmem))
