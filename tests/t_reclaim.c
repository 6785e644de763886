/* Reclaiming retired images (issue 13): an image is freed only when no
 * thread can run it again, whatever stack its callers sleep on, and the
 * exit handlers a call runs are those of the links attached both when it
 * entered and when it returns.  Freed executable memory is refilled with
 * int3, as the next attach would reuse it, so that a use-after-free shows as
 * SIGTRAP instead of passing silently. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "targets/reclaimfns.h"

static struct poketrace_link *attach(enum poketrace_link_kind k, const char *fn, void *h)
{
	struct poketrace_link_opts o = { sizeof(o), NULL, 0, 0 };
	struct poketrace_link *l = NULL;

	OK(poketrace_link_attach(k, fn, h, &o, &l));
	return l;
}

/* The freed images' memory, taken again and filled with int3. */
static void refill_freed(void *near)
{
	static unsigned char cc[65536];

	memset(cc, 0xcc, sizeof(cc));
	for (int i = 0; i < 8; i++) {
		void *p;

		if (poketrace_execmem_alloc(near, sizeof(cc), &p) == 0)
			OK(poketrace_execmem_write(p, cc, sizeof(cc)));
	}
}

static struct poketrace_stats stats(void)
{
	struct poketrace_stats st;

	poketrace_get_stats(&st);
	return st;
}

static atomic_long exits_a, exits_b, entries;

static void exit_a(struct poketrace_ctx *c)
{
	(void)c;
	atomic_fetch_add(&exits_a, 1);
}

static void exit_b(struct poketrace_ctx *c)
{
	(void)c;
	atomic_fetch_add(&exits_b, 1);
}

static void on_entry(struct poketrace_ctx *c)
{
	(void)c;
	atomic_fetch_add(&entries, 1);
}

static void *blocker(void *arg)
{
	return (void *)(arg ? rf_block_mlocked(41) : rf_block(41));
}

static void wake_blocker(void)
{
	CHECK(write(rf_pipe[1], "x", 1) == 1, "write");
}

static void start_blocked(pthread_t *t, void *(*fn)(void *), void *arg)
{
	rf_inside = 0;
	CHECK(pipe(rf_pipe) == 0, "pipe");
	pthread_create(t, NULL, fn, arg);
	CHECK(WAIT_FOR(rf_inside, 10), "the thread never got into the body");
}

/* A detached fexit link: its image is freed while the call sleeps in the
 * body (nothing of the image is on that stack), and the call returns to the
 * caller without its handler. */
static void detached_while_in(void *(*fn)(void *), void *arg, const char *sym)
{
	struct poketrace_link *l;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FEXIT, sym, (void *)exit_a);
	start_blocked(&t, fn, arg);
	OK(poketrace_link_detach(l));
	OK(poketrace_quiesce(5000));
	CHECK(stats().images_retired == 0 && stats().images_reclaimed >= 1, "the image was not reclaimed");
	refill_freed((void *)rf_block);
	wake_blocker();
	pthread_join(t, &ret);
	CHECK((long)ret == 42, "the body returned %ld to its caller", (long)ret);
	CHECK(exits_a == 0, "a detached fexit handler ran");
}

static void detach_in_body(void)
{
	detached_while_in(blocker, NULL, "rf_block");
}

/* mlock of a stack buffer splits the stack into several mappings. */
static void mlock_split(void)
{
	detached_while_in(blocker, (void *)1, "rf_block_mlocked");
}

/* An fexit link that stays attached runs for a call that entered before
 * any number of other changes; one attached after the call entered does
 * not; after the calls, both run for new calls. */
static void fexit_across_replans(void)
{
	struct poketrace_link *a, *b, *c;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	a = attach(POKETRACE_FEXIT, "rf_block", (void *)exit_a);
	start_blocked(&t, blocker, NULL);
	c = attach(POKETRACE_FENTRY, "rf_block", (void *)on_entry); /* re-plan 1 */
	b = attach(POKETRACE_FEXIT, "rf_block", (void *)exit_b);   /* re-plan 2 */
	OK(poketrace_link_detach(c));                               /* re-plan 3 */
	OK(poketrace_quiesce(5000));
	refill_freed((void *)rf_block);
	wake_blocker();
	pthread_join(t, &ret);
	CHECK((long)ret == 42, "returned %ld", (long)ret);
	CHECK(exits_a == 1, "the fexit link attached throughout ran %ld times for the call (1 expected)",
	      (long)exits_a);
	CHECK(exits_b == 0, "an fexit link attached after the call entered ran for it");
	wake_blocker();
	CHECK(rf_block(1) == 2 && exits_a == 2 && exits_b == 1, "a new call: exits %ld and %ld", (long)exits_a,
	      (long)exits_b);
	OK(poketrace_link_detach(a));
	OK(poketrace_link_detach(b));
}

