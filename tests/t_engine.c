/* The engine never kills, hangs or corrupts the host: code writes per
 * process, all-or-nothing commits, late traps, bounded waits, forks in the
 * middle of a batch, the program's own SIGTRAP, protections restored,
 * re-entry, options after an implicit init.  Each case was a crash, a hang
 * or a corruption before (the reproducers of issue 11). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/poke.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/trap.h"
#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

extern pid_t _Fork(void);

static struct poketrace_patch patch_of(void *fn, enum poketrace_insn_kind k, void *target)
{
	return (struct poketrace_patch){ (uintptr_t)fn, k, target };
}

static int set_site(void *fn, enum poketrace_insn_kind k, void *target)
{
	struct poketrace_patch p = patch_of(fn, k, target);

	return poketrace_patch(&p, 1, NULL);
}

static const uint8_t *site_bytes(void *fn)
{
	struct poketrace_site s;

	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	return (const uint8_t *)s.addr;
}

static bool is_nop(void *fn)
{
	const uint8_t *b = site_bytes(fn);

	return b[0] == 0x0f && b[1] == 0x1f;
}

static atomic_int stop;

static void *toggler(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		set_site((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a);
		set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL);
	}
	return NULL;
}

static void *caller(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		CHECK(tgt_add(2, 3) == 5, "tgt_add");
	return NULL;
}

static struct poketrace_init_opts procmem = { sizeof(procmem), POKETRACE_SYNC_AUTO, POKETRACE_WRITE_PROCMEM, 0 };

/* A forked child's batch writes the child, never the parent (the child used
 * to write through the parent's /proc/self/mem descriptor). */
static void procmem_fork(void)
{
	int status;
	pid_t pid;

	OK(poketrace_init(&procmem));
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42)); /* warm: opens, closes */
	OK(set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL));
	for (int i = 0; i < 50; i++) {
		pid = fork();
		if (pid == 0)
			_exit(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42) == 0 &&
					      tgt_add(1, 1) == 42 ? 0 : 1);
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
		      "child %d: status %#x", i, status);
		CHECK(is_nop((void *)tgt_add) && tgt_add(1, 1) == 2, "the child's batch changed the parent");
	}
}

/* A program that closes descriptors it does not know and opens files: no
 * descriptor poketrace kept can name them (the log used to get code bytes). */
static void procmem_fdreuse(void)
{
	char path[] = "/tmp/pt_fdreuse_XXXXXX";
	struct stat st;
	int fd;

	OK(poketrace_init(&procmem));
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	for (int i = 3; i < 1024; i++)
		close(i);
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	OK(set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL));
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	CHECK(tgt_add(1, 1) == 42, "the site was not written");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 0, "the program's file got %ld bytes", (long)st.st_size);
	unlink(path);
}

/* Two threads writing their own executable memory on one page (the writable
 * window of one used to close under the other). */
static void *execmem_writer(void *arg)
{
	uint8_t code[64];
	void *mem;

	(void)arg;
	memset(code, 0xc3, sizeof(code));
	OK(poketrace_execmem_alloc((void *)tgt_add, sizeof(code), &mem));
	for (int i = 0; i < 20000; i++)
		OK(poketrace_execmem_write(mem, code, sizeof(code)));
	((void (*)(void))mem)();
	return NULL;
}

