/* Signal hygiene: the int3 window must never kill the process, and the
 * program's own SIGTRAP handling must keep working. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86_64/poke.h"
#include "harness.h"
#include "targets/funcs.h"
#include "targets/tramp.h"

static void set_site(void *fn, enum poketrace_insn_kind k, void *target)
{
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)fn, k, target }, 1, NULL));
}

static bool trap_blocked(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGTRAP);
}

/* -------------------------------------------- the program's own SIGTRAP */

static volatile int handled, depth, max_depth, nested_calls_ok;

static void own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	CHECK(sig == SIGTRAP && si->si_code == SI_KERNEL, "sig %d code %d", sig, si->si_code);
	handled++;
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (depth == 1) {
		/* A trap inside a SIGTRAP handler: handled again, not fatal. */
		__asm__ volatile("int3");
		/* And a patched function called from the handler. */
		nested_calls_ok = tgt_mul(6, 7) == 42;
	}
	depth--;
}

static void own_handler_chain(void)
{
	struct sigaction sa = { 0 }, old;

	OK(poketrace_init(NULL));
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask); /* SIGTRAP in sa_mask: must be ignored */
	CHECK(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction");
	CHECK(sigaction(SIGTRAP, NULL, &old) == 0 && old.sa_sigaction == own_handler,
	      "sigaction(SIGTRAP) does not return the program's own handler");
	set_site((void *)tgt_mul, POKETRACE_INSN_CALL, (void *)tramp_count_a);

	__asm__ volatile("int3"); /* the program's own breakpoint */
	CHECK(handled == 2 && max_depth == 2, "handled %d, depth %d", handled, max_depth);
	CHECK(nested_calls_ok && count_a == 1, "patched call from the handler");

	/* Patching still works after the program took SIGTRAP. */
	set_site((void *)tgt_mul, POKETRACE_INSN_NOP, NULL);
	CHECK(tgt_mul(2, 2) == 4 && count_a == 1, "unpatched");

	/* signal(): returns the previous handler and installs the next. */
	CHECK(signal(SIGTRAP, SIG_DFL) == (__sighandler_t)(void *)own_handler, "signal() old handler");
	CHECK(sigaction(SIGTRAP, NULL, &old) == 0 && old.sa_handler == SIG_DFL, "SIG_DFL restored");
}

/* A trap of the program's during a batch in flight, whose handler calls a
 * function whose site holds poketrace's int3 right now. */
static volatile int hook_ran;

static void batch_hook(int step)
{
	if (step != 1)
		return;
	CHECK(((uint8_t *)tgt_add)[0] == 0xcc, "batch not in flight");
	__asm__ volatile("int3");
	hook_ran = 1;
}

static void own_trap_during_batch(void)
{
	struct sigaction sa = { 0 };

	OK(poketrace_init(NULL));
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction");
	poke_test_hook = batch_hook;
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_CALL,
						      (void *)tramp_count_b }, 1, NULL));
	poke_test_hook = NULL;
	CHECK(hook_ran && handled == 2, "own traps handled: %d", handled);
	CHECK(tgt_add(1, 2) == 3 && count_b == 1, "count_b %ld", count_b);
}

/* ------------------------------------------------- threads blocking signals */

static atomic_int stop;
static atomic_long calls;

static void *blocked_worker(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	if (arg)
		CHECK(pthread_sigmask(SIG_SETMASK, &all, NULL) == 0, "pthread_sigmask");
	else
		CHECK(sigprocmask(SIG_BLOCK, &all, NULL) == 0, "sigprocmask");
	CHECK(!trap_blocked(), "SIGTRAP is blocked in a worker");
	while (!atomic_load(&stop)) {
		CHECK(tgt_add(2, 3) == 5, "result");
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void blocked_signals(void)
{
	struct poketrace_stats s0, s1;
	pthread_t th[2];
	sigset_t one;

	OK(poketrace_init(NULL));
	sigemptyset(&one);
	sigaddset(&one, SIGTRAP);
	CHECK(pthread_sigmask(SIG_BLOCK, &one, NULL) == 0 && !trap_blocked(), "SIG_BLOCK SIGTRAP");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	CHECK(sigset(SIGTRAP, SIG_HOLD) != SIG_ERR && !trap_blocked(), "sigset SIG_HOLD");
#pragma GCC diagnostic pop
	pthread_create(&th[0], NULL, blocked_worker, (void *)1);
	pthread_create(&th[1], NULL, blocked_worker, NULL);
	poketrace_get_stats(&s0);
	/* 600 changes, then as many as it takes for a blocked-signal thread to
	 * have met an int3 (the scheduler decides when they run); the site
	 * ends as a nop */
	for (int i = 0; i < 2000000; i++) {
		set_site((void *)tgt_add, i % 2 ? POKETRACE_INSN_NOP : POKETRACE_INSN_CALL,
			 (void *)tramp_count_a);
		if (i >= 599 && i % 2 && (poketrace_get_stats(&s1), s1.traps_emulated > s0.traps_emulated))
			break;
	}
	atomic_store(&stop, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	poketrace_get_stats(&s1);
	CHECK(atomic_load(&calls) > 0, "workers made no calls");
	printf("%ld calls, %lu traps emulated in blocked-signal threads\n", atomic_load(&calls),
	       (unsigned long)(s1.traps_emulated - s0.traps_emulated));
	CHECK(s1.traps_emulated > s0.traps_emulated, "no trap happened: the race was not run");
}

/* A handler whose sa_mask holds everything: SIGTRAP must not be blocked
 * while it runs, or a patch site reached from it would kill the process. */
static volatile int usr1_ok;

static void usr1(int sig)
{
	(void)sig;
	usr1_ok = !trap_blocked() && tgt_void() == 7;
}

static void handler_mask(void)
{
	struct sigaction sa = { 0 }, old;

	OK(poketrace_init(NULL));
	sa.sa_handler = usr1;
	sigfillset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && !sigismember(&old.sa_mask, SIGTRAP) &&
	      sigismember(&old.sa_mask, SIGINT), "SIGTRAP still in sa_mask");
	set_site((void *)tgt_void, POKETRACE_INSN_CALL, (void *)tramp_count_a);
	raise(SIGUSR1);
	CHECK(usr1_ok && count_a == 1, "handler ran with SIGTRAP deliverable");
}

/* ---------------------------------------------- default action stays fatal */

static int child_status(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	return status;
}

static void trap_default(void)
{
	__asm__ volatile("int3");
}

static void trap_ignored(void)
{
	signal(SIGTRAP, SIG_IGN);
	__asm__ volatile("int3");
}

static void default_action(void)
{
	int st;

	OK(poketrace_init(NULL));
	st = child_status(trap_default);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP, "unhandled int3: status %#x", st);
	st = child_status(trap_ignored);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP, "ignored int3: status %#x", st);
	/* A SIGTRAP sent by kill() to a program ignoring it stays ignored. */
	signal(SIGTRAP, SIG_IGN);
	raise(SIGTRAP);
}

