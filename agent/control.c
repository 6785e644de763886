/* The control socket: a Unix socket per traced process, in a directory only
 * the user can enter ($XDG_RUNTIME_DIR/poketrace, else /tmp/poketrace-UID,
 * mode 0700, checked), served by a thread of its own.  A connection from
 * another uid (SO_PEERCRED) is refused and logged.  One request line per
 * connection; the answer ends with "ok" or "error: ...":
 *   status                    tracing on/off, functions, events, lost, buffer, hits
 *   enable | disable          attach / detach the tracer (one batch)
 *   filter GLOBS | notrace GLOBS | modules GLOBS    change the selection (one batch)
 *   flush                     everything so far on disk, metadata and info too
 *   stop | detach             tracer off, trace written, this thread ends */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "base/ctlpath.h"
#include "poketrace.h"
#include "trace/tbuf.h"

static int lsock = -1;
static volatile int stopping;
static pthread_t thread;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static uid_t allowed;

static void status(FILE *f)
{
	struct select_status st;
	struct writer_totals t;
	uint64_t buffered = 0;

	select_status(&st);
	writer_totals(&t);
	for (struct tbuf *b = tb_all(); b; b = b->next)
		buffered += tb_buffered(b);
	fprintf(f, "tracing %s\nfunctions %zu\nselected %zu\nattached %zu\nthreads %zu\nevents %llu\n"
		"lost %llu\nbuffered %llu\nbuffers %llu\nwaits %llu\nwait_ns %llu\n", st.enabled ? "on" : "off",
		st.known, st.selected, st.attached, (size_t)t.threads, (unsigned long long)t.events,
		(unsigned long long)t.lost, (unsigned long long)buffered, (unsigned long long)t.buffer_bytes,
		(unsigned long long)t.waits, (unsigned long long)t.wait_ns);
	select_print_hits(f, 20);
}

/* One request, its answer on f ending with "ok" or "error: ...".  0, or
 * -errno. */
static int dispatch(char *line, FILE *f)
{
	char *arg = strchr(line, ' ');
	struct select_change ch = { NULL, NULL, NULL, -1 };
	int r;

	if (arg)
		*arg++ = '\0';
	if (!strcmp(line, "status") && !arg) {
		status(f);
		r = 0;
	} else if (!strcmp(line, "flush") && !arg) {
		r = agent_flush(f);
	} else if ((!strcmp(line, "detach") || !strcmp(line, "stop")) && !arg) {
		r = agent_detach();
		if (r == 0)
			stopping = 1; /* the socket goes after this answer */
	} else if ((!strcmp(line, "enable") || !strcmp(line, "disable")) && !arg) {
		ch.enable = line[0] == 'e';
		r = select_update(&ch);
	} else if (!strcmp(line, "filter") || !strcmp(line, "notrace") || !strcmp(line, "modules")) {
		const char *v = arg && strcmp(arg, "-") ? arg : "";

		*(line[0] == 'f' ? &ch.filter : line[0] == 'n' ? &ch.notrace : &ch.modules) = v;
		r = select_update(&ch);
	} else {
		fprintf(f, "error: unknown request '%.100s' (status, enable, disable, filter GLOBS, "
			"notrace GLOBS, modules GLOBS, flush, stop, detach)\n", line);
		return -EINVAL;
	}
	if (r < 0)
		fprintf(f, "error: %s\n", poketrace_last_error()[0] ? poketrace_last_error() : strerror(-r));
	else
		fprintf(f, "ok\n");
	return r;
}

static void serve(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval tmo = { 2, 0 };
	size_t len0 = 0, cap = 4096;
	char *line = malloc(cap);
	ssize_t n;
	FILE *f;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != allowed) {
		fprintf(stderr, "poketrace agent: refused a control connection from uid %d (pid %d): "
			"only uid %u may control this process\n", (int)cred.uid, (int)cred.pid, (unsigned)allowed);
		ssize_t w = write(fd, "error: refused: you are not the owner of the process\n", 53);

		(void)w;
		free(line);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	/* one line, any length (a filter list): up to its newline or EOF */
	while (line && (n = read(fd, line + len0, cap - 1 - len0)) > 0) {
		len0 += (size_t)n;
		line[len0] = '\0';
		if (strchr(line, '\n'))
			break;
		if (len0 == cap - 1) {
			char *nl = cap < (64u << 20) ? realloc(line, cap *= 2) : NULL;

			if (!nl) {
				free(line);
				line = NULL;
			} else {
				line = nl;
			}
		}
	}
	if (!line || !len0) {
		free(line);
		return;
	}
	line[len0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	f = fdopen(dup(fd), "w");
	if (f) {
		dispatch(line, f);
		fclose(f);
	}
	free(line);
}

/* The same requests from code in the process (poketrace_tracer_control
 * finds this by name).  The answer, without the final "ok", in out. */
__attribute__((visibility("default"))) int poketrace_agent_request(const char *req, char *out, size_t cap)
{
	char *line;
	FILE *f;
	int r;

	if (!agent_active())
		return -ENOENT; /* detached, or never started */
	if (!(line = strdup(req)))
		return -ENOMEM;
	line[strcspn(line, "\n")] = '\0';
	if (!(f = fmemopen(out, cap, "w"))) {
		r = -errno;
		free(line);
		return r;
	}
	r = dispatch(line, f);
	fclose(f);
	free(line);
	if (cap) {
		char *ok = strstr(out, "ok\n");

		if (ok && ok[3] == '\0' && (ok == out || ok[-1] == '\n'))
			*ok = '\0';
	}
	if (stopping && lsock >= 0)
		shutdown(lsock, SHUT_RDWR); /* its thread cleans up and ends */
	return r;
}

static void *loop(void *arg)
{
	(void)arg;
	agent_thread_start();
	for (;;) {
		int fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && !stopping)
			return NULL; /* closed by control_stop */
		if (fd >= 0) {
			serve(fd);
			close(fd);
		}
		if (stopping) {
			close(lsock);
			lsock = -1;
			unlink(sock_path);
			pthread_detach(pthread_self()); /* nobody joins: a later attach starts another */
			return NULL;
		}
	}
}

int control_start(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *test_uid = getenv("POKETRACE_CONTROL_UID"); /* tests: pretend another owner */
	int r;

	stopping = 0;
	allowed = test_uid ? (uid_t)atoi(test_uid) : getuid();
	if (sock && strlen(sock) >= sizeof(sock_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (sock)
		snprintf(sock_path, sizeof(sock_path), "%s", sock);
	else if ((r = control_socket_path(getpid(), sock_path, sizeof(sock_path), true)) < 0) {
		errno = -r;
		return -1;
	}
	unlink(sock_path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lsock, 8) < 0 ||
	    pthread_create(&thread, NULL, loop, NULL) != 0) {
		if (lsock >= 0)
			close(lsock);
		lsock = -1;
		return -1;
	}
	return 0;
}

void control_forget(void)
{
	if (lsock >= 0)
		close(lsock);
	lsock = -1;
	stopping = 0;
}

void control_stop(void)
{
	if (lsock < 0 || stopping)
		return;
	shutdown(lsock, SHUT_RDWR);
	close(lsock);
	lsock = -1;
	pthread_join(thread, NULL);
	unlink(sock_path);
}