static void execmem_race(void)
{
	pthread_t t[2];

	OK(poketrace_init(NULL));
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, execmem_writer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

/* No descriptor left (the signal sync lists threads, the writer reads
 * /proc/self/maps): a commit fails before writing, and says so; a link
 * attach fails and its site stays a nop; with descriptors back, both work. */
static volatile long hits;
static void on_entry(struct poketrace_ctx *c)
{
	(void)c;
	hits++;
}

static void *idle(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return NULL;
}

static void emfile(void)
{
	struct poketrace_init_opts o = { sizeof(o), POKETRACE_SYNC_SIGNAL, 0, 0 };
	struct rlimit rl = { 64, 64 };
	struct poketrace_link *l = NULL, *warm = NULL;
	pthread_t t;
	int r, first = -1;

	OK(poketrace_init(&o));
	pthread_create(&t, NULL, idle, NULL);
	OK(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)tgt_mul, (void *)on_entry, NULL, &warm));
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;)
		if (first < 0)
			first = fd;
	r = set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42);
	CHECK(r == -EMFILE && is_nop((void *)tgt_add) && tgt_add(1, 1) == 2,
	      "a commit without descriptors returned %d, site %s: %s", r, is_nop((void *)tgt_add) ? "nop" : "changed",
	      poketrace_last_error());
	r = poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)tgt_add, (void *)on_entry, NULL, &l);
	CHECK(r < 0 && is_nop((void *)tgt_add), "a link attach without descriptors: %d", r);
	CHECK(tgt_add(2, 2) == 4 && hits == 0, "tgt_add after the failed attach");
	for (int fd = first; fd < 64; fd++)
		close(fd);
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	CHECK(tgt_add(1, 1) == 42, "the retry");
	OK(set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL));
	OK(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)tgt_add, (void *)on_entry, NULL, &l));
	CHECK(tgt_add(2, 2) == 4 && hits == 1, "the link after the retry: %ld hits", hits);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
}

/* A trap whose handler found no batch, then reads the site's byte while
 * the next batch on it writes its int3: that int3 is the batch's, not the
 * program's (the window widened as a preemption would). */
static void widen(void)
{
	for (volatile int i = 0; i < 20000; i++)
		;
}

static void late_trap(void)
{
	struct poketrace_stats st;
	pthread_t t[3];
	double end;

	OK(poketrace_init(NULL));
	trap_test_window = widen;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	pthread_create(&t[2], NULL, toggler, NULL);
	/* as long as it takes for late traps to have happened, 2 s at least */
	end = test_now() + 2;
	while ((poketrace_get_stats(&st), test_now() < end || !st.traps_restarted) && test_now() < end + 60)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	poketrace_get_stats(&st);
	printf("%lu emulated, %lu late traps re-executed, %lu passed on\n", (unsigned long)st.traps_emulated,
	       (unsigned long)st.traps_restarted, (unsigned long)st.traps_chained);
	CHECK(st.traps_chained == 0, "%lu traps at sites were taken for the program's own",
	      (unsigned long)st.traps_chained);
}

/* The signal sync and a running thread with every signal blocked.  Blocked
 * through glibc before poketrace_init: the engine's signal was kept open
 * (owned from load), so the batch works.  Blocked by a raw system call: the
 * batch is refused at once, naming the thread, instead of waiting forever. */
static atomic_int raw_blocked;

static void *spin_blocked(void *arg)
{
	unsigned long all = ~0UL;

	if (arg) {
		raw_sigprocmask(SIG_BLOCK, &all, NULL); /* inline: no interposer sees it */
		atomic_store(&raw_blocked, 1);
	}
	while (!atomic_load(&stop))
		;
	return NULL;
}

static void sigsync_blocked(void)
{
	struct poketrace_init_opts o = { sizeof(o), POKETRACE_SYNC_SIGNAL, 0, 0 };
	sigset_t all, none;
	pthread_t t, r;
	double t0;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* the thread inherits it */
	pthread_create(&t, NULL, spin_blocked, NULL);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	OK(poketrace_init(&o));
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	CHECK(tgt_add(1, 1) == 42, "patched");
	pthread_create(&r, NULL, spin_blocked, (void *)1);
	while (!atomic_load(&raw_blocked))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	t0 = test_now();
	rc = set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL);
	CHECK(rc == -EDEADLK && strstr(poketrace_last_error(), "blocked"), "a thread that cannot be reached: %d (%s)",
	      rc, poketrace_last_error());
	CHECK(tgt_add(1, 1) == 42, "the refused batch wrote");
	printf("refused after %.0f ms: %s\n", (test_now() - t0) * 1e3, poketrace_last_error());
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pthread_join(r, NULL);
	OK(set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL));
}

/* A SIGTRAP the program sends itself, with the default action, kills it as
 * it would without poketrace; ignored, it is ignored. */
