/* Thread names for the readers (dump --chrome's thread_name, info): the
 * writer notes a thread's name (/proc/self/task/TID/comm) when it opens the
 * thread's stream (or, if the thread is gone, the name it had at its first
 * event), and the end of a trace notes the names that changed since (a
 * thread may name itself after its first event).  DIR/poketrace/threads
 * gets a "TID\tNAME" line each time; the last line for a tid is its name.
 *
 * The note may run in a fatal signal handler (writer_emergency): only
 * open/read/write/close and a static table, no allocation, no stdio. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"

#define MAX_NAMED 4096 /* threads whose names are refreshed at the end; more are noted once */

static struct {
	uint32_t tid;
	char name[16];
} tab[MAX_NAMED];
static atomic_size_t ntab;
static char tab_dir[4096];

/* comm without its newline into name[16]; false if the thread is gone. */
static bool read_comm(uint32_t tid, char name[16])
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%u/comm", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, name, 15);
	close(fd);
	if (n <= 0)
		return false;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	return true;
}

static void append(int dirfd, uint32_t tid, const char *name)
{
	char line[64];
	int fd, len;

	fd = openat(dirfd, "poketrace/threads", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "%u\t%s\n", tid, name);
	if (write(fd, line, (size_t)len) < 0) {
		/* a full disk: the trace has no name for this thread */
	}
	close(fd);
}

void threads_note(const char *dir, int dirfd, uint32_t tid, const char *first_name)
{
	char name[16];
	size_t n = atomic_load(&ntab);

	if (strcmp(dir, tab_dir)) {
		/* a new trace (attach after detach): its own names */
		snprintf(tab_dir, sizeof(tab_dir), "%s", dir);
		atomic_store(&ntab, n = 0);
	}
	if (!read_comm(tid, name)) {
		/* gone already: the name it had at its first event */
		if (!first_name || !first_name[0])
			return;
		snprintf(name, sizeof(name), "%s", first_name);
	}
	append(dirfd, tid, name);
	if (n < MAX_NAMED) {
		tab[n].tid = tid;
		memcpy(tab[n].name, name, sizeof(name));
		atomic_store_explicit(&ntab, n + 1, memory_order_release);
	}
}

void threads_refresh(const char *dir, int dirfd)
{
	size_t n = atomic_load_explicit(&ntab, memory_order_acquire);
	char name[16];

	if (strcmp(dir, tab_dir))
		return;
	for (size_t i = 0; i < n; i++)
		if (read_comm(tab[i].tid, name) && strcmp(name, tab[i].name)) {
			memcpy(tab[i].name, name, sizeof(name));
			append(dirfd, tab[i].tid, name);
		}
}