/* ------------------------------------- the handler's decisions, one by one */

/* poketrace's SIGTRAP handler as the kernel sees it (the real sigaction,
 * not the interposed one, which would answer with the program's handler). */
extern int __sigaction(int, const struct sigaction *, struct sigaction *);
static void (*pt_handler)(int, siginfo_t *, void *);
static ucontext_t fake_uc;
static uint64_t fake_stack[64];
static volatile int program_saw;

static void program_trap(int sig)
{
	(void)sig;
	program_saw++;
}

/* Delivers a trap as the kernel reports an int3 executed at `at`. */
static void deliver(uintptr_t at)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGTRAP;
	si.si_code = SI_KERNEL;
	memset(&fake_uc, 0, sizeof(fake_uc));
	fake_uc.uc_mcontext.gregs[REG_RIP] = (greg_t)(at + 1);
	fake_uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)&fake_stack[32];
	pt_handler(SIGTRAP, &si, &fake_uc);
}

static uintptr_t site_of(void *fn)
{
	struct poketrace_site s;

	OK(poketrace_site_lookup((uintptr_t)fn, &s));
	return s.addr;
}

static void in_flight_hook(int step)
{
	uintptr_t site = site_of((void *)tgt_add);

	if (step != 2)
		return;
	/* In flight: emulate the new instruction, `call tramp_count_b`. */
	deliver(site);
	CHECK((uintptr_t)fake_uc.uc_mcontext.gregs[REG_RIP] == (uintptr_t)tramp_count_b,
	      "in flight: continues at %#lx, not at the new call's target",
	      (unsigned long)fake_uc.uc_mcontext.gregs[REG_RIP]);
	CHECK((uintptr_t)fake_uc.uc_mcontext.gregs[REG_RSP] == (uintptr_t)&fake_stack[31] &&
	      fake_stack[31] == site + 5, "in flight: the return address site+5 was not pushed");
}

static void handler_decisions(void)
{
	struct poketrace_stats s0, s1;
	struct sigaction cur;
	uintptr_t site;
	void *cc;

	OK(poketrace_init(NULL));
	CHECK(__sigaction(SIGTRAP, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO), "handler");
	pt_handler = cur.sa_sigaction;
	CHECK(signal(SIGTRAP, program_trap) == SIG_DFL, "program handler");
	site = site_of((void *)tgt_add);
	poketrace_get_stats(&s0);

	/* 1. The batch completed while the signal was pending: the byte is no
	 *    int3 any more and poketrace wrote one there: re-run the site. */
	set_site((void *)tgt_add, POKETRACE_INSN_CALL, (void *)tramp_count_a);
	set_site((void *)tgt_add, POKETRACE_INSN_NOP, NULL);
	deliver(site);
	CHECK((uintptr_t)fake_uc.uc_mcontext.gregs[REG_RIP] == site, "not restarted at the site");
	CHECK(program_saw == 0, "a restart reached the program's handler");

	/* 2. An int3 that is no site of a batch: the program's; and one gone
	 *    from where poketrace never wrote one (the program took its own
	 *    back): the program's too, not re-run. */
	OK(poketrace_execmem_alloc((void *)tgt_add, 16, &cc)); /* int3-filled */
	deliver((uintptr_t)cc);
	CHECK(program_saw == 1, "the program's int3 did not reach its handler");
	deliver(site_of((void *)tgt_mul));
	CHECK(program_saw == 2, "a trap where poketrace never wrote was taken for a late one");

	/* 3. A site whose batch is in flight (checked inside the commit). */
	poke_test_hook = in_flight_hook;
	OK(poketrace_patch(&(struct poketrace_patch){ (uintptr_t)tgt_add, POKETRACE_INSN_CALL,
						      (void *)tramp_count_b }, 1, NULL));
	poke_test_hook = NULL;

	poketrace_get_stats(&s1);
	CHECK(s1.traps_restarted == s0.traps_restarted + 1, "restarted %lu",
	      (unsigned long)(s1.traps_restarted - s0.traps_restarted));
	CHECK(s1.traps_chained == s0.traps_chained + 2, "chained %lu",
	      (unsigned long)(s1.traps_chained - s0.traps_chained));
	CHECK(s1.traps_emulated >= s0.traps_emulated + 1, "emulated");
}

TEST_MAIN(CASE(own_handler_chain), CASE(own_trap_during_batch), CASE(blocked_signals),
	  CASE(handler_mask), CASE(default_action), CASE(handler_decisions))