static int child_status(int how)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		OK(poketrace_init(NULL));
		if (how == 2)
			signal(SIGTRAP, SIG_IGN);
		if (how == 0)
			raise(SIGTRAP);
		else
			kill(getpid(), SIGTRAP);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void user_sigtrap(void)
{
	int st;

	st = child_status(0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP, "raise(SIGTRAP): status %#x", st);
	st = child_status(1);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP, "kill(self, SIGTRAP): status %#x", st);
	st = child_status(2);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTRAP ignored: status %#x", st);
}

/* The program's SIGTRAP handler runs as it asked: its sa_mask blocked, on
 * its alternate stack (SIGTRAP itself stays deliverable: poketrace's rule). */
static volatile int usr1_blocked, on_altstack, trap_blocked_in;

static void own_trap(int sig)
{
	sigset_t cur;
	stack_t ss;

	(void)sig;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	sigaltstack(NULL, &ss);
	usr1_blocked = sigismember(&cur, SIGUSR1);
	trap_blocked_in = sigismember(&cur, SIGTRAP);
	on_altstack = !!(ss.ss_flags & SS_ONSTACK);
}

static void chain_flags(void)
{
	static char stack[65536];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof(stack) };
	struct sigaction sa = { 0 };

	OK(poketrace_init(NULL));
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	sa.sa_handler = own_trap;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	CHECK(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction");
	__asm__ volatile("int3");
	CHECK(usr1_blocked && on_altstack && !trap_blocked_in, "handler: SIGUSR1 blocked %d, on altstack %d, "
	      "SIGTRAP blocked %d", usr1_blocked, on_altstack, trap_blocked_in);
}

/* Code the program keeps writable stays writable (and R-X code R-X). */
static int prot_at(uintptr_t a)
{
	char line[512];
	unsigned long s, e;
	char perms[8] = "";
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && a >= s && a < e)
			break;
	if (f)
		fclose(f);
	return (perms[0] == 'r') | (perms[1] == 'w') << 1 | (perms[2] == 'x') << 2;
}

static void rwx_restore(void)
{
	uintptr_t page = (uintptr_t)site_bytes((void *)tgt_add) & ~4095UL;

	OK(poketrace_init(NULL));
	CHECK(prot_at(page) == 5, "the code starts R-X");
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	CHECK(prot_at(page) == 5, "R-X code came back as %d", prot_at(page));
	CHECK(mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0, "mprotect");
	OK(set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL));
	CHECK(prot_at(page) == 7, "RWX code came back as %d", prot_at(page));
	*(volatile uint8_t *)(page + 4095) = *(volatile uint8_t *)(page + 4095); /* the program writes */
	mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
}

/* A change holds its chunks of images writable while it writes them (one
 * window per chunk, not one per image) and gives them back R-X before any
 * site points at them: R-X from the batch's first int3 on. */
static int prot_mid_batch = -1;
static uintptr_t image_page;

static void prot_at_step(int step)
{
	if (step == POKE_STEP_FIRST_INT3)
		prot_mid_batch = prot_at(image_page);
}

static uintptr_t call_target(void *fn)
{
	const uint8_t *b = site_bytes(fn);
	int32_t rel;

	memcpy(&rel, b + 1, 4);
	return (uintptr_t)b + 5 + (uintptr_t)(intptr_t)rel;
}

static void images_rx(void)
{
	struct poketrace_link *l, *l2;

	OK(poketrace_init(NULL));
	OK(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)tgt_add, (void *)on_entry, NULL, &l));
	image_page = call_target((void *)tgt_add) & ~4095UL;
	CHECK(prot_at(image_page) == 5, "the image's page is %d after the batch, not R-X", prot_at(image_page));
	poke_test_hook = prot_at_step;
	OK(poketrace_link_attach_addr(POKETRACE_FENTRY, (uintptr_t)tgt_mul, (void *)on_entry, NULL, &l2));
	poke_test_hook = NULL;
	/* (the second image goes to the first's chunk: it has room) */
	CHECK(prot_mid_batch == 5, "the chunk of the images was %d when the batch began, not R-X",
	      prot_mid_batch);
	CHECK(prot_at(image_page) == 5 && prot_at(call_target((void *)tgt_mul) & ~4095UL) == 5,
	      "images' pages are %d and %d after the batch, not R-X", prot_at(image_page),
	      prot_at(call_target((void *)tgt_mul) & ~4095UL));
	CHECK(prot_at((uintptr_t)site_bytes((void *)tgt_add) & ~4095UL) == 5, "the program's code is not R-X");
	CHECK(tgt_add(2, 3) == 5 && tgt_mul(2, 3) == 6, "the hooked functions' results");
	OK(poketrace_link_detach(l));
	OK(poketrace_link_detach(l2));
}