/* ------------------------------------------------ stacks no scan finds */

static char coro_stack[256 * 1024] __attribute__((aligned(16)));

static void coro_fn(void)
{
	rf_inside = 1;
	while (!rf_go) /* asleep on the coroutine's stack */
		usleep(1000);
	swapcontext(&rf_coro_ctx, &rf_main_ctx);
}

static void *resumer(void *arg)
{
	(void)arg;
	return (void *)rf_resume(41);
}

/* The caller of a hooked function runs a coroutine (swapcontext): its sp is
 * on a stack in .bss, its return address on its own thread stack. */
static void coroutine(void)
{
	struct poketrace_link *l;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	getcontext(&rf_coro_ctx);
	rf_coro_ctx.uc_stack.ss_sp = coro_stack;
	rf_coro_ctx.uc_stack.ss_size = sizeof(coro_stack);
	makecontext(&rf_coro_ctx, coro_fn, 0);
	l = attach(POKETRACE_FEXIT, "rf_resume", (void *)exit_a);
	pthread_create(&t, NULL, resumer, NULL);
	CHECK(WAIT_FOR(rf_inside, 10), "the coroutine never ran");
	OK(poketrace_link_detach(l));
	OK(poketrace_quiesce(5000));
	refill_freed((void *)rf_resume);
	rf_go = 1;
	pthread_join(t, &ret);
	CHECK((long)ret == 42 && exits_a == 0, "returned %ld, %ld detached exits", (long)ret, (long)exits_a);
}

static volatile int in_sig, release_sig;

static void on_usr1(int s)
{
	(void)s;
	in_sig = 1;
	while (!release_sig)
		usleep(1000);
	rf_go = 1;
}

static void *alt_worker(void *arg)
{
	stack_t ss = { .ss_sp = malloc(1 << 16), .ss_size = 1 << 16 }, old;
	long r;

	(void)arg;
	sigaltstack(&ss, &old);
	r = rf_spin(41);
	sigaltstack(&old, NULL); /* the one it had (ASan unmaps its own at exit) */
	free(ss.ss_sp);
	return (void *)r;
}

/* A signal handler sleeping on a sigaltstack, the interrupted body's frames
 * on the thread's stack. */
static void sigaltstack_handler(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	struct poketrace_link *l;
	pthread_t t;
	void *ret;

	sigaction(SIGUSR1, &sa, NULL);
	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FEXIT, "rf_spin", (void *)exit_a);
	pthread_create(&t, NULL, alt_worker, NULL);
	CHECK(WAIT_FOR(stats().images_live >= 1, 1), "no image");
	while (!in_sig) {
		pthread_kill(t, SIGUSR1);
		WAIT_FOR(in_sig, 0.05);
	}
	OK(poketrace_link_detach(l));
	OK(poketrace_quiesce(5000));
	refill_freed((void *)rf_spin);
	release_sig = 1;
	pthread_join(t, &ret);
	CHECK((long)ret == 42 && exits_a == 0, "returned %ld, %ld detached exits", (long)ret, (long)exits_a);
}

/* ------------------------------------------------- what /proc tells */

/* A user in 120 groups: the status file is longer than a page. */
static void many_groups(void)
{
	gid_t g[120];

	for (int i = 0; i < 120; i++)
		g[i] = 1000000 + (gid_t)i;
	if (setgroups(120, g) < 0) {
		CHECK(errno == EPERM, "setgroups: %s", strerror(errno));
		printf("not root: the groups cannot be set, the case runs with the current ones\n");
	}
	detached_while_in(blocker, NULL, "rf_block");
}

static volatile int h_inside, h_release;

