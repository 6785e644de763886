/* vfork, interposed: the child borrows the calling thread's memory, stack
 * and thread pointer until it execs or exits, so whatever it calls would
 * be traced into the parent thread's buffer, as the parent's calls.  The
 * calling thread's buffer is put aside across the system call: the child
 * traces nothing (what it execs traces itself), and the parent, which the
 * kernel holds until then, gets its buffer back when vfork returns in it.
 * The thread's other state is the parent's and stays so.
 *
 * In assembly, as glibc's own: the child returns first, through the same
 * stack, and may overwrite anything below the caller's frame — the return
 * address is kept in a register (rdx) across the system call and pushed
 * again in each process. */
#include <errno.h>
#include <stdbool.h>

#include "trace/tbuf.h"

static __thread struct tbuf *saved __attribute__((tls_model("initial-exec")));
static __thread bool saved_untraced __attribute__((tls_model("initial-exec")));

__attribute__((used)) void agent_vfork_enter(void)
{
	saved = tb_current;
	saved_untraced = tb_untraced;
	tb_current = NULL;
	tb_untraced = true; /* (no new buffer either) */
}

/* In the parent, with the system call's result. */
__attribute__((used)) long agent_vfork_leave(long r)
{
	tb_current = saved;
	tb_untraced = saved_untraced;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	".cfi_startproc\n"
	"	sub $8, %rsp\n" /* aligned for the call */
	".cfi_adjust_cfa_offset 8\n"
	"	call agent_vfork_enter\n"
	"	add $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"	pop %rdx\n" /* the return address */
	".cfi_adjust_cfa_offset -8\n"
	".cfi_register %rip, %rdx\n"
	"	mov $58, %eax\n" /* SYS_vfork */
	"	syscall\n"
	"	push %rdx\n"
	".cfi_adjust_cfa_offset 8\n"
	".cfi_rel_offset %rip, 0\n"
	"	test %rax, %rax\n"
	"	jz 1f\n" /* the child: 0, untraced */
	"	push %rax\n"
	".cfi_adjust_cfa_offset 8\n"
	"	mov %rax, %rdi\n"
	"	call agent_vfork_leave\n"
	"	add $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"1:	ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n");