/* _Fork() and a raw fork while another thread's batch is in flight: the
 * child finishes that batch (no int3 stays), never hangs, and refuses more
 * changes with a reason (the loader's lock may be held there). */
static void fork_mid_batch(void)
{
	pthread_t t;
	int finished = 0;

	OK(poketrace_init(NULL));
	pthread_create(&t, NULL, toggler, NULL);
	for (int i = 0; i < 80; i++) {
		int status;
		pid_t pid;

		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		pid = i % 2 ? (pid_t)syscall(SYS_fork) : _Fork();
		if (pid == 0) {
			const uint8_t *b;
			int r;

			alarm(20); /* a hang fails the case */
			b = (const uint8_t *)((uintptr_t)tgt_add); /* the site: clang's, no endbr64 */
			for (int k = 0; k < 1000; k++)
				if (tgt_add(k, 1) != k + 1)
					_exit(3);
			if (b[0] == 0xcc)
				_exit(4); /* the batch was left unfinished */
			r = set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL);
			_exit(r == 0 ? 0 : r == -EDEADLK ? 10 : 5);
		}
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
		CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 10),
		      "child %d: status %#x", i, status);
		finished += WEXITSTATUS(status) == 10;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%d of 80 children were forked in the middle of a batch and finished it\n", finished);
}

/* A signal handler calling poketrace while its thread is committing: the
 * inner call is refused, the outer batch completes. */
static volatile int inner_rc = 1;

static void reenter(int sig)
{
	(void)sig;
	inner_rc = set_site((void *)tgt_mul, POKETRACE_INSN_JMP, (void *)tramp_ret42);
}

static void raise_at_step(int step)
{
	if (step == 1)
		raise(SIGUSR1);
}

