/* The writer thread.  It polls every thread's ring (no signal or wake-up
 * from the traced threads, which must not make system calls) and appends
 * each full chunk, as one CTF packet, to that thread's stream file.  A
 * failed write (full disk, RLIMIT_FSIZE) is cut back to the last whole
 * packet, so the file stays readable, and tracing to disk stops there. */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "trace/ctf.h"
#include "trace/tbuf.h"

static char dir[4096];
static pthread_t thread;
static atomic_int stop, running;
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t bytes, lost_on_disk;
static int first_error;
static char error_file[256];

static int stream_fd(struct tbuf *b)
{
	char path[4200];

	if (b->fd >= 0 || b->write_failed)
		return b->fd;
	snprintf(path, sizeof(path), "%s/stream_%u", dir, b->tid);
	b->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b->fd < 0)
		b->write_failed = true;
	threads_note(dir, b->tid);
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

static void write_chunk(struct tbuf *b, struct tb_chunk *c)
{
	int fd = stream_fd(b);

	if (fd >= 0 && !b->write_failed) {
		off_t at = lseek(fd, 0, SEEK_END);
		size_t done = 0;

		ctf_packet_header(c, b->tid);
		while (done < c->len) {
			ssize_t w = write(fd, c->data + done, c->len - done);

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
	atomic_store_explicit(&c->state, CHUNK_FREE, memory_order_release);
}

/* Writes every full chunk, in each thread's order.  drain_lock held. */
static bool drain_locked(void)
{
	bool any = false;

	for (struct tbuf *b = tb_all(); b; b = b->next) {
		for (;;) {
			struct tb_chunk *c = &b->chunks[b->wr_idx];

			if (atomic_load_explicit(&c->state, memory_order_acquire) != CHUNK_FULL)
				break;
			write_chunk(b, c);
			b->wr_idx = (b->wr_idx + 1) % b->nchunks;
			any = true;
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

static int count_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

/* Modules loaded by a dlopen the agent does not see (after attach its
 * dlopen is not interposed; dlmopen), every 50 ms.  The selection compares
 * itself with the loader's counts, not with an earlier look of ours: a
 * module loaded between the agent's first walk and our first look is
 * found too. */
static void watch_modules(void)
{
	static unsigned long long adds;
	static struct timespec last;
	unsigned long long now_adds = 0;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - last.tv_sec) * 1000000000L + (now.tv_nsec - last.tv_nsec) < 50000000L)
		return;
	last = now;
	dl_iterate_phdr(count_adds, &now_adds);
	/* Act once the count has stayed put for a tick: a module seen while
	 * the loader is still at work may be read before it is complete. */
	if (now_adds != adds) {
		adds = now_adds;
		return;
	}
	if (select_stale())
		agent_module_loaded();
}

static void *loop(void *arg)
{
	/* 250 us while there is work: a thread at 8 bytes per ~15 ns fills a
	 * 512 KiB chunk in about 1 ms, so the default ring (4 chunks) has room
	 * for 4 ms.  Idle, the pause doubles up to 2 ms (half the ring): on a
	 * machine whose cores the program keeps busy, 4,000 wake-ups a second
	 * cost it several percent (xz -T2 on 2 cores: 6%). */
	long idle_ns = 250000;

	(void)arg;
	while (!atomic_load(&stop)) {
		if (drain()) {
			idle_ns = 250000;
		} else {
			nanosleep(&(struct timespec){ 0, idle_ns }, NULL);
			idle_ns = idle_ns < 2000000 ? idle_ns * 2 : 2000000;
		}
		watch_modules();
	}
	drain();
	return NULL;
}

int writer_start(const char *d)
{
	int r;

	snprintf(dir, sizeof(dir), "%s", d);
	/* A new trace (attach after detach): every thread's buffer starts a
	 * new stream and count; no handler runs (nothing is attached). */
	for (struct tbuf *b = tb_all(); b; b = b->next) {
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		b->write_failed = false;
		b->events = b->lost = 0;
		b->depth = 0;
	}
	bytes = lost_on_disk = 0;
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
		pthread_join(thread, NULL);
	}
	writer_sync(true);
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
		t->threads++;
	}
	t->bytes = bytes;
	t->lost_on_disk = lost_on_disk;
	t->error = first_error;
	snprintf(t->error_file, sizeof(t->error_file), "%s", error_file);
}
