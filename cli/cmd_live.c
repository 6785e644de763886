/* poketrace live and detach: control a process traced by poketrace record
 * or attach, while it runs, through its agent's control socket. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/ctlpath.h"
#include "cli/cli.h"

static const char usage[] =
	"usage: poketrace live -p PID REQUEST [ARG]\n"
	"\n"
	"Controls the tracer in a process traced by 'poketrace record' (add --paused to\n"
	"start it with nothing traced) or 'poketrace attach'.  Each change is one batch of patches while\n"
	"the program's threads keep running.\n"
	"\n"
	"  status              tracing on/off, functions known/selected/attached,\n"
	"                      threads, events, lost events, bytes buffered, hits\n"
	"  enable | disable    attach / detach the tracer\n"
	"  filter GLOBS        trace only functions matching GLOBS (a,b*; '-' for all)\n"
	"  notrace GLOBS       never trace functions matching GLOBS ('-' for none)\n"
	"  modules GLOBS       trace only these modules ('-' for all)\n"
	"  flush               write out everything traced so far, with the trace's\n"
	"                      metadata and info: the trace reads as it stands (the\n"
	"                      tracer pauses for the moment it takes; said in ms)\n"
	"  stop                tracing off for good, the trace written; the program\n"
	"                      runs on (as 'poketrace detach')\n"
	"\n"
	"The socket is $XDG_RUNTIME_DIR/poketrace/PID.sock (else /tmp/poketrace-UID/);\n"
	"only the process's owner may connect.\n";

int cmd_live(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *req, buf[4096], path[sizeof(a.sun_path)], *end = NULL;
	long pid = 0;
	int i = 3, fd, r, failed = 0; /* argv[i]: the request */
	size_t got = 0;
	ssize_t n;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 3)
		pid = strtol(argv[2], &end, 10);
	if (argc < 4 || strcmp(argv[1], "-p") || pid <= 0 || pid > INT_MAX || !end || *end) {
		cli_error("live needs -p PID and a request");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (argc - i > 2) {
		cli_error("too many arguments");
		return EXIT_USAGE;
	}
	/* any length: a filter list */
	if (asprintf(&req, "%s%s%s\n", argv[i], argc - i == 2 ? " " : "", argc - i == 2 ? argv[i + 1] : "") < 0) {
		cli_error("out of memory");
		return 1;
	}
	if ((r = control_socket_path(pid, path, sizeof(path), false)) < 0) {
		cli_error("no control directory for your user (%s): is process %ld traced by poketrace?",
			  r == -EPERM ? "unsafe permissions" : strerror(-r), pid);
		free(req);
		return 1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		cli_error("cannot reach the agent of process %ld at %s: %s (is it traced, by 'poketrace "
			  "record' or 'poketrace attach', and still running?)", pid, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(req);
		return 1;
	}
	/* An agent that refuses us answers and closes at once: EPIPE then,
	 * and its answer is still there to read. */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req) && errno != EPIPE &&
	    errno != ECONNRESET) {
		cli_error("writing to %s: %s", path, strerror(errno));
		close(fd);
		free(req);
		return 1;
	}
	free(req);
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "error: ", 7)) {
			cli_error("process %ld: %s", pid, line + 7);
			failed = 1;
		} else if (strcmp(line, "ok")) {
			puts(line);
		}
	}
	if (!got) {
		cli_error("process %ld closed the connection without an answer", pid);
		return 1;
	}
	return failed;
}

static const char usage_detach[] =
	"usage: poketrace detach -p PID\n"
	"\n"
	"Stops tracing a process (started with 'record' or joined with 'attach'):\n"
	"every site back to its nop, the trace written; the process runs on.\n";

int cmd_detach(int argc, char **argv)
{
	char *args[] = { argv[0], "-p", argc > 2 ? argv[2] : "", "detach", NULL };

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_detach, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "-p")) {
		cli_error("detach needs -p PID");
		fputs(usage_detach, stderr);
		return EXIT_USAGE;
	}
	return cmd_live(4, args);
}