static void reentry(void)
{
	OK(poketrace_init(NULL));
	signal(SIGUSR1, reenter);
	poke_test_hook = raise_at_step;
	OK(set_site((void *)tgt_add, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	poke_test_hook = NULL;
	CHECK(inner_rc == -EDEADLK, "the call from the handler returned %d", inner_rc);
	CHECK(tgt_add(1, 1) == 42 && is_nop((void *)tgt_mul), "after the batch");
}

/* Options given after poketrace initialized itself on first use. */
static void init_after_use(void)
{
	struct poketrace_init_opts sig = { sizeof(sig), POKETRACE_SYNC_SIGNAL, 0, 0 };
	struct poketrace_init_opts same = { sizeof(same), POKETRACE_SYNC_AUTO, 0, 0 };
	struct poketrace_stats st;

	CHECK(poketrace_site_count() > 0, "sites");
	poketrace_get_stats(&st);
	if (st.sync_mode == POKETRACE_SYNC_MEMBARRIER)
		CHECK(poketrace_init(&sig) == -EALREADY && strstr(poketrace_last_error(), "first"),
		      "other options after an implicit init: %s", poketrace_last_error());
	OK(poketrace_init(&same));
	OK(poketrace_init(NULL));
}

/* gcc's =M,N entries (targets/prefix.c): the site is at the entry, where
 * M-N nops are (they used to be merged across the function's start). */
int pre72(int), pre83(int), pre51(int);

static void prefix_entries(void)
{
	struct poketrace_site s;

	OK(poketrace_init(NULL)); /* one thread: gcc's nops are normalized now */
	OK(poketrace_site_lookup((uintptr_t)pre72, &s));
	CHECK(s.addr == (uintptr_t)pre72 && s.symbol && !strcmp(s.symbol, "pre72") &&
	      (s.flags & POKETRACE_SITE_NORMALIZED) && !(s.flags & POKETRACE_SITE_UNPATCHABLE),
	      "pre72: site %#lx flags %#x", (unsigned long)s.addr, s.flags);
	OK(poketrace_site_lookup((uintptr_t)pre83, &s));
	CHECK(s.addr == (uintptr_t)pre83 && !(s.flags & POKETRACE_SITE_UNPATCHABLE), "pre83: flags %#x", s.flags);
	OK(poketrace_site_lookup((uintptr_t)pre51, &s));
	CHECK((s.flags & POKETRACE_SITE_UNPATCHABLE) && s.reason == POKETRACE_REASON_SHORT_NOPS,
	      "pre51 (4 nops at its entry): flags %#x reason %d", s.flags, s.reason);
	CHECK(pre72(41) == 42 && pre83(40) == 42 && pre51(39) == 42, "the functions after init");
	OK(set_site((void *)pre72, POKETRACE_INSN_JMP, (void *)tramp_ret42));
	CHECK(pre72(0) == 42, "pre72 patched");
	CHECK(set_site((void *)pre51, POKETRACE_INSN_JMP, (void *)tramp_ret42) == -EPERM && pre51(0) == 3,
	      "pre51 is not patchable");
	OK(set_site((void *)pre72, POKETRACE_INSN_NOP, NULL));
	CHECK(pre72(41) == 42, "pre72 back");
}

/* Sites on every other page (targets: scattered.o): making each page
 * writable by itself split the mapping in as many pieces (the kernel's
 * limit is 65530 mappings); sites of a mapping now share spans. */
extern long (*const sc_table[])(long);
extern const long sc_count;
static int lines_before, lines_during;

/* The mappings of this program's own file (a sanitizer maps memory of
 * its own meanwhile). */
static int map_lines(void)
{
	char line[4352], self[4096];
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f = fopen("/proc/self/maps", "r");

	self[len > 0 ? len : 0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, self) != NULL;
	if (f)
		fclose(f);
	return n;
}

static void count_at_step(int step)
{
	if (step == 2)
		lines_during = map_lines();
}

static void scattered_spans(void)
{
	struct poketrace_patch *p = calloc((size_t)sc_count, sizeof(*p));
	struct poketrace_batch_stats st;

	OK(poketrace_init(NULL));
	for (long i = 0; i < sc_count; i++)
		p[i] = patch_of((void *)sc_table[i], POKETRACE_INSN_JMP, (void *)tramp_ret42);
	lines_before = map_lines();
	poke_test_hook = count_at_step;
	OK(poketrace_patch(p, (size_t)sc_count, &st));
	poke_test_hook = NULL;
	printf("%ld sites on %ld pages: %u spans, %u mprotects, %d mappings during the batch (%d before)\n",
	       sc_count, sc_count, st.ranges, st.mprotects, lines_during, lines_before);
	CHECK(lines_during <= lines_before + 4, "the batch split the code into %d more mappings",
	      lines_during - lines_before);
	CHECK(sc_table[7](0) == 42, "patched");
	for (long i = 0; i < sc_count; i++)
		p[i].insn = POKETRACE_INSN_NOP;
	OK(poketrace_patch(p, (size_t)sc_count, NULL));
	/* back to R-X, the span's mapping may stay apart from a neighbour
	 * (the kernel merges no mappings whose written pages belong to
	 * different anon_vmas: it depends on where the span's ends fall) */
	CHECK(sc_table[7](0) == 8 && map_lines() <= lines_before + 2, "back: %d mappings, %d before",
	      map_lines(), lines_before);
	free(p);
}

TEST_MAIN(CASE(scattered_spans), CASE(prefix_entries), CASE(procmem_fork), CASE(procmem_fdreuse), CASE(execmem_race), CASE(emfile), CASE(late_trap),
	  CASE(sigsync_blocked), CASE(user_sigtrap), CASE(chain_flags), CASE(rwx_restore), CASE(images_rx), CASE(fork_mid_batch),
	  CASE(reentry), CASE(init_after_use))
