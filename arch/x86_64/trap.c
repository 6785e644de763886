/* SIGTRAP: emulate what is being written.
 *
 * A thread that executes the int3 of a site in flight continues exactly as if
 * it had executed the NEW instruction (the kernel's int3_emulate_*):
 *   call T -> push site+5, continue at T  (the push lands in the first word of
 *             the interrupted code's red zone, which the real call would have
 *             written too; the kernel put the signal frame below the red zone)
 *   jmp T  -> continue at T
 *   nop    -> continue at site+5
 * An int3 that is in no batch: if the byte is no longer 0xCC and poketrace
 * once wrote an int3 there, the batch completed while the signal was
 * pending — run it again from the site.  Otherwise it is the program's own trap, handed
 * to the program's handler (or the default action).
 *
 * Everything here is async-signal-safe, lock-free, and calls nothing that can
 * be a patch site: only this library's own code and inline system calls. */
#include "arch/x86_64/trap.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <ucontext.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/poke.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/sigguard.h"
#include "arch/x86_64/sync.h"

void (*trap_test_window)(void);

PT_NOSANITIZE static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *gr = uc->uc_mcontext.gregs;

	if (si->si_code == SI_KERNEL) {
		uintptr_t site = (uintptr_t)gr[REG_RIP] - 1, target;
		uint8_t kind, byte;

		/* No batch has the site: then what is there now decides.  But
		 * if a batch was published or withdrawn meanwhile (the
		 * generation moved), the byte may be a new batch's int3 written
		 * after the lookup: look again.  A batch is published before
		 * its first int3 is written, so an int3 read with the
		 * generation unchanged is not one of ours. */
		for (int tries = 0; tries < 1000; tries++) {
			unsigned long gen = poke_generation();

			if (poke_trap_lookup(site, &kind, &target)) {
				if (kind == INSN_CALL) {
					gr[REG_RSP] -= 8;
					*(uint64_t *)gr[REG_RSP] = site + INSN_SITE_LEN;
				}
				gr[REG_RIP] = (greg_t)target;
				poke_count_trap(0);
				return;
			}
			if (trap_test_window)
				trap_test_window(); /* tests: a preemption right here */
			byte = *(volatile uint8_t *)site;
			atomic_thread_fence(memory_order_seq_cst);
			if (poke_generation() == gen)
				break;
		}
		/* The int3 is gone and poketrace wrote one there: a batch ended
		 * while the signal was pending; run what is there now. */
		if (byte != INSN_INT3 && poke_ever_written(site)) {
			gr[REG_RIP] = (greg_t)site;
			poke_count_trap(1);
			return;
		}
	}
	poke_count_trap(2);
	sigguard_chain(sig, si, ucv);
}

int trap_install(void)
{
	int r = sigguard_own(SIGTRAP, trap_handler);

	if (r == 0)
		sigguard_harden();
	return r;
}

/* Signal hygiene from the moment the library is loaded, before main and
 * before the program can block SIGTRAP or install its own handler. */
__attribute__((constructor(101))) static void trap_load(void)
{
	sync_preinstall(); /* the engine's default signal: kept unblocked from now on too */
	trap_install();
	poke_atfork_install();
}
