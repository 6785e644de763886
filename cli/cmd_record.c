/* poketrace record: runs a program with the agent preloaded and leaves a
 * trace directory. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trace.h"

static const char usage[] =
	"usage: poketrace record [OPTIONS] [--] PROG [ARGS...]\n"
	"\n"
	"Runs PROG with the poketrace agent preloaded and writes a trace directory.\n"
	"PROG (and its libraries) must be built with patch sites: clang or gcc\n"
	"-fpatchable-function-entry=5, or gcc -pg -mfentry -mnop-mcount -mrecord-mcount.\n"
	"\n"
	"  -o, --output DIR       trace directory (default poketrace.data)\n"
	"      --tracer MODE      graph (entry and exit, durations; default), function\n"
	"                         (entries only) or profile (counts and times in process,\n"
	"                         only a table is written: the cheapest)\n"
	"  -F, --filter GLOB      trace only functions matching GLOB (repeatable)\n"
	"  -N, --notrace GLOB     never trace functions matching GLOB (repeatable)\n"
	"  -m, --module GLOB      trace only modules (file names) matching GLOB (repeatable)\n"
	"  -A, --args GLOB        graph: record the arguments of matching functions (the\n"
	"                         integer, pointer and string arguments of their DWARF\n"
	"                         prototype; strings up to 32 bytes, read safely)\n"
	"  -R, --retval GLOB      graph: record the return value of matching functions\n"
	"  -D, --depth N          graph: only calls at most N deep\n"
	"  -t, --time-filter DUR  graph: drop calls shorter than DUR (e.g. 500ns, 2us, 1ms)\n"
	"  -b, --buffer SIZE      per-thread buffer (e.g. 256K, 4M; default 2M, in 4 packets)\n"
	"      --paused           start with nothing traced; 'poketrace live -p PID enable'\n"
	"\n"
	"Events that find the buffer full are counted as lost, never dropped silently.\n"
	"Exit status: PROG's (128+N if killed by signal N); 2 for bad usage.\n";

static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int parse_duration(const char *s, unsigned long long *ns)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "ns"))
		*ns = (unsigned long long)v;
	else if (!strcmp(end, "us"))
		*ns = (unsigned long long)(v * 1e3);
	else if (!strcmp(end, "ms"))
		*ns = (unsigned long long)(v * 1e6);
	else if (!strcmp(end, "s"))
		*ns = (unsigned long long)(v * 1e9);
	else
		return -1;
	return 0;
}

static void append(char *list, size_t cap, const char *item)
{
	size_t n = strlen(list);

	snprintf(list + n, cap - n, "%s%s", n ? "," : "", item);
}

static int agent_path(char *out, size_t cap)
{
	const char *env = getenv("POKETRACE_AGENT");
	char self[PATH_MAX];
	ssize_t n;

	if (env) {
		snprintf(out, cap, "%s", env);
		return access(out, R_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(out, cap, "%.4000s/libpoketrace-agent.so", self);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, cap, "%.4000s/../lib/libpoketrace-agent.so", self);
	return access(out, R_OK);
}

/* Empties DIR of a previous trace (only the files a trace has). */
static int prepare_dir(const char *dir)
{
	char cmd[PATH_MAX + 64];
	struct stat st;

	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		cli_error("%s exists and is not a directory", dir);
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Our files live in DIR/poketrace/: babeltrace2 takes every file of a
	 * trace directory but metadata for a stream. */
	for (const char *f = "metadata\0poketrace/functions\0poketrace/info\0poketrace/profile\0"
			     "poketrace/config\0"; *f; f += strlen(f) + 1) {
		snprintf(cmd, sizeof(cmd), "%s/%s", dir, f);
		unlink(cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s/poketrace", dir);
	if (mkdir(cmd, 0755) < 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", cmd, strerror(errno));
		return -1;
	}
	return trace_remove_streams(dir);
}

static void progress(const char *dir, pid_t pid)
{
	int status;

	for (int secs = 0;; secs++) {
		for (int i = 0; i < 10; i++) {
			struct timespec t = { 0, 100 * 1000 * 1000 };

			if (waitpid(pid, &status, WNOHANG) != 0)
				return;
			nanosleep(&t, NULL);
		}
		fprintf(stderr, "\rpoketrace: recording %ds, %.1f MB written ", secs + 1,
			trace_streams_bytes(dir) / 1e6);
	}
}

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "tracer", required_argument, NULL, 'T' },
		{ "filter", required_argument, NULL, 'F' }, { "notrace", required_argument, NULL, 'N' },
		{ "module", required_argument, NULL, 'm' }, { "depth", required_argument, NULL, 'D' },
		{ "time-filter", required_argument, NULL, 't' }, { "buffer", required_argument, NULL, 'b' },
		{ "args", required_argument, NULL, 'A' }, { "retval", required_argument, NULL, 'R' },
		{ "paused", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	char filter[1024] = "", notrace[1024] = "", modules[1024] = "", args[1024] = "", rets[1024] = "";
	char agent[PATH_MAX], path[PATH_MAX + 16];
	const char *dir = "poketrace.data", *mode = "graph";
	unsigned long long buffer = 2 * 1024 * 1024, time_ns = 0;
	int depth = 0, c, status, paused = 0;
	struct timespec t0, t1;
	pid_t pid;
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ho:F:N:m:D:t:b:A:R:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'o':
			dir = optarg;
			break;
		case 'T':
			if (strcmp(optarg, "graph") && strcmp(optarg, "function") && strcmp(optarg, "profile")) {
				cli_error("--tracer takes graph, function or profile, not '%s'", optarg);
				return EXIT_USAGE;
			}
			mode = optarg;
			break;
		case 'F':
			append(filter, sizeof(filter), optarg);
			break;
		case 'N':
			append(notrace, sizeof(notrace), optarg);
			break;
		case 'm':
			append(modules, sizeof(modules), optarg);
			break;
		case 'A':
			append(args, sizeof(args), optarg);
			break;
		case 'P':
			paused = 1;
			break;
		case 'R':
			append(rets, sizeof(rets), optarg);
			break;
		case 'D':
			depth = atoi(optarg);
			if (depth <= 0) {
				cli_error("-D needs a depth > 0, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_duration(optarg, &time_ns) < 0) {
				cli_error("-t needs a duration like 500ns, 2us or 1ms, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (parse_size(optarg, &buffer) < 0 || buffer < 16384) {
				cli_error("-b needs a size of at least 16K, like 256K or 4M, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("record needs a program to run");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (agent_path(agent, sizeof(agent)) < 0) {
		cli_error("cannot find libpoketrace-agent.so next to the poketrace command (or set "
			  "POKETRACE_AGENT)");
		return 1;
	}
	if (prepare_dir(dir) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/poketrace/config", dir);
	f = fopen(path, "we");
	if (!f) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return 1;
	}
	fprintf(f, "mode=%s\nfilter=%s\nnotrace=%s\nmodules=%s\nargs=%s\nrets=%s\ndepth=%d\ntime_ns=%llu\n"
		"chunk_size=%llu\nchunks=4\npaused=%d\n", mode, filter, notrace, modules, args, rets, depth, time_ns,
		buffer / 4, paused);
	fclose(f);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		cli_error("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD");
		char *pre = malloc(strlen(agent) + (old ? strlen(old) : 0) + 2);

		/* the caller's preloads first: a sanitizer runtime must come first */
		sprintf(pre, "%s%s%s", old ? old : "", old ? ":" : "", agent);
		setenv("LD_PRELOAD", pre, 1);
		setenv("POKETRACE_AGENT_DIR", dir, 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "poketrace: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	signal(SIGINT, SIG_IGN); /* ^C goes to the program; we report after it */
	if (isatty(2))
		progress(dir, pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (isatty(2))
		fputc('\n', stderr);
	trace_print_summary(dir, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "poketrace: %s was killed by signal %d (%s); the trace holds what was "
			"written before\n", argv[optind], WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}
