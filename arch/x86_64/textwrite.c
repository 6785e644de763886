/* Code writing (see textwrite.h). */
#include "arch/x86_64/textwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"

#define PAGE 4096UL

static _Atomic int mode = TEXT_AUTO;
static int memfd = -1;

void text_set_mode(int m)
{
	atomic_store(&mode, m);
}

int text_mode(void)
{
	int m = atomic_load(&mode);

	return m == TEXT_AUTO ? TEXT_MPROTECT : m;
}

static int procmem_fd(void)
{
	if (memfd < 0)
		memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	return memfd < 0 ? -errno : memfd;
}

static int build_ranges(struct text_session *s, const uintptr_t *addr, size_t n, size_t len)
{
	s->ranges = calloc(n ? n : 1, sizeof(*s->ranges));
	if (!s->ranges)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uintptr_t a = addr[i] & ~(PAGE - 1);
		uintptr_t e = (addr[i] + len + PAGE - 1) & ~(PAGE - 1);
		struct text_range *last = s->nranges ? &s->ranges[s->nranges - 1] : NULL;

		if (last && a <= last->end) {
			if (e > last->end)
				last->end = e;
		} else {
			s->ranges[s->nranges].start = a;
			s->ranges[s->nranges].end = e;
			s->nranges++;
		}
	}
	return 0;
}

static void restore(struct text_session *s, size_t upto)
{
	for (size_t i = 0; i < upto; i++) {
		mprotect((void *)s->ranges[i].start, s->ranges[i].end - s->ranges[i].start,
			 PROT_READ | PROT_EXEC);
		s->mprotects++;
	}
}

int text_open(struct text_session *s, const uintptr_t *addr, size_t n, size_t len)
{
	int m = atomic_load(&mode), r;

	memset(s, 0, sizeof(*s));
	r = build_ranges(s, addr, n, len);
	if (r < 0)
		return pt_error(-r, "out of memory");
	if (m != TEXT_PROCMEM) {
		for (size_t i = 0; i < s->nranges; i++) {
			struct text_range *t = &s->ranges[i];

			s->mprotects++;
			if (mprotect((void *)t->start, t->end - t->start,
				     PROT_READ | PROT_WRITE | PROT_EXEC) == 0)
				continue;
			r = errno;
			restore(s, i);
			if (m == TEXT_AUTO && (r == EACCES || r == EPERM)) {
				/* W+X refused (SELinux execmod, PaX): from now on
				 * write through /proc/self/mem. */
				atomic_store(&mode, TEXT_PROCMEM);
				m = TEXT_PROCMEM;
				break;
			}
			free(s->ranges);
			s->ranges = NULL;
			return pt_error(r, "cannot make code at %#lx writable: %s", t->start, strerror(r));
		}
	}
	if (m == TEXT_PROCMEM) {
		r = procmem_fd();
		if (r < 0) {
			free(s->ranges);
			s->ranges = NULL;
			return pt_error(-r, "W+X mappings are refused and /proc/self/mem cannot be "
					"opened for writing: %s", strerror(-r));
		}
		s->mode = TEXT_PROCMEM;
	} else {
		atomic_store(&mode, TEXT_MPROTECT);
		s->mode = TEXT_MPROTECT;
	}
	return 0;
}

int text_write(struct text_session *s, uintptr_t addr, const void *src, size_t len)
{
	if (s->mode == TEXT_PROCMEM) {
		ssize_t w = pwrite(memfd, src, len, (off_t)addr);

		if (w != (ssize_t)len)
			return pt_error(w < 0 ? errno : EIO, "writing %zu bytes at %#lx through "
					"/proc/self/mem failed", len, (unsigned long)addr);
		return 0;
	}
	if (len == 1) {
		/* The int3 and the final first byte: one store each, which a
		 * concurrent instruction fetch sees either before or after. */
		*(volatile uint8_t *)addr = *(const uint8_t *)src;
		return 0;
	}
	memcpy((void *)addr, src, len);
	return 0;
}

int text_close(struct text_session *s)
{
	int r = 0;

	if (s->mode == TEXT_MPROTECT) {
		for (size_t i = 0; i < s->nranges; i++) {
			s->mprotects++;
			if (mprotect((void *)s->ranges[i].start, s->ranges[i].end - s->ranges[i].start,
				     PROT_READ | PROT_EXEC) < 0 && !r)
				r = pt_error(errno, "cannot restore R-X at %#lx: %s", s->ranges[i].start,
					     strerror(errno));
		}
	}
	free(s->ranges);
	s->ranges = NULL;
	return r;
}