static void blocking_handler(struct poketrace_ctx *c)
{
	(void)c;
	h_inside = 1;
	while (!h_release)
		usleep(1000);
}

static void *worker_once(void *arg)
{
	(void)arg;
	return (void *)rf_work(1);
}

/* One descriptor left: the task list opens, a thread's status does not.
 * That thread cannot be judged (here it is inside a handler of the image),
 * so nothing is freed; with descriptors back it is judged. */
static void no_descriptors(void)
{
	struct poketrace_link *l;
	struct rlimit rl;
	pthread_t t;
	int fds[4096], n = 0;
	void *ret;

	OK(poketrace_init(NULL));
	l = attach(POKETRACE_FENTRY, "rf_work", (void *)blocking_handler);
	pthread_create(&t, NULL, worker_once, NULL);
	CHECK(WAIT_FOR(h_inside, 10), "the handler never ran");
	OK(poketrace_link_detach(l));
	CHECK(stats().images_retired == 1, "the image in use was freed at detach");
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 256 < rl.rlim_max ? 256 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	while (n < 4096 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	CHECK(errno == EMFILE, "filling the descriptor table: %s", strerror(errno));
	for (int keep = 0; keep < 2; keep++) {
		close(fds[--n]); /* 1, then 2 descriptors left */
		CHECK(poketrace_quiesce(20) == -ETIMEDOUT, "an image was freed with %d descriptor(s) left",
		      keep + 1);
		fds[n] = open("/dev/null", O_RDONLY);
		CHECK(fds[n++] >= 0, "the descriptor came back");
	}
	while (n)
		close(fds[--n]);
	CHECK(poketrace_quiesce(20) == -ETIMEDOUT, "freed while a thread is in its handler");
	refill_freed((void *)rf_work);
	h_release = 1;
	pthread_join(t, &ret);
	CHECK((long)ret == 4, "returned %ld", (long)ret);
	OK(poketrace_quiesce(5000));
}

static volatile int stop, deep_ready;
static void *deep_stack;

static void *spinner(void *arg)
{
	(void)arg;
	while (!stop)
		CHECK(rf_work(2) == 7, "rf_work");
	return NULL;
}

static void *deep(void *arg)
{
	volatile char *p = alloca(48L << 20); /* a deep stack, as a recursive thread has */
	char c;

	(void)arg;
	p[0] = 0;
	deep_ready = 1;
	if (read(rf_pipe[0], &c, 1) != 1)
		return NULL;
	return (void *)p;
}

static volatile int kill_now, killed;
static pthread_t deep_thread;

static void *killer(void *arg)
{
	(void)arg;
	while (!kill_now)
		usleep(1000);
	wake_blocker();
	pthread_join(deep_thread, NULL);
	munmap(deep_stack, 64L << 20); /* the program frees the stack it gave the thread */
	killed = 1;
	return NULL;
}

/* A thread exits and its stack is unmapped while the images are judged
 * (the deep stack takes long to read). */
static void exiting_stack(void)
{
	const size_t size = 64L << 20;
	pthread_t s, k;
	pthread_attr_t at;
	int after = 0;

	OK(poketrace_init(NULL));
	CHECK(pipe(rf_pipe) == 0, "pipe");
	pthread_create(&s, NULL, spinner, NULL);
	deep_stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(deep_stack != MAP_FAILED, "mmap");
	pthread_attr_init(&at);
	pthread_attr_setstack(&at, deep_stack, size);
	pthread_create(&deep_thread, &at, deep, NULL);
	CHECK(WAIT_FOR(deep_ready, 10), "the deep thread did not start");
	pthread_create(&k, NULL, killer, NULL);
	for (int i = 0; after < 20; i++) {
		struct poketrace_link *l = attach(POKETRACE_FEXIT, "rf_work", (void *)exit_a);

		kill_now = i >= 3;
		OK(poketrace_link_detach(l));
		after += killed;
	}
	pthread_join(k, NULL);
	stop = 1;
	pthread_join(s, NULL);
	OK(poketrace_quiesce(5000));
}

/* An io_uring worker (no user context: sp and pc read as 0) holds nothing. */
static void io_uring_worker(void)
{
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqes;
	struct poketrace_link *l;
	static char buf[16];
	unsigned *tail, *arr;
	char *sq;
	int fd;

	OK(poketrace_init(NULL));
	CHECK(pipe(rf_pipe) == 0, "pipe");
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		CHECK(errno == ENOSYS || errno == EPERM, "io_uring_setup: %s", strerror(errno));
		printf("io_uring is not available here (%s): nothing to test\n", strerror(errno));
		return;
	}
	sq = mmap(0, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		  IORING_OFF_SQ_RING);
	sqes = mmap(0, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		    IORING_OFF_SQES);
	CHECK(sq != MAP_FAILED && sqes != MAP_FAILED, "mmap of the rings");
	tail = (unsigned *)(sq + p.sq_off.tail);
	arr = (unsigned *)(sq + p.sq_off.array);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_READ;
	sqes[0].fd = rf_pipe[0];
	sqes[0].addr = (unsigned long)buf;
	sqes[0].len = 1;
	sqes[0].flags = IOSQE_ASYNC; /* a worker thread blocks in the read */
	arr[0] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	CHECK(syscall(__NR_io_uring_enter, fd, 1, 0, 0, NULL, 0) == 1, "io_uring_enter: %s", strerror(errno));
	l = attach(POKETRACE_FEXIT, "rf_work", (void *)exit_a);
	CHECK(rf_work(1) == 4 && exits_a == 1, "the link");
	OK(poketrace_link_detach(l));
	OK(poketrace_quiesce(5000));
	wake_blocker();
	close(fd);
}

