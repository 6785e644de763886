/* See maps.h. */
#include "base/maps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/fault.h"

static int prot_of(const char *perms)
{
	return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	       (perms[2] == 'x' ? PROT_EXEC : 0);
}

int maps_read(struct maps *m)
{
	size_t cap = 0, pcap = 0, plen = 0;
	char line[4352], perms[8];
	FILE *f;
	int e;

	memset(m, 0, sizeof(*m));
	if ((e = pt_fault("maps")) || !(f = fopen("/proc/self/maps", "re")))
		return -(e ? e : errno);
	while (fgets(line, sizeof(line), f)) {
		struct maps_entry x = { 0 };
		int at = 0;
		size_t len;
		char *p;

		if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu %n", &x.start, &x.end, perms, &x.offset, &x.dev_major,
			   &x.dev_minor, &x.ino, &at) < 7)
			continue;
		x.prot = prot_of(perms);
		p = line + at;
		p[strcspn(p, "\n")] = '\0';
		len = strlen(p);
		if (len > 10 && !strcmp(p + len - 10, " (deleted)")) {
			x.deleted = true;
			p[len -= 10] = '\0';
		}
		if (m->n == cap || plen + len + 1 > pcap) {
			struct maps_entry *nv = m->n == cap ? realloc(m->v, sizeof(*nv) * (cap = cap ? cap * 2 : 256)) : m->v;
			char *np = plen + len + 1 > pcap ? realloc(m->pool, pcap = (pcap + len + 1) * 2) : m->pool;

			if (nv)
				m->v = nv;
			if (np)
				m->pool = np;
			if (!nv || !np) {
				fclose(f);
				maps_free(m);
				return -ENOMEM;
			}
		}
		memcpy(m->pool + plen, p, len + 1);
		x.path = (const char *)(uintptr_t)plen; /* an offset until the pool stops moving */
		plen += len + 1;
		m->v[m->n++] = x;
	}
	fclose(f);
	for (size_t i = 0; i < m->n; i++)
		m->v[i].path = m->pool + (uintptr_t)m->v[i].path;
	return 0;
}

void maps_free(struct maps *m)
{
	free(m->v);
	free(m->pool);
	memset(m, 0, sizeof(*m));
}

const struct maps_entry *maps_find(const struct maps *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->v[lo].start <= addr ? &m->v[lo] : NULL;
}
