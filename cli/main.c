/* poketrace: the command-line tool. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "poketrace.h"

static const char usage[] =
	"usage: poketrace [--help|-h] [--version|-V] COMMAND [ARGS]\n"
	"\n"
	"Live-patches the 5-byte function-entry nops compilers leave in code\n"
	"(gcc -pg -mfentry -mnop-mcount -mrecord-mcount, or\n"
	"-fpatchable-function-entry=5 with gcc or clang).\n"
	"\n"
	"commands:\n"
	"  record [OPTS] -- PROG ARGS   run PROG and record a trace (graph, function, profile)\n"
	"  report [DIR]     calls, total, self, avg, min, max time per function\n"
	"  graph [DIR [FN]] the call tree with times and calls\n"
	"  replay [DIR]     every call in order, indented, with durations\n"
	"  dump --chrome|--flame [DIR]  Chrome trace JSON, or folded stacks\n"
	"  info [DIR]       what was recorded\n"
	"  live -p PID REQ  control the tracer of a running recorded process (status,\n"
	"                   enable, disable, filter, notrace, modules, flush, stop)\n"
	"  attach -p PID [OPTS]  trace a running process started without poketrace\n"
	"  detach -p PID    stop tracing it (the trace is written, the process runs on)\n"
	"  sites PROG       list the patch sites of an executable or shared library\n"
	"  sites -p PID     list the patch sites of every module a running process loaded\n"
	"\n"
	"The trace directory (DIR) defaults to poketrace.data; it is CTF 1.8, which\n"
	"babeltrace2 reads too.\n"
	"\n"
	"'poketrace COMMAND --help' (or 'poketrace help COMMAND') describes a command.\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("poketrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (!strcmp(argv[1], "help") && argc > 2) /* help CMD = CMD --help */
			return main(3, (char *[]){ argv[0], argv[2], "--help", NULL });
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("poketrace %s\n", poketrace_version());
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "sites", cmd_sites }, { "record", cmd_record }, { "report", cmd_report },
		{ "graph", cmd_graph }, { "replay", cmd_replay }, { "dump", cmd_dump }, { "info", cmd_info },
		{ "live", cmd_live }, { "attach", cmd_attach }, { "detach", cmd_detach },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s'", argv[1]);
	fputs(usage, stderr);
	return EXIT_USAGE;
}
