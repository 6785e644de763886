/* poketrace record: runs a program with the agent preloaded and leaves a
 * trace directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/ctlpath.h"
#include "cli/inject.h"
#include "cli/reader.h"

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
	"Filters, as uftrace's (GLOB: a mangled or demangled name, with or without\n"
	"parameters; each option repeatable):\n"
	"  -F, --filter GLOB      graph: only calls inside a matching function (it and\n"
	"                         what it calls); function/profile: only those functions\n"
	"  -N, --notrace GLOB     graph: not a matching function nor what it calls;\n"
	"                         function/profile: not those functions\n"
	"  -H, --hide GLOB        graph: not a matching function, but what it calls\n"
	"  -m, --module GLOB      trace only modules (file names) matching GLOB\n"
	"      --select GLOB      hook only these functions (ftrace's set_ftrace_filter)\n"
	"      --exclude GLOB     never hook these (set_ftrace_notrace)\n"
	"  -A, --args GLOB        graph: record the arguments of matching functions (the\n"
	"                         integer, pointer and string arguments of their DWARF\n"
	"                         prototype; strings up to 32 bytes, read safely)\n"
	"  -R, --retval GLOB      graph: record the return value of matching functions\n"
	"  -D, --depth N          graph: only calls at most N deep (counted from the\n"
	"                         -F function, with -F)\n"
	"  -t, --time-filter DUR  graph: drop calls shorter than DUR (e.g. 500ns, 2us, 1ms)\n"
	"  -b, --buffer SIZE      per-thread buffer a thread starts with (e.g. 256K, 4M;\n"
	"                         default 2M, in 4 packets)\n"
	"      --buffer-max SIZE  all threads' buffers together may grow to SIZE when the\n"
	"                         writer falls behind (default 256M; each thread keeps at\n"
	"                         least 2 packets)\n"
	"      --on-full MODE     what a thread does when its buffer is full and at the cap:\n"
	"                         wait (default: for the writer, so nothing is lost) or drop\n"
	"                         (count its events as lost: the program is never slowed)\n"
	"      --paused           start with nothing traced; 'poketrace live -p PID enable'\n"
	"  -C, --caller-filter GLOB\n"
	"                         graph: only the calls of a matching function and the\n"
	"                         calls that lead to it (its backtrace), not its callees\n"
	"  -P, --patch GLOB       also trace functions that have no patch site: their first\n"
	"                         instructions are relocated, where that is safe (GLOB:\n"
	"                         the program's functions, or 'MODULE:GLOB', e.g.\n"
	"                         'liblzma.so*:lzma_*'; the filters still apply)\n"
	"      --max-size SIZE    write at most SIZE of trace per process (like 1G); what\n"
	"                         comes after is counted, not written\n"
	"      --no-libcall       do not show the program's calls into shared libraries\n"
	"                         (shown by default, as uftrace does: printf, malloc ...;\n"
	"                         not those poketrace interposes: sigprocmask ...)\n"
	"      --nest-libcall     show library calls made by libraries too\n"
	"      --no-follow        trace PROG only, not the processes it forks or execs\n"
	"                         (followed by default, as uftrace does: each into\n"
	"                         DIR/pid-PID, read with DIR by every command)\n"
	"\n"
	"Lost events (--on-full=drop, a failed write) are counted in the summary, 'info'\n"
	"and each packet's events_discarded; readers show the calls they cut.\n"
	"Exit status: PROG's (128+N if killed by signal N); 2 for bad usage.  record\n"
	"returns once PROG and every process it started have ended.\n";

/* "256K", "4M", "1G" or bytes: digits only (no sign), no overflow. */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	else if (*end == 'T' || *end == 't')
		shift = 40, end++;
	if (*end || v > (ULLONG_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int parse_duration(const char *s, unsigned long long *ns)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !(v >= 0) || v > 1e6 || *s == '-')
		return -1; /* negative, NaN, or more than 11 days */
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

/* Comma-separated lists of any length. */
static int append(char **list, const char *item)
{
	size_t n = *list ? strlen(*list) : 0;
	char *nl = realloc(*list, n + strlen(item) + 2);

	if (!nl) {
		cli_error("out of memory");
		return -1;
	}
	snprintf(nl + n, strlen(item) + 2, "%s%s", n ? "," : "", item);
	*list = nl;
	return 0;
}

static const char *str(const char *s)
{
	return s ? s : "";
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
	/* the build tree, then an installation's libdir: lib, multiarch, lib64 */
	static const char *const rel[] = { "", "../lib/", "../lib/x86_64-linux-gnu/", "../lib64/" };

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, cap, "%.4000s/%slibpoketrace-agent.so", self, rel[i]);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* A trace directory poketrace wrote: its own subdirectory with the
 * configuration record writes first. */
static bool is_trace(const char *dir)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%.4000s/poketrace/config", dir);
	return access(path, F_OK) == 0;
}