/* -------------------------------------------------------------- churn */

static atomic_long bad, calls, interrupted;

static void napping_handler(struct poketrace_ctx *c)
{
	(void)c;
	rf_nap(50);
}

static void *napper(void *arg)
{
	(void)arg;
	while (!stop) {
		long r = rf_nap(200);

		if (r == -1)
			atomic_fetch_add(&interrupted, 1); /* see below */
		else if (r != 200)
			atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	while (!stop) {
		for (long i = 0; i < 1000; i++)
			if (rf_work(i) != i * 3 + 1)
				atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&calls, 1000);
	}
	return NULL;
}

/* 2 threads in bodies and handlers that sleep, 1 CPU-bound, 10,000 rounds
 * of attach and detach: no wrong result, retired images stay few, and
 * every one is reclaimed.  A sleep interrupted by the signal that looks at
 * a thread seen running (it entered nanosleep in that instant: EINTR) is
 * counted and printed, not failed: rare, and the README says it. */
/* Under ASan each batch costs ~15 times more: fewer rounds (2 images each),
 * and no bound on how many wait at once (its slowness lets thousands pile
 * up at times: the bound is the plain build's to assert). */
#ifdef __SANITIZE_ADDRESS__
#define CHURN_ROUNDS 2000
#define CHURN_MOST 4000
#else
#define CHURN_ROUNDS 10000
#define CHURN_MOST 2000
#endif

static void churn(void)
{
	pthread_t t[3];
	uint64_t most = 0;
	struct poketrace_stats st;

	OK(poketrace_init(NULL));
	pthread_create(&t[0], NULL, napper, NULL);
	pthread_create(&t[1], NULL, napper, NULL);
	pthread_create(&t[2], NULL, worker, NULL);
	for (int i = 0; i < CHURN_ROUNDS; i++) {
		struct poketrace_link_spec s[] = {
			{ POKETRACE_FEXIT, "rf_nap", 0, (void *)napping_handler, { 0 } },
			{ POKETRACE_FENTRY, "rf_nap", 0, (void *)napping_handler, { 0 } },
			{ POKETRACE_FEXIT, "rf_work", 0, (void *)exit_a, { 0 } },
		};
		struct poketrace_link *l[3];

		OK(poketrace_links_attach(s, 3));
		for (int k = 0; k < 3; k++)
			l[k] = s[k].link;
		OK(poketrace_links_detach(l, 3));
		st = stats();
		most = st.images_retired > most ? st.images_retired : most;
	}
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	OK(poketrace_quiesce(5000));
	st = stats();
	printf("%ld calls, %ld wrong, %ld sleeps interrupted; images retired at most %lu at once, %lu reclaimed, "
	       "%lu left\n", (long)calls, (long)bad, (long)interrupted, (unsigned long)most,
	       (unsigned long)st.images_reclaimed, (unsigned long)st.images_retired);
	CHECK(bad == 0, "%ld wrong results", (long)bad);
	CHECK(st.images_retired == 0 && st.images_reclaimed >= 2 * CHURN_ROUNDS, "reclaimed %lu, left %lu",
	      (unsigned long)st.images_reclaimed, (unsigned long)st.images_retired);
	/* bounded: not a share of the thousands retired that grows with the rounds */
	CHECK(most <= CHURN_MOST, "%lu images were waiting at once: retired memory grows with the churn",
	      (unsigned long)most);
}

