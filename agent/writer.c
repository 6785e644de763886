/* The writer thread.  It sleeps until a traced thread queues a full chunk
 * (tbuf.c wakes it) and appends each, as one CTF packet, to that thread's
 * stream file, then gives the chunk back.  A failed write (full disk,
 * RLIMIT_FSIZE) is cut back to the last whole packet, so the file stays
 * readable, and tracing to disk stops there.
 *
 * Traced threads may wait for it (tbuf.c), so it never waits for them: it
 * takes no lock a traced thread can hold (no malloc, no stdio, no loader
 * lock: modules are watched by another thread), only system calls and
 * drain_lock, which traced threads take only with trylock (the crash path). */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "trace/ctf.h"
#include "trace/tbuf.h"

static char dir[4096];
static int dir_fd = -1; /* dir's */
static pthread_t thread;
static atomic_int stop, running;
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t bytes, lost_on_disk, over_max, max_bytes;
static int first_error;
/* Tests: POKETRACE_WRITER_DELAY_MS makes the writer pause after every chunk
 * (a writer left off-CPU, or a slow disk): gaps of a known length. */
static long delay_ms;
static char error_file[256];

/* (names relative to the directory: this may run at the exit of a thread
 * with a small stack, no path buffers on it) */
static int stream_fd(struct tbuf *b)
{
	char name[32];

	if (b->fd >= 0 || b->write_failed)
		return b->fd;
	snprintf(name, sizeof(name), "stream_%u", b->tid);
	b->fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b->fd < 0)
		b->write_failed = true;
	threads_note(dir, dir_fd, b->tid, b->name);
	return b->fd;
}

static void fail(struct tbuf *b, int err, off_t good)
{
	if (b->fd >= 0 && ftruncate(b->fd, good) < 0)
		err = err ? err : errno;
	b->write_failed = true;
	if (!first_error) {
		first_error = err ? err : EIO;
		snprintf(error_file, sizeof(error_file), "stream_%u", b->tid);
	}
}

void writer_set_max(uint64_t max)
{
	max_bytes = max;
}

static void write_chunk(struct tbuf *b, struct tb_chunk *c)
{
	int fd;

	/* --max-size: the trace so far stays whole, what comes after is counted */
	if (max_bytes && bytes + c->len > max_bytes) {
		over_max += c->nevents;
		return;
	}
	fd = stream_fd(b);

	if (fd >= 0 && !b->write_failed) {
		off_t at = lseek(fd, 0, SEEK_END);
		size_t done = 0;

		ctf_packet_header(c, b->tid);
		while (done < c->len) {
			ssize_t w = write(fd, c->data + done, c->len - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fail(b, w < 0 ? errno : ENOSPC, at);
				break;
			}
			done += (size_t)w;
		}
		if (done == c->len)
			bytes += c->len;
	}
	if (b->write_failed)
		lost_on_disk += c->nevents;
	if (delay_ms)
		nanosleep(&(struct timespec){ delay_ms / 1000, delay_ms % 1000 * 1000000L }, NULL);
}

/* Writes every full chunk, in each thread's order, one chunk per thread per
 * round: a thread waiting for a chunk back gets one within a round, however
 * much another thread has queued.  drain_lock held. */
static bool drain_locked(void)
{
	bool any = false, more = true;

	while (more) {
		more = false;
		for (struct tbuf *b = tb_all(); b; b = b->next) {
			int i = tb_next_full(b);

			if (i < 0)
				continue;
			write_chunk(b, &b->chunks[i]);
			tb_give_back(b, i);
			any = more = true;
		}
	}
	return any;
}

static bool drain(void)
{
	bool any;

	pthread_mutex_lock(&drain_lock);
	any = drain_locked();
	pthread_mutex_unlock(&drain_lock);
	return any;
}

static void *loop(void *arg)
{
	(void)arg;
	agent_thread_start();
	while (!atomic_load(&stop)) {
		if (!drain())
			tb_writer_sleep(1000000000L); /* woken by the first chunk queued */
	}
	drain();
	return NULL;
}

int writer_start(const char *d, bool fresh)
{
	int r;

	snprintf(dir, sizeof(dir), "%s", d);
	if (dir_fd >= 0)
		close(dir_fd);
	if ((dir_fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	delay_ms = getenv("POKETRACE_WRITER_DELAY_MS") ? atol(getenv("POKETRACE_WRITER_DELAY_MS")) : 0;
	/* A new trace (attach after detach): every thread's buffer starts a
	 * new stream and count; no handler runs (nothing is attached).  A
	 * forked child's (tb_forked) keeps its calls in progress. */
	for (struct tbuf *b = fresh ? tb_all() : NULL; b; b = b->next) {
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		b->write_failed = false;
		b->events = b->lost = 0;
		b->waits = b->wait_ns = b->wait_timeouts = 0;
		b->depth = 0;
	}
	bytes = lost_on_disk = over_max = 0;
	first_error = 0;
	error_file[0] = '\0';
	atomic_store(&stop, 0);
	r = pthread_create(&thread, NULL, loop, NULL);
	if (r == 0)
		atomic_store(&running, 1);
	return -r;
}

void writer_finish(void)
{
	if (atomic_exchange(&running, 0)) {
		atomic_store(&stop, 1);
		tb_writer_wake();
		pthread_join(thread, NULL);
	}
	writer_sync(true);
}

void writer_forget(void)
{
	atomic_store(&running, 0);
	/* the parent's writer may have held it at the fork */
	pthread_mutex_init(&drain_lock, NULL);
	for (struct tbuf *b = tb_all(); b; b = b->next) {
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		b->write_failed = true;
	}
}

void writer_sync(bool seal)
{
	if (seal)
		for (struct tbuf *b = tb_all(); b; b = b->next)
			tb_seal(b);
	drain();
	for (struct tbuf *b = tb_all(); b; b = b->next)
		if (b->fd >= 0)
			fsync(b->fd);
}

void writer_emergency(void)
{
	struct timespec pause = { 0, 1000000 };
	bool locked = false;

	/* The writer thread may be appending to the same files: take its lock,
	 * waiting a little for it to finish a packet.  If the crash happened
	 * inside drain (the lock is never released), write nothing more. */
	atomic_store(&stop, 1);
	for (int i = 0; i < 200 && !(locked = pthread_mutex_trylock(&drain_lock) == 0); i++)
		nanosleep(&pause, NULL);
	if (!locked)
		return;
	for (struct tbuf *b = tb_all(); b; b = b->next)
		tb_seal(b);
	drain_locked();
	pthread_mutex_unlock(&drain_lock);
}

void writer_totals(struct writer_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (struct tbuf *b = tb_all(); b; b = b->next) {
		t->events += b->events;
		t->lost += b->lost;
		t->waits += b->waits;
		t->wait_ns += b->wait_ns;
		t->wait_timeouts += b->wait_timeouts;
		t->threads += b->traced || b->events || b->lost; /* (not one whose calls were all left out) */
	}
	t->buffer_bytes = tb_mapped_bytes();
	t->buffer_peak = tb_peak_bytes();
	t->bytes = bytes;
	t->lost_on_disk = lost_on_disk;
	t->over_max = over_max;
	t->error = first_error;
	snprintf(t->error_file, sizeof(t->error_file), "%s", error_file);
}
