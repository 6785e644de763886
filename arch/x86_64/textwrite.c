/* Code writing (see textwrite.h). */
#include "arch/x86_64/textwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fault.h"
#include "base/maps.h"

#define PAGE 4096UL
/* Sites closer than this share one span (one mprotect pair, one split). */
#define MERGE_GAP (64 * PAGE)

static _Atomic int mode = TEXT_AUTO;

void text_set_mode(int m)
{
	atomic_store(&mode, m);
}

int text_mode(void)
{
	int m = atomic_load(&mode);

	return m == TEXT_AUTO ? TEXT_MPROTECT : m;
}

/* The spans: the pages of [addr[i], addr[i]+len), grouped per mapping, with
 * the mapping's protection.  Every page must be mapped. */
static int build_spans(struct text_session *s, const uintptr_t *addr, size_t n, size_t len)
{
	struct maps maps;
	int r = maps_read(&maps);

	if (r < 0)
		return pt_error(-r, "cannot read /proc/self/maps: %s", strerror(-r));
	s->spans = calloc(n ? 2 * n : 1, sizeof(*s->spans));
	if (!s->spans) {
		maps_free(&maps);
		return pt_error(ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		uintptr_t a = addr[i] & ~(PAGE - 1), e = (addr[i] + len + PAGE - 1) & ~(PAGE - 1);

		/* a write may straddle two mappings (a page each side) */
		while (a < e) {
			const struct maps_entry *m = maps_find(&maps, a);
			struct text_span *last = s->nspans ? &s->spans[s->nspans - 1] : NULL;
			uintptr_t end;

			if (!m) {
				maps_free(&maps);
				return pt_error(EFAULT, "code at %#lx is not mapped", (unsigned long)a);
			}
			end = e < m->end ? e : m->end;
			if (last && last->start >= m->start && last->end <= m->end && a <= last->end + MERGE_GAP) {
				if (end > last->end)
					last->end = end;
			} else {
				s->spans[s->nspans++] = (struct text_span){ a, end, m->prot };
			}
			a = end;
		}
	}
	maps_free(&maps);
	return 0;
}

static int set_prot(struct text_session *s, const struct text_span *t, int prot)
{
	int e = pt_fault("mprotect");

	s->mprotects++;
	if (e || mprotect((void *)t->start, t->end - t->start, prot) < 0)
		return -(e ? e : errno);
	return 0;
}

static void restore(struct text_session *s, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		set_prot(s, &s->spans[i], s->spans[i].prot);
}

static void session_free(struct text_session *s)
{
	if (s->memfd >= 0)
		close(s->memfd);
	s->memfd = -1;
	free(s->spans);
	s->spans = NULL;
	s->nspans = 0;
}

/* ------------------------------------------------- protection owed */

/* Module code whose protection a session could not give back (two
 * mprotects failed, e.g. at the kernel's limit on mappings).  What the
 * session wrote stands: a batch whose protocol ran is committed, and its
 * caller told so — failing it would leave the sites pointing at images the
 * caller then frees.  Every later module session tries again first, before
 * it reads the mappings' protection (which would take the W for the
 * mapping's own), if the pages are still the file's pages they were (not
 * unmapped by a dlclose and reused, say by a JIT's own W+X memory) and as
 * they were left.  A debt that cannot be recorded (no memory, no maps) is
 * forgotten: the pages stay writable, the batch stands.  Engine lock held. */
struct debt {
	struct text_span span;
	unsigned long dev_major, dev_minor, ino;
	uint64_t offset; /* in the file, of span.start */
};

static struct debt *owed;
static size_t nowed, owed_cap;

static void owe(const struct text_span *t)
{
	const struct maps_entry *m;
	struct maps maps;

	for (size_t i = 0; i < nowed; i++)
		if (owed[i].span.start == t->start && owed[i].span.end == t->end)
			return;
	if (nowed == owed_cap) {
		size_t cap = owed_cap ? 2 * owed_cap : 16;
		struct debt *v = realloc(owed, cap * sizeof(*v));

		if (!v)
			return;
		owed = v;
		owed_cap = cap;
	}
	if (maps_read(&maps) < 0)
		return;
	if ((m = maps_find(&maps, t->start)) && m->ino)
		owed[nowed++] = (struct debt){ *t, m->dev_major, m->dev_minor, m->ino,
					       m->offset + (t->start - m->start) };
	maps_free(&maps);
}

static void pay_owed(void)
{
	struct maps maps;
	size_t k = 0;

	if (!nowed || maps_read(&maps) < 0)
		return;
	for (size_t i = 0; i < nowed; i++) {
		const struct debt *d = &owed[i];
		const struct maps_entry *m = maps_find(&maps, d->span.start);
		int e;

		if (!m || m->end < d->span.end || m->prot != (d->span.prot | PROT_WRITE) || m->ino != d->ino ||
		    m->dev_major != d->dev_major || m->dev_minor != d->dev_minor ||
		    m->offset + (d->span.start - m->start) != d->offset)
			continue; /* not the pages left writable any more: forgotten */
		e = pt_fault("mprotect");
		if (e || mprotect((void *)d->span.start, d->span.end - d->span.start, d->span.prot) < 0)
			owed[k++] = *d;
	}
	nowed = k;
	maps_free(&maps);
}

/* ------------------------------------------------------------ sessions */

static int open_spans(struct text_session *s);

int text_open(struct text_session *s, const uintptr_t *addr, size_t n, size_t len)
{
	int r;

	pay_owed();
	memset(s, 0, sizeof(*s));
	s->memfd = -1;
	s->module = true;
	if ((r = build_spans(s, addr, n, len)) < 0) {
		session_free(s);
		return r;
	}
	return open_spans(s);
}

int text_open_known(struct text_session *s, uintptr_t addr, size_t len, int prot)
{
	memset(s, 0, sizeof(*s));
	s->memfd = -1;
	if (!(s->spans = calloc(1, sizeof(*s->spans))))
		return pt_error(ENOMEM, "out of memory");
	s->spans[0] = (struct text_span){ addr & ~(PAGE - 1), (addr + len + PAGE - 1) & ~(PAGE - 1), prot };
	s->nspans = 1;
	return open_spans(s);
}

static int open_spans(struct text_session *s)
{
	int m = atomic_load(&mode), r;

	if (m != TEXT_PROCMEM) {
		for (size_t i = 0; i < s->nspans; i++) {
			struct text_span *t = &s->spans[i];

			if ((r = set_prot(s, t, t->prot | PROT_WRITE)) == 0)
				continue;
			restore(s, i);
			if (m == TEXT_AUTO && (r == -EACCES || r == -EPERM) && (t->prot & PROT_EXEC)) {
				/* W+X refused (SELinux execmod, PaX): from now on
				 * write through /proc/self/mem. */
				atomic_store(&mode, TEXT_PROCMEM);
				m = TEXT_PROCMEM;
				break;
			}
			{
				uintptr_t at = t->start;

				session_free(s);
				return pt_error(-r, "cannot make code at %#lx writable: %s; nothing was written",
						(unsigned long)at, strerror(-r));
			}
		}
	}
	if (m == TEXT_PROCMEM) {
		/* Opened now, for this session: a descriptor kept across
		 * sessions would be the parent's in a forked child, and a
		 * program that closes descriptors it does not know would
		 * close it and reuse its number. */
		int e = pt_fault("open");

		s->memfd = e ? -1 : open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (s->memfd < 0) {
			r = e ? e : errno;
			session_free(s);
			return pt_error(r, "W+X mappings are refused and /proc/self/mem cannot be opened for "
					"writing: %s; nothing was written", strerror(r));
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
		int e = pt_fault("pwrite");
		ssize_t w = e ? -1 : pwrite(s->memfd, src, len, (off_t)addr);

		if (w != (ssize_t)len)
			return pt_error(e ? e : w < 0 ? errno : EIO, "writing %zu bytes at %#lx through "
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
		for (size_t i = 0; i < s->nspans; i++) {
			int e = set_prot(s, &s->spans[i], s->spans[i].prot);

			/* once more: a page left W+X is worse than a slow close */
			if (e < 0)
				e = set_prot(s, &s->spans[i], s->spans[i].prot);
			if (e < 0 && s->module)
				owe(&s->spans[i]); /* (the writes stand: see owe) */
			else if (e < 0 && !r)
				r = pt_error(-e, "cannot restore the protection of the code at %#lx: %s",
					     (unsigned long)s->spans[i].start, strerror(-e));
		}
	}
	session_free(s);
	return r;
}