/* ---------------------------------------------------------------- ops */

static volatile int cb_inside, cb_release;
static int *cb_data;

static void blocking_cb(struct poketrace_ctx *c)
{
	int *d = c->data;

	if (!cb_inside) {
		cb_inside = 1;
		while (!cb_release)
			usleep(1000);
	}
	(*d)++;
}

static void *ops_caller(void *arg)
{
	(void)arg;
	return (void *)rf_work(1);
}

/* After ops_unregister, poketrace_quiesce returns once no thread can still
 * be in the callback: its data can be freed then, not before. */
static void ops_unregister_waits(void)
{
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, "rf_work", NULL, NULL };
	struct poketrace_ops *o;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	cb_data = calloc(1, sizeof(*cb_data));
	oo.data = cb_data;
	OK(poketrace_ops_register(blocking_cb, &oo, &o));
	pthread_create(&t, NULL, ops_caller, NULL);
	CHECK(WAIT_FOR(cb_inside, 10), "the callback never ran");
	OK(poketrace_ops_unregister(o));
	CHECK(poketrace_quiesce(50) == -ETIMEDOUT, "quiesce returned while a thread is in the callback");
	cb_release = 1;
	OK(poketrace_quiesce(5000));
	refill_freed((void *)rf_work);
	pthread_join(t, &ret);
	CHECK((long)ret == 4 && *cb_data == 1, "returned %ld, data %d", (long)ret, *cb_data);
	free(cb_data);
	CHECK(rf_work(2) == 7, "after unregister");
}

/* A handler that switched to a coroutine's stack and blocks there: the
 * return address into its image is on the thread's own stack, not the one
 * its sp is on; the guard (read through the registry of threads' guards)
 * keeps the image. */
static ucontext_t h_main, h_coro;
static char h_stack[256 * 1024] __attribute__((aligned(16)));
static volatile int h_coro_in;

static void h_coro_fn(void)
{
	char c;

	h_coro_in = 1;
	if (read(rf_pipe[0], &c, 1) != 1) /* blocked, on the coroutine's stack */
		abort();
	swapcontext(&h_coro, &h_main);
}

static void switching_handler(struct poketrace_ctx *c)
{
	(void)c;
	getcontext(&h_coro);
	h_coro.uc_stack.ss_sp = h_stack;
	h_coro.uc_stack.ss_size = sizeof(h_stack);
	makecontext(&h_coro, h_coro_fn, 0);
	swapcontext(&h_main, &h_coro);
}

static void handler_switched_stack(void)
{
	struct poketrace_link *l;
	pthread_t t;
	void *ret;

	OK(poketrace_init(NULL));
	CHECK(pipe(rf_pipe) == 0, "pipe");
	l = attach(POKETRACE_FENTRY, "rf_work", (void *)switching_handler);
	pthread_create(&t, NULL, worker_once, NULL);
	CHECK(WAIT_FOR(h_coro_in, 10), "the coroutine never ran");
	OK(poketrace_link_detach(l));
	CHECK(poketrace_quiesce(50) == -ETIMEDOUT, "the image was freed while its handler is blocked on "
	      "another stack");
	refill_freed((void *)rf_work);
	wake_blocker();
	pthread_join(t, &ret);
	CHECK((long)ret == 4, "returned %ld", (long)ret);
	OK(poketrace_quiesce(5000));
}

TEST_MAIN(CASE(handler_switched_stack), CASE(detach_in_body), CASE(mlock_split), CASE(fexit_across_replans), CASE(coroutine),
	  CASE(sigaltstack_handler), CASE(many_groups), CASE(no_descriptors), CASE(exiting_stack),
	  CASE(io_uring_worker), CASE(churn), CASE(ops_unregister_waits))
