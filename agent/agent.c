/* The agent's life: at load, read DIR/config, choose the functions, attach
 * the tracer's links in one batch, start the writer; at exit (or a fatal
 * signal), write out every buffer and the trace's info. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "arch/x86_64/sigguard.h"
#include "base/ctlpath.h"
#include "core/proto.h"
#include "core/sites.h"
#include "poketrace.h"
#include "trace/ctf.h"
#include "trace/tbuf.h"

static struct agent_config cfg;
static struct trace_clock clk;
static struct ctf_trace ctf;
static bool active;
static struct timespec t_start;
/* This image: the process it is (a vfork child shares our memory but is
 * not us), how it began (the first process of the trace, a fork, an exec),
 * and whether it ended by exec (its files were written before). */
static pid_t my_pid;
static const char *image = "first";
static bool ended_by_exec, exec_paused;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "poketrace agent: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A small file written whole with system calls only: the info and profile
 * may be written from _exit, which a signal handler may call. */
struct outfile {
	int fd;
	char buf[1024];
	size_t len;
};
/* This image's directory, for openat: no path buffers on the stack. */
static int out_dirfd = -1;

static void open_out_dir(void)
{
	if (out_dirfd >= 0)
		close(out_dirfd);
	out_dirfd = open(cfg.out, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void of_flush(struct outfile *o)
{
	for (size_t done = 0; done < o->len;) {
		ssize_t w = write(o->fd, o->buf + done, o->len - done);

		if (w <= 0 && errno != EINTR)
			break;
		done += w > 0 ? (size_t)w : 0;
	}
	o->len = 0;
}

__attribute__((format(printf, 2, 3))) static void of_printf(struct outfile *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= sizeof(o->buf) - o->len) {
		of_flush(o); /* once more into an empty buffer (a line longer than it is cut) */
		va_start(ap, fmt);
		n = vsnprintf(o->buf, sizeof(o->buf), fmt, ap);
		va_end(ap);
	}
	if (n > 0)
		o->len += (size_t)n < sizeof(o->buf) - o->len ? (size_t)n : sizeof(o->buf) - 1 - o->len;
}

static int of_open(struct outfile *o, const char *name)
{
	char rel[32];

	snprintf(rel, sizeof(rel), "poketrace/%s", name);
	o->len = 0;
	o->fd = openat(out_dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return o->fd;
}

static void of_close(struct outfile *o)
{
	of_flush(o);
	close(o->fd);
}

static void write_info(void)
{
	struct writer_totals t;
	struct timespec now;
	struct outfile f;
	char cmd[512] = "";
	int fd;
	ssize_t n;

	writer_totals(&t);
	clock_gettime(CLOCK_MONOTONIC, &now);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		for (ssize_t i = 0; i < n - 1; i++)
			if (!cmd[i])
				cmd[i] = ' ';
	}
	if (of_open(&f, "info") < 0)
		return;
	of_printf(&f, "image=%s\nppid=%d\n", image, (int)getppid());
	if (ended_by_exec)
		of_printf(&f, "ended=exec\n");
	of_printf(&f, "command=%s\npid=%d\ntracer=%s\nfunctions=%zu\nthreads=%u\nevents=%llu\nlost=%llu\n"
		"lost_on_disk=%llu\nbytes=%llu\nduration_ns=%llu\nclock=%s\nclock_freq=%llu\n"
		"buffer_max=%llu\nbuffer_peak=%llu\non_full=%s\nwaits=%llu\nwait_ns=%llu\nwait_timeouts=%llu\n",
		cmd, getpid(), cfg.mode == TRACER_FUNCTION ? "function" : cfg.mode == TRACER_PROFILE ? "profile" : "graph",
		select_nfuncs(), t.threads, (unsigned long long)t.events, (unsigned long long)t.lost,
		(unsigned long long)t.lost_on_disk, (unsigned long long)t.bytes,
		(unsigned long long)((now.tv_sec - t_start.tv_sec) * 1000000000ull + now.tv_nsec - t_start.tv_nsec),
		clk.tsc ? "tsc" : "monotonic", (unsigned long long)clk.freq, (unsigned long long)cfg.buffer_max,
		(unsigned long long)t.buffer_peak, cfg.drop ? "drop" : "wait", (unsigned long long)t.waits,
		(unsigned long long)t.wait_ns, (unsigned long long)t.wait_timeouts);
	if (t.error)
		of_printf(&f, "error=writing %s failed: %s\n", t.error_file, strerror(t.error));
	if (cfg.max_size)
		of_printf(&f, "max_size=%llu\nover_max=%llu\n", (unsigned long long)cfg.max_size,
			  (unsigned long long)t.over_max);
	of_close(&f);
	if (t.error)
		say("writing %s failed: %s; the trace holds what was written before", t.error_file,
		    strerror(t.error));
}

/* The profile table (mapped memory for the sums: no allocator). */
static void write_profile(void)
{
	size_t nfuncs = select_nfuncs(), size = (nfuncs ? nfuncs : 1) * sizeof(struct prof_entry);
	struct prof_entry *e = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct outfile f;

	if (e == MAP_FAILED)
		return;
	tracer_profile_sum(e);
	if (of_open(&f, "profile") >= 0) {
		of_printf(&f, "# id\tcalls\ttotal\tself\tmin\tmax (clock cycles)\n");
		for (uint32_t i = 0; i < (uint32_t)nfuncs; i++)
			if (e[i].calls)
				of_printf(&f, "%u\t%llu\t%llu\t%llu\t%llu\t%llu\n", i, (unsigned long long)e[i].calls,
					  (unsigned long long)e[i].total, (unsigned long long)e[i].self,
					  (unsigned long long)e[i].min, (unsigned long long)e[i].max);
		of_close(&f);
	}
	munmap(e, size);
}

/* The metadata, with the functions named so far. */
static int write_metadata(const char *dir)
{
	const char **names = select_symbols(&ctf.nnames);
	int r;

	ctf.names = names;
	r = ctf_write_metadata(dir, &ctf);
	free(names);
	ctf.names = NULL;
	ctf.nnames = 0;
	return r;
}

/* The trace's files besides the streams, as of now: metadata with the
 * refined clock and the function table, the profile table, info, the names
 * of threads renamed since their stream began. */
static void write_tail(void)
{
	clock_refine(&clk);
	write_metadata(cfg.out);
	threads_refresh(cfg.out, out_dirfd);
	if (cfg.mode == TRACER_PROFILE)
		write_profile();
	write_info();
}

/* The trace is over (the tracer paused): everything written. */
static void end_trace(void)
{
	active = false;
	modwatch_stop();
	writer_finish();
	write_tail();
}

static void finish(void)
{
	/* a child made by _Fork or a raw fork (no fork handler ran): the
	 * threads and files are the parent's */
	if (!active || getpid() != my_pid)
		return;
	control_stop();
	tracer_pause(true); /* threads still running at exit write nothing more */
	end_trace();
}

/* A process image after the first writes into DIR/pid-PID, or
 * DIR/pid-PID.N for the N-th image that pid exec'd into: made by mkdir, so
 * no two images share one.  0 or -errno. */
static int claim_out(void)
{
	/* static, not on the stack: the forking thread's may be small, and
	 * only one thread runs here (a fork's child, a constructor) */
	static char d[sizeof(cfg.out)], sub[sizeof(cfg.out) + 16];

	for (int n = 1; n < 10000; n++) {
		if (n == 1)
			snprintf(d, sizeof(d), "%.4000s/pid-%d", cfg.dir, (int)getpid());
		else
			snprintf(d, sizeof(d), "%.4000s/pid-%d.%d", cfg.dir, (int)getpid(), n);
		if (mkdir(d, 0755) == 0) {
			snprintf(sub, sizeof(sub), "%s/poketrace", d);
			if (mkdir(sub, 0755) < 0)
				return -errno;
			memcpy(cfg.out, d, sizeof(d));
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* A forked child has none of the parent's threads (writer, watcher,
 * control): they are forgotten.  Followed (the default), it traces on into
 * its own directory with threads of its own, its first events those after
 * fork() returned; else its handlers do nothing and its exit writes
 * nothing (the streams' files are the parent's). */
static void forked(void)
{
	int r = -ECANCELED;

	if (!active)
		return;
	writer_forget();
	modwatch_forget();
	control_forget();
	if (cfg.follow && (r = claim_out()) == 0) {
		my_pid = getpid();
		image = "fork";
		ended_by_exec = exec_paused = false;
		open_out_dir();
		tb_forked();
		tracer_forked_go();
		tracer_resume(); /* a fork during a flush or a failed exec: not paused here */
		select_forked(cfg.out);
		ctf_trace_init(&ctf, &clk);
		clock_gettime(CLOCK_MONOTONIC, &t_start);
		if ((r = write_metadata(cfg.out)) == 0 && (r = writer_start(cfg.out, false)) == 0) {
			modwatch_start();
			control_start(NULL);
			return;
		}
	}
	if (r != -ECANCELED)
		say("process %d (forked) is not traced: %s", (int)getpid(), strerror(-r));
	active = false;
	tracer_forked();
}

/* _exit (or _Exit): no atexit; maybe in a signal handler.  What the
 * fatal-signal path does (everything sealed and written with system calls
 * and a trylock), then the info and profile (system calls, snprintf). */
void agent_on_exit_now(void)
{
	if (!active || getpid() != my_pid)
		return; /* a vfork child's _exit: our trace goes on */
	active = false;
	tracer_pause(true);
	writer_emergency();
	if (cfg.mode == TRACER_PROFILE)
		write_profile();
	write_info();
}

void agent_before_exec(void)
{
	/* a vfork child runs in our memory while we wait: it must not stop
	 * our tracer (the exec'd image makes a trace of its own) */
	if (!active || getpid() != my_pid)
		return;
	tracer_pause(false);
	writer_sync(true);
	ended_by_exec = true;
	write_tail();
	exec_paused = true;
}

void agent_exec_failed(void)
{
	if (!exec_paused || getpid() != my_pid)
		return;
	exec_paused = ended_by_exec = false;
	tracer_resume();
}

bool agent_follows(void)
{
	return active && cfg.follow;
}

const char *agent_trace_dir(void)
{
	return cfg.dir;
}

static void on_fatal(int sig)
{
	/* Write what is in the buffers, then die of the same signal. */
	if (active) {
		active = false;
		tracer_pause(true); /* other threads stop writing into their buffers */
		writer_emergency();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_fatal(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* Only where the program keeps the default action. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(sigs[i], on_fatal);
	}
	/* A file size limit must fail the write, not kill the program. */
	{
		struct sigaction old;

		if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(SIGXFSZ, SIG_IGN);
	}
}

/* poketrace attach leaves "TRACE-DIR\nSOCKET-PATH\n" for us before it makes
 * us load.  Taken only from a file our own user made and nobody else can
 * write; the socket path is the one the command will look for. */
static int attach_request(char *buf, size_t cap, const char **sock)
{
	char path[128];
	struct stat st;
	ssize_t n;
	char *nl;
	int fd;

	if (attach_request_path(getpid(), path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	unlink(path);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!(nl = strchr(buf, '\n')))
		return -1;
	*nl = '\0';
	*sock = nl + 1;
	nl[1 + strcspn(nl + 1, "\n")] = '\0';
	return 0;
}

void agent_thread_start(void)
{
	/* (SIGTRAP and the engine's signals stay open; not through
	 * pthread_sigmask, which after attach is glibc's) */
	sigguard_block_others();
	/* the library functions it calls may be traced (library calls) */
	tb_untraced = true;
}

/* poketrace live flush.  A thread's current packet may be closed from
 * another thread only while no handler runs: the tracer is paused for the
 * moment it takes (its handlers count lost events meanwhile), and the gap
 * said.  No code is patched. */
int agent_flush(FILE *out)
{
	struct writer_totals t;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	tracer_pause(false);
	writer_sync(true);
	tracer_resume();
	clock_gettime(CLOCK_MONOTONIC, &b);
	write_tail();
	writer_totals(&t);
	fprintf(out, "flushed %llu events (%llu lost); tracing was paused for %.2f ms\n",
		(unsigned long long)t.events, (unsigned long long)t.lost,
		((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6));
	return 0;
}

bool agent_active(void)
{
	return active;
}

/* poketrace detach: the tracer off, everything written, the control thread
 * gone; the program runs on as before (the agent stays loaded, idle). */
int agent_detach(void)
{
	struct select_change off = { NULL, NULL, NULL, 0 };
	int r;

	/* no handler from here on, whatever is still on a stack; then the code
	 * back to nops (the images are freed once no thread is in them) */
	tracer_pause(true);
	if ((r = select_update(&off)) < 0) {
		tracer_resume();
		return r;
	}
	poketrace_quiesce(500);
	if (active)
		end_trace();
	return 0;
}

/* One trace, into dir: from the constructor, or from a later attach after
 * a detach.  0 or -errno. */
static int start(const char *dir, const char *sock, bool from_env)
{
	static bool once;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	my_pid = getpid();
	if ((r = agent_config_read(dir, &cfg)) < 0) {
		say("cannot read %s/config: %s", dir, strerror(-r));
		return r;
	}
	/* Children inherit the environment that loaded us: without --no-follow
	 * they load the agent too, and know they are not the first image. */
	if (from_env && !cfg.follow) {
		unsetenv("LD_PRELOAD");
	} else if (from_env && getenv("POKETRACE_AGENT_CHILD")) {
		image = "exec";
		if ((r = claim_out()) < 0) {
			say("process %d is not traced: cannot create its directory in %s: %s", (int)getpid(), dir,
			    strerror(-r));
			return r;
		}
	} else if (from_env) {
		setenv("POKETRACE_AGENT_CHILD", "1", 1);
	}
	open_out_dir();
	if ((r = poketrace_init(NULL)) < 0) {
		say("%s", poketrace_last_error());
		return r;
	}
	/* a trace before this one: forget its functions and counts (nothing is
	 * attached, no handler runs) */
	select_reset();
	tracer_reset();
	clock_setup(&clk);
	tb_configure(&(struct tb_config){ cfg.chunk_size, cfg.nchunks, cfg.buffer_max, cfg.drop ? TB_DROP : TB_WAIT,
					  &clk });
	tracer_configure(&(struct tracer_config){
		cfg.mode, cfg.max_depth, (uint64_t)((double)cfg.min_time_ns * (double)clk.freq / 1e9), 0, &clk });
	ctf_trace_init(&ctf, &clk);
	writer_set_max(cfg.max_size);
	if ((r = write_metadata(cfg.out)) < 0 || (r = writer_start(cfg.out, true)) < 0) {
		say("cannot start: %s", strerror(-r));
		return r;
	}
	active = true;
	if (!once) {
		once = true;
		select_init();
		atexit(finish);
		catch_fatal();
		pthread_atfork(NULL, NULL, forked);
	}
	if (modwatch_start() < 0)
		say("modules loaded by dlmopen or after attach will not be traced: cannot start a thread");
	tracer_resume();
	if ((r = select_start(&cfg)) < 0)
		say("cannot attach the tracer: %s", poketrace_last_error());
	write_metadata(cfg.out); /* with the functions' names: for a trace cut short */
	if (control_start(sock) < 0)
		say("no control socket: %s", strerror(errno));
	return r;
}

__attribute__((constructor)) static void agent_load(void)
{
	const char *dir = getenv("POKETRACE_AGENT_DIR"), *sock = NULL;
	static char buf[8192];

	if (dir) {
		start(dir, NULL, true);
	} else if (attach_request(buf, sizeof(buf), &sock) == 0) {
		start(buf, sock, false); /* loaded into a running process by poketrace attach */
	}
}

/* poketrace attach, when an earlier attach left the agent loaded (its
 * constructor has run): the command makes a thread call this.  0 or -errno. */
__attribute__((visibility("default"))) int poketrace_agent_attach(void)
{
	static char buf[8192];
	const char *sock;

	if (active)
		return -EBUSY;
	if (attach_request(buf, sizeof(buf), &sock) < 0)
		return -ENOENT;
	return start(buf, sock, false);
}

void agent_module_loaded(void)
{
	if (active && select_update(NULL) < 0)
		say("cannot trace a newly loaded module: %s", poketrace_last_error());
}