/* The first entry of dir, or NULL if it is empty (into name). */
static const char *first_entry(const char *dir, char *name, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	const char *r = NULL;

	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(name, cap, "%s", e->d_name);
			r = name;
			break;
		}
	}
	closedir(d);
	return r;
}

/* Removes an old trace: only the files a trace has; the directory itself
 * only if nothing else is left in it. */
static int remove_trace(const char *dir)
{
	char name[256];

	trace_remove_files(dir);
	if (rmdir(dir) < 0) {
		cli_error("%s holds files that are not poketrace's (%s): move them away, or give another -o DIR",
			  dir, first_entry(dir, name, sizeof(name)) ? name : strerror(errno));
		return -1;
	}
	return 0;
}

/* DIR ready for a new trace, nothing of anyone else's touched: created if
 * missing; an empty directory is used; an earlier trace is kept as DIR.old
 * (an older DIR.old trace replaced); anything else is refused. */
static int prepare_dir(const char *dir)
{
	char path[PATH_MAX + 64], name[256];
	struct stat st;

	if (strlen(dir) > 4000) {
		cli_error("the output directory's name is too long");
		return -1;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			cli_error("%s exists and is not a directory: give another -o DIR", dir);
			return -1;
		}
		if (is_trace(dir)) {
			snprintf(path, sizeof(path), "%.4000s.old", dir);
			if (stat(path, &st) == 0 && (!S_ISDIR(st.st_mode) || !is_trace(path))) {
				cli_error("%s exists and is not a poketrace trace: it would be where %s is kept; "
					  "move it away, or give another -o DIR", path, dir);
				return -1;
			}
			if (stat(path, &st) == 0 && remove_trace(path) < 0)
				return -1;
			if (rename(dir, path) < 0) {
				cli_error("cannot keep the earlier trace as %s: %s", path, strerror(errno));
				return -1;
			}
			fprintf(stderr, "poketrace: the earlier trace in %s is now %s\n", dir, path);
		} else if (first_entry(dir, name, sizeof(name))) {
			cli_error("%s is not empty and not a poketrace trace (it holds %s): poketrace writes "
				  "only into a new or empty directory, or over its own trace; give another -o DIR",
				  dir, name);
			return -1;
		}
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Our files live in DIR/poketrace/: babeltrace2 takes every file of a
	 * trace directory but metadata for a stream. */
	snprintf(path, sizeof(path), "%.4000s/poketrace", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether prog can be run as execvp would find it. */
static bool runnable(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (const char *p = path ? path : "/bin:/usr/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, p, n ? "/" : "", prog);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
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

struct rec_opts {
	char *filter, *notrace, *modules, *args, *rets; /* comma-separated, malloc'd */
	char *focus, *hide_tree, *hide, *caller;         /* -F, -N, -H, -C (graph) */
	char *patch;                                     /* -P */
	const char *dir, *mode;
	int no_follow;
	int libcall, libcall_set;  /* 0 --no-libcall, 1 the default, 2 --nest-libcall */
	unsigned long long max_size; /* --max-size, per process (0: none) */
	unsigned long long buffer, buffer_max, time_ns;
	const char *on_full;
	int depth, paused;
	long pid; /* attach */
};

/* The glob list an option adds to. */
static char **list_of(struct rec_opts *o, int opt)
{
	switch (opt) {
	case 'F':
		return &o->focus;
	case 'N':
		return &o->hide_tree;
	case 'H':
		return &o->hide;
	case 'C':
		return &o->caller;
	case 'P':
		return &o->patch;
	case 'S':
		return &o->filter;
	case 'E':
		return &o->notrace;
	case 'm':
		return &o->modules;
	case 'A':
		return &o->args;
	default:
		return &o->rets;
	}
}

/* The options record and attach share.  Returns optind, or -1 (usage, with
 * a message) or -2 (--help printed). */
static int parse_opts(int argc, char **argv, struct rec_opts *o, bool attach)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "tracer", required_argument, NULL, 'T' },
		{ "filter", required_argument, NULL, 'F' }, { "notrace", required_argument, NULL, 'N' },
		{ "module", required_argument, NULL, 'm' }, { "depth", required_argument, NULL, 'D' },
		{ "time-filter", required_argument, NULL, 't' }, { "buffer", required_argument, NULL, 'b' },
		{ "args", required_argument, NULL, 'A' }, { "retval", required_argument, NULL, 'R' },
		{ "paused", no_argument, NULL, 'Q' }, { "patch", required_argument, NULL, 'P' }, { "pid", required_argument, NULL, 'p' },
		{ "buffer-max", required_argument, NULL, 'X' }, { "on-full", required_argument, NULL, 'W' },
		{ "hide", required_argument, NULL, 'H' }, { "select", required_argument, NULL, 'S' },
		{ "exclude", required_argument, NULL, 'E' }, { "caller-filter", required_argument, NULL, 'C' },
		{ "no-follow", no_argument, NULL, 'Y' }, { "no-libcall", no_argument, NULL, 'L' },
		{ "nest-libcall", no_argument, NULL, 'K' }, { "max-size", required_argument, NULL, 'Z' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->dir = "poketrace.data";
	o->mode = "graph";
	o->buffer = 2 * 1024 * 1024;
	o->on_full = "wait";
	optind = 1;
	while ((c = getopt_long(argc, argv, attach ? "ho:F:N:H:C:P:m:D:t:b:A:R:p:" : "+ho:F:N:H:C:P:m:D:t:b:A:R:", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'h':
			return -2;
		case 'o':
			o->dir = optarg;
			break;
		case 'T':
			if (strcmp(optarg, "graph") && strcmp(optarg, "function") && strcmp(optarg, "profile")) {
				cli_error("--tracer takes graph, function or profile, not '%s'", optarg);
				return -1;
			}
			o->mode = optarg;
			break;
		case 'F': case 'N': case 'H': case 'C': case 'P': case 'S': case 'E': case 'm': case 'A': case 'R':
			if (append(list_of(o, c), optarg) < 0)
				return -1;
			break;
		case 'Q':
			o->paused = 1;
			break;
		case 'Y':
			o->no_follow = 1;
			break;
		case 'Z':
			if (parse_size(optarg, &o->max_size) < 0 || o->max_size < 65536) {
				cli_error("--max-size needs a size of 64K or more, like 100M or 2G, not '%s'", optarg);
				return -1;
			}
			break;
		case 'L':
			o->libcall = 0;
			o->libcall_set = 1;
			break;
		case 'K':
			o->libcall = 2;
			o->libcall_set = 1;
			break;
		case 'p':
			errno = 0;
			o->pid = strtol(optarg, &end, 10);
			if (!attach || o->pid <= 0 || o->pid > INT_MAX || *end || errno) {
				cli_error("-p needs a process id, not '%s'", optarg);
				return -1;
			}
			break;
		case 'D': {
			long d;

			errno = 0;
			d = strtol(optarg, &end, 10);
			if (*end || errno || d <= 0 || d > 65535 || end == optarg) {
				cli_error("-D needs a depth from 1 to 65535, not '%s'", optarg);
				return -1;
			}
			o->depth = (int)d;
			break;
		}
		case 't':
			if (parse_duration(optarg, &o->time_ns) < 0) {
				cli_error("-t needs a duration like 500ns, 2us or 1ms, not '%s'", optarg);
				return -1;
			}
			break;
		case 'b':
			if (parse_size(optarg, &o->buffer) < 0 || o->buffer < 16384 || o->buffer > (1ull << 30)) {
				cli_error("-b needs a size from 16K to 1G, like 256K or 4M, not '%s'", optarg);
				return -1;
			}
			break;
		case 'X':
			if (parse_size(optarg, &o->buffer_max) < 0 || o->buffer_max < 16384 ||
			    o->buffer_max > (64ull << 30)) {
				cli_error("--buffer-max needs a size from 16K to 64G, like 64M or 1G, not '%s'", optarg);
				return -1;
			}
			break;
		case 'W':
			if (strcmp(optarg, "wait") && strcmp(optarg, "drop")) {
				cli_error("--on-full takes wait or drop, not '%s'", optarg);
				return -1;
			}
			o->on_full = optarg;
			break;
		default:
			return -1;
		}
	}
	if (strcmp(o->mode, "graph")) {
		/* no call tree: -F/-N choose functions, as --select/--exclude */
		if (o->hide || o->caller) {
			cli_error(o->hide ? "-H is for the graph tracer (it hides a function but not its callees)"
					  : "-C is for the graph tracer (it shows the calls leading to a function)");
			return -1;
		}
		if ((o->focus && append(&o->filter, o->focus) < 0) ||
		    (o->hide_tree && append(&o->notrace, o->hide_tree) < 0))
			return -1;
		free(o->focus), free(o->hide_tree);
		o->focus = o->hide_tree = NULL;
	}
	if (o->buffer_max && o->buffer > o->buffer_max) {
		cli_error("-b %llu is more than --buffer-max %llu", o->buffer, o->buffer_max);
		return -1;
	}
	return optind;
}

static int write_config(const struct rec_opts *o)
{
	char path[PATH_MAX + 32];
	FILE *f;

	if (prepare_dir(o->dir) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/poketrace/config", o->dir);
	f = fopen(path, "we");
	if (!f) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "focus=%s\nhide_tree=%s\nhide=%s\ncaller=%s\npatch=%s\nfollow=%d\nlibcall=%d\nmax_size=%llu\n",
		str(o->focus), str(o->hide_tree), str(o->hide), str(o->caller), str(o->patch), !o->no_follow,
		o->libcall_set ? o->libcall : 1, o->max_size);
	/* record sums up all processes at the end; attach says what the
	 * agent had to say as it starts (not into the program's output) */
	fprintf(f, "summary=%s\n", o->pid ? "attach" : "record");
	fprintf(f, "mode=%s\nfilter=%s\nnotrace=%s\nmodules=%s\nargs=%s\nrets=%s\ndepth=%d\ntime_ns=%llu\n"
		"chunk_size=%llu\nchunks=4\non_full=%s\npaused=%d\n", o->mode, str(o->filter), str(o->notrace),
		str(o->modules), str(o->args), str(o->rets), o->depth, o->time_ns, o->buffer / 4, o->on_full, o->paused);
	if (o->buffer_max) /* else the agent's default */
		fprintf(f, "buffer_max=%llu\n", o->buffer_max);
	if (fclose(f) != 0) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static volatile pid_t child;
static volatile sig_atomic_t stop_waiting;

/* record stands between the program and whoever signals it: a SIGTERM,
 * SIGHUP or SIGINT sent to record goes to the program, which writes its
 * trace; record then reports.  (The terminal's ^C and hang-up reach the
 * program by themselves: only those sent by a process are passed on.)
 * Once the program has ended, any of them stops the wait for the
 * processes it left running. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (child > 0 && (sig == SIGTERM || si->si_code <= 0))
		kill(child, sig);
	else if (child <= 0)
		stop_waiting = 1;
}

/* The processes the program started and left running (record is their
 * subreaper): their traces are complete only once they end. */
static void wait_descendants(const char *prog)
{
	bool said = false;

	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p < 0 && errno != EINTR)
			return; /* ECHILD: none left */
		if (p > 0)
			continue;
		if (stop_waiting) {
			fprintf(stderr, "poketrace: not waiting any more: the traces of the processes %s started that "
				"still run are incomplete\n", prog);
			return;
		}
		if (!said) {
			said = true;
			fprintf(stderr, "poketrace: %s exited; waiting for the processes it started (a signal to "
				"record stops waiting)\n", prog);
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
	}
}

static void forward_signals(pid_t pid)
{
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };

	child = pid;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int cmd_record(int argc, char **argv)
{
	char agent[PATH_MAX], absdir[PATH_MAX];
	struct rec_opts o;
	struct timespec t0, t1;
	int status, first = parse_opts(argc, argv, &o, false);
	uint64_t unwritten;
	pid_t pid;

	if (first == -2) {
		fputs(usage, stdout);
		return 0;
	}
	if (first < 0) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (first >= argc) {
		cli_error("record needs a program to run");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (agent_path(agent, sizeof(agent)) < 0) {
		cli_error("cannot find libpoketrace-agent.so next to the poketrace command (or set "
			  "POKETRACE_AGENT)");
		return 1;
	}
	if (!runnable(argv[first])) {
		cli_error("cannot run %s: %s", argv[first],
			  strchr(argv[first], '/') ? strerror(errno) : "not found in PATH");
		return 127;
	}
	if (write_config(&o) < 0)
		return 1;

	if (!realpath(o.dir, absdir)) {
		cli_error("cannot resolve %s: %s", o.dir, strerror(errno));
		return 1;
	}
	/* processes the program leaves running become ours to wait for */
	if (!o.no_follow)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
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
		setenv("POKETRACE_AGENT_DIR", absdir, 1); /* children may change directory */
		unsetenv("POKETRACE_AGENT_CHILD");
		execvp(argv[first], argv + first);
		fprintf(stderr, "poketrace: cannot run %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	if (o.paused)
		fprintf(stderr, "poketrace: %s is process %ld, nothing traced yet: 'poketrace live -p %ld "
			"enable' starts\n", argv[first], (long)pid, (long)pid);
	forward_signals(pid);
	if (isatty(2))
		progress(o.dir, pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child = -1;
	if (!o.no_follow)
		wait_descendants(argv[first]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (isatty(2))
		fputc('\n', stderr);
	unwritten = trace_print_summary(o.dir, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
					WIFEXITED(status));
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "poketrace: %s was killed by signal %d (%s); the trace holds what was "
			"written before\n", argv[first], WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	/* the program's status, unless it succeeded and the trace did not */
	return WEXITSTATUS(status) ? WEXITSTATUS(status) : unwritten ? 1 : 0;
}

static const char usage_attach[] =
	"usage: poketrace attach -p PID [RECORD OPTIONS]\n"
	"\n"
	"Loads the agent into a running process (built with patch sites, started\n"
	"without poketrace) and traces it as 'record' would, into -o DIR.  The process\n"
	"is stopped for the load only (ptrace: it is made to call dlopen).\n"
	"'poketrace live -p PID ...' controls it; 'poketrace detach -p PID' stops\n"
	"tracing, writes the trace and leaves the process running as before.\n"
	"Needs ptrace permission: the same user and kernel.yama.ptrace_scope 0, or root.\n";

struct attach_req {
	const struct rec_opts *o;
	char dir[PATH_MAX], sock[256], ctl[256];
};

/* With the process stopped: the trace directory and its configuration, and
 * the request the agent reads when it loads (the directory, and the socket
 * we will look for). */
static int prepare_attach(void *arg)
{
	struct attach_req *q = arg;
	int fd;

	if (write_config(q->o) < 0 || !realpath(q->o->dir, q->dir))
		return -1;
	if (control_socket_path(q->o->pid, q->sock, sizeof(q->sock), true) < 0) {
		cli_error("cannot create the control directory for your user");
		return -1;
	}
	unlink(q->ctl);
	fd = open(q->ctl, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || dprintf(fd, "%s\n%s\n", q->dir, q->sock) < 0) {
		cli_error("cannot write %s: %s", q->ctl, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	char found[PATH_MAX], agent[PATH_MAX], ctl[256], err[512];
	struct attach_req req;
	struct rec_opts o;
	int first = parse_opts(argc, argv, &o, true), r;
	long ret = 0;

	if (first == -2) {
		fputs(usage_attach, stdout);
		return 0;
	}
	if (first < 0 || first != argc || !o.pid) {
		if (first >= 0)
			cli_error(o.pid ? "attach takes no program (it attaches to -p PID)" : "attach needs -p PID");
		fputs(usage_attach, stderr);
		return EXIT_USAGE;
	}
	if (kill((pid_t)o.pid, 0) < 0 && errno == ESRCH) {
		cli_error("no process %ld", o.pid);
		return 1;
	}
	if (agent_path(found, sizeof(found)) < 0 || !realpath(found, agent)) {
		cli_error("cannot find libpoketrace-agent.so next to the poketrace command (or set POKETRACE_AGENT)");
		return 1;
	}
	if (inject_check((pid_t)o.pid, err, sizeof(err)) < 0) {
		cli_error("cannot attach to process %ld: %s", o.pid, err);
		return 1;
	}
	/* nothing to trace: the agent is not loaded for nothing (with -P,
	 * functions without sites are what is asked for) */
	if (!o.patch && sites_of_pid(o.pid) == 0) {
		cli_error("process %ld has no function with a patch site in any module it has loaded, so nothing "
			  "can be traced: rebuild it with -fpatchable-function-entry=5 (gcc or clang) or gcc -pg -mfentry "
			  "-mnop-mcount -mrecord-mcount, or trace functions without sites with -P GLOB "
			  "('poketrace sites --all -p %ld' lists what it has)", o.pid, o.pid);
		return 1;
	}
	/* Files are touched only once ptrace holds the process: a refusal
	 * leaves an earlier trace in the directory as it was. */
	memset(&req, 0, sizeof(req));
	req.o = &o;
	attach_request_path(o.pid, req.ctl, sizeof(req.ctl));
	if (!inject_loaded((pid_t)o.pid, agent)) {
		r = inject_dlopen((pid_t)o.pid, agent, prepare_attach, &req, err, sizeof(err));
	} else if (control_socket_path(o.pid, ctl, sizeof(ctl), false) == 0 && access(ctl, F_OK) == 0) {
		cli_error("process %ld is traced by poketrace already; drive it with 'poketrace live -p %ld', "
			  "or 'poketrace detach -p %ld' first", o.pid, o.pid, o.pid);
		return 1;
	} else {
		/* attached before and detached: the agent is loaded, its
		 * constructor has run; start it again */
		r = inject_call_int((pid_t)o.pid, agent, "poketrace_agent_attach", prepare_attach, &req, &ret, err,
				    sizeof(err));
		if (r == 0 && (int)ret < 0) { /* an int: the upper half of rax is not its */
			snprintf(err, sizeof(err), "the agent in it could not start: %s (its standard error says more)",
				 strerror(-(int)ret));
			r = -1;
		}
	}
	unlink(req.ctl); /* taken by the agent, or left over */
	if (r < 0) {
		cli_error("cannot attach to process %ld: %s", o.pid, err);
		return 1;
	}
	/* The agent answers on its socket once it traces. */
	for (int i = 0; i < 200 && access(req.sock, F_OK) < 0; i++)
		usleep(10000);
	if (access(req.sock, F_OK) < 0) {
		cli_error("process %ld loaded the agent but it did not start (its standard error says why)", o.pid);
		return 1;
	}
	trace_print_agent_said(req.dir);
	fprintf(stderr, "poketrace: tracing process %ld into %s; 'poketrace detach -p %ld' stops\n", o.pid, req.dir,
		o.pid);
	return 0;
}
