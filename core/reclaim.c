/* Reclaiming retired images without any cost on the hot path.
 *
 * Once a batch has retargeted its site, no new call enters an old image; a
 * thread can still be inside one, or inside a function called from one (its
 * return address then lies on its stack).  The proof that none is: for every
 * other thread, a snapshot taken while it is not running — its stack pointer
 * and program counter from /proc/self/task/TID/syscall — and a scan of its
 * stack from there to the end of the stack mapping for any word pointing into
 * a retired image.  The snapshot counts only if the thread's context-switch
 * counters are the same before and after, i.e. it did not run meanwhile.  A
 * running thread cannot be judged: the images wait for a later attempt.
 *
 * Words are compared conservatively (any value in range counts, return
 * address or not), so a stale value only delays reclaiming.  A thread
 * stopped between a stub's `lea r11` and its shared trampoline storing r11
 * holds a stub's address only in a register: a program counter in that
 * window blocks reclaiming every stub for the round.
 *
 * Not covered: a thread blocked inside a signal handler that runs on a
 * sigaltstack, whose interrupted frames lie on its ordinary stack (only the
 * alternate stack is scanned). */
#include "core/reclaim.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/rawsys.h"

static struct image *retired;
static int nretired;

/* Shared trampolines whose r11 window matters (see top); kept by ops.c. */
struct image *const *reclaim_shared_tramps(size_t *n);

void reclaim_retire(struct image *im)
{
	im->next = retired;
	retired = im;
	nretired++;
	image_count_retired(1);
}

int reclaim_pending(void)
{
	return nretired;
}

struct range {
	uintptr_t lo, hi;
};

static int read_maps(struct range **out)
{
	FILE *f = fopen("/proc/self/maps", "re");
	struct range *v = NULL;
	int n = 0, cap = 0;
	char line[512];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (n == cap) {
			struct range *nv = realloc(v, sizeof(*v) * (cap = cap ? cap * 2 : 128));

			if (!nv) {
				free(v);
				fclose(f);
				return -1;
			}
			v = nv;
		}
		v[n].lo = lo;
		v[n].hi = hi;
		n++;
	}
	fclose(f);
	*out = v;
	return n;
}

static uintptr_t mapping_end(const struct range *m, int n, uintptr_t a)
{
	for (int i = 0; i < n; i++)
		if (a >= m[i].lo && a < m[i].hi)
			return m[i].hi;
	return 0;
}

/* Marks retired images referenced from [sp, end) or by pc.  Reads whole
 * stacks, sanitizer redzones included. */
PT_NOSANITIZE static void mark(uintptr_t sp, uintptr_t end, uintptr_t pc, bool *busy)
{
	int i = 0;

	for (struct image *im = retired; im; im = im->next, i++) {
		if (busy[i])
			continue;
		if (image_contains(im, pc)) {
			busy[i] = true;
			continue;
		}
		for (uintptr_t p = sp & ~7UL; p + 8 <= end; p += 8) {
			if (image_contains(im, *(const uintptr_t *)p)) {
				busy[i] = true;
				break;
			}
		}
	}
}

static bool read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static long switches(long tid)
{
	char path[64], buf[2048];
	const char *v, *nv;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	if (!read_file(path, buf, sizeof(buf)))
		return -1;
	v = strstr(buf, "voluntary_ctxt_switches:");
	nv = strstr(buf, "nonvoluntary_ctxt_switches:");
	if (!v || !nv)
		return -1;
	return atol(v + 24) * 1000003L + atol(nv + 27);
}

/* sp and pc of a thread that is not running: "nr args... sp pc" (in a
 * system call) or "-1 sp pc" (blocked otherwise); "running" otherwise. */
static bool stopped_at(long tid, uintptr_t *sp, uintptr_t *pc)
{
	char path[64], buf[512], *last, *prev;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", tid);
	if (!read_file(path, buf, sizeof(buf)) || !strncmp(buf, "running", 7))
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	last = strrchr(buf, ' ');
	if (!last)
		return false;
	*last = '\0';
	prev = strrchr(buf, ' ');
	if (!prev)
		return false;
	*sp = strtoul(prev + 1, NULL, 16);
	*pc = strtoul(last + 1, NULL, 16);
	return true;
}

/* One thread: true if judged (busy[] updated), false if it was running. */
static bool judge(long tid, const struct range *maps, int nmaps, bool *busy)
{
	uintptr_t sp, pc, sp2, pc2;
	long before = switches(tid);

	if (before < 0)
		return true; /* exited */
	if (!stopped_at(tid, &sp, &pc) || !mapping_end(maps, nmaps, sp))
		return false;
	mark(sp, mapping_end(maps, nmaps, sp), pc, busy);
	{
		size_t n;
		struct image *const *shared = reclaim_shared_tramps(&n);

		for (size_t i = 0; i < n; i++) {
			if (pc >= shared[i]->code && pc < shared[i]->r11_end) {
				int k = 0;

				for (struct image *im = retired; im; im = im->next, k++)
					if (im->is_stub)
						busy[k] = true; /* see top */
			}
		}
	}
	return stopped_at(tid, &sp2, &pc2) && sp2 == sp && pc2 == pc && switches(tid) == before;
}

int reclaim_try(void)
{
	long self = raw_gettid();
	struct range *maps = NULL;
	bool *busy, undecided = false;
	struct dirent *e;
	DIR *d;
	int nmaps;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (!retired)
		return 0;
	busy = calloc((size_t)nretired, sizeof(*busy));
	nmaps = read_maps(&maps);
	d = opendir("/proc/self/task");
	if (!busy || nmaps < 0 || !d) {
		free(busy);
		free(maps);
		if (d)
			closedir(d);
		return nretired;
	}
	/* This thread: from here up (it may be in a handler called from one). */
	mark(here, mapping_end(maps, nmaps, here), 0, busy);
	while ((e = readdir(d))) {
		long tid = atol(e->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (!judge(tid, maps, nmaps, busy))
			undecided = true;
	}
	closedir(d);
	free(maps);
	if (!undecided) {
		struct image **pp = &retired;
		int i = 0;

		while (*pp) {
			struct image *im = *pp;

			if (!busy[i++]) {
				*pp = im->next;
				nretired--;
				image_free(im);
			} else {
				pp = &im->next;
			}
		}
	}
	free(busy);
	return nretired;
}
