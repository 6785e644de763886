/* For tests/t_gdb.sh: gdb stops in a handler and must unwind through the
 * image to the caller.  gdb_target KIND: fexit | fentry | reloc (an fexit
 * link on rl_frame, which has no patch site: its entry is relocated; gdb
 * also stops in its copy, which fexit calls) */
#include <stdio.h>
#include <string.h>

#include "poketrace.h"
#include "targets/hookfns.h"

__attribute__((noinline)) void handler_stop(struct poketrace_ctx *c)
{
	(void)c;
	__asm__ volatile("nop");
}

long rl_frame(long);
static int reloc;
/* reloc: where rl_frame's relocated copy is (t_gdb.sh breaks in it) */
void *volatile copy_at;

__attribute__((noinline)) long outer_caller(void)
{
	return (reloc ? rl_frame(1) : h2(1, 2)) + 1;
}

int main(int argc, char **argv)
{
	struct poketrace_link *l;
	enum poketrace_link_kind k = argc > 1 && !strcmp(argv[1], "fentry") ? POKETRACE_FENTRY : POKETRACE_FEXIT;

	reloc = argc > 1 && !strcmp(argv[1], "reloc");
	if (poketrace_link_attach(k, reloc ? "rl_frame" : "h2", (void *)handler_stop, NULL, &l) < 0) {
		fprintf(stderr, "%s\n", poketrace_last_error());
		return 1;
	}
	copy_at = poketrace_link_original(l);
	printf("%ld\n", outer_caller());
	return 0;
}
