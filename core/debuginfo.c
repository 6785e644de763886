/* Debug information bound to what is mapped.  A prototype read from a file
 * that is not the mapped one (a binary rebuilt or replaced while the
 * process runs) describes other code; it must not decide what an image
 * saves.  So the build-id note in memory (found through the loader's
 * program headers) is compared with the file's, the cache is keyed by it,
 * and a separate debug file found by it is taken only if its own build-id
 * matches too.  Without a build-id the file's (device, inode) must be the
 * mapping's, as /proc/self/maps tells it. */
#include "core/debuginfo.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arch/x86_64/saferead.h"
#include "core/module.h"
#include "core/sites.h"

#define MAX_ID 64

struct entry {
	uint8_t id[MAX_ID];
	size_t idlen;          /* 0: no build-id, keyed by dev/ino */
	dev_t dev;
	ino_t ino;
	char *path;            /* the module file it was looked up for */
	int fd, dbg_fd;
	Elf *elf, *dbg_elf;
	Dwarf *dw;             /* NULL: none usable, why says so */
	const char *why;
	struct entry *next;
};

static struct entry *cache;

/* ------------------------------------------------------ build-id notes */

/* The NT_GNU_BUILD_ID descriptor in a block of notes. */
static size_t note_id(const uint8_t *p, size_t len, uint8_t *id)
{
	size_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		const Elf64_Nhdr *n = (const Elf64_Nhdr *)(p + off);
		size_t name = off + sizeof(*n), desc = name + ((n->n_namesz + 3) & ~3u);
		size_t next = desc + ((n->n_descsz + 3) & ~3u);

		if (next > len || next <= off)
			break;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(p + name, "GNU", 4) &&
		    n->n_descsz && n->n_descsz <= MAX_ID) {
			memcpy(id, p + desc, n->n_descsz);
			return n->n_descsz;
		}
		off = next;
	}
	return 0;
}

struct mem_find {
	uintptr_t bias;
	uint8_t *id;
	size_t len;
	bool found_object;
};

static int mem_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mem_find *f = arg;
	uint8_t buf[1024];

	(void)size;
	if (info->dlpi_addr != f->bias)
		return 0;
	f->found_object = true;
	for (int i = 0; i < info->dlpi_phnum && !f->len; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		size_t n = ph->p_memsz < sizeof(buf) ? ph->p_memsz : sizeof(buf);

		if (ph->p_type != PT_NOTE)
			continue;
		n = safe_read(buf, info->dlpi_addr + ph->p_vaddr, n);
		f->len = note_id(buf, n, f->id);
	}
	return 1;
}

/* The build-id of the object mapped at bias, from its notes in memory. */
static size_t mem_build_id(uintptr_t bias, uint8_t *id)
{
	struct mem_find f = { bias, id, 0, false };

	dl_iterate_phdr(mem_cb, &f);
	return f.len;
}

static size_t file_build_id(Elf *elf, uint8_t *id)
{
	size_t n = 0;

	if (elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		Elf_Data *d;
		size_t len;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (d && (len = note_id(d->d_buf, d->d_size, id)) != 0)
			return len;
	}
	/* A separate debug file keeps the note as a section, not a segment. */
	for (Elf_Scn *s = NULL; (s = elf_nextscn(elf, s));) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t len;

		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_rawdata(s, NULL)))
			continue;
		if ((len = note_id(d->d_buf, d->d_size, id)) != 0)
			return len;
	}
	return 0;
}

/* The (device, inode) of the mapping holding addr, from /proc/self/maps. */
static bool mapped_inode(uintptr_t addr, dev_t *dev, ino_t *ino)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	bool ok = false;

	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, in;
		unsigned maj, min;

		if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &in) == 6 &&
		    addr >= lo && addr < hi) {
			*dev = makedev(maj, min);
			*ino = (ino_t)in;
			ok = true;
		}
	}
	fclose(f);
	return ok;
}

static struct entry *lookup(const struct pt_module *m, const char **why);

/* ------------------------------------------------------------- opening */

static Elf *open_elf(const char *path, int *fd)
{
	Elf *e;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	e = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(*fd);
		*fd = -1;
		return NULL;
	}
	return e;
}

/* The separate debug file of build-id id (Debian's -dbgsym packages), if
 * its own build-id is id. */
static void open_debug_file(struct entry *e)
{
	char path[64 + 2 * MAX_ID], *p = path;
	uint8_t got[MAX_ID];

	p += sprintf(p, "/usr/lib/debug/.build-id/%02x/", e->id[0]);
	for (size_t i = 1; i < e->idlen; i++)
		p += sprintf(p, "%02x", e->id[i]);
	strcpy(p, ".debug");
	if (!(e->dbg_elf = open_elf(path, &e->dbg_fd)))
		return;
	if (file_build_id(e->dbg_elf, got) != e->idlen || memcmp(got, e->id, e->idlen) ||
	    !(e->dw = dwarf_begin_elf(e->dbg_elf, DWARF_C_READ, NULL))) {
		elf_end(e->dbg_elf);
		close(e->dbg_fd);
		e->dbg_elf = NULL;
		e->dbg_fd = -1;
	}
}

/* Fills e (its id or dev/ino set) from the module's file. */
static void open_entry(struct entry *e, const struct pt_module *m)
{
	uint8_t fid[MAX_ID];
	size_t flen;
	struct stat st;

	e->fd = e->dbg_fd = -1;
	e->elf = open_elf(m->path, &e->fd);
	if (e->idlen) {
		flen = e->elf ? file_build_id(e->elf, fid) : 0;
		if (flen == e->idlen && !memcmp(fid, e->id, flen))
			e->dw = dwarf_begin_elf(e->elf, DWARF_C_READ, NULL);
		if (!e->dw)
			open_debug_file(e);
		if (!e->dw)
			e->why = flen && (flen != e->idlen || memcmp(fid, e->id, flen))
				 ? "the file on disk is not the one mapped (its build-id differs)"
				 : "no debug information for the mapped build-id";
		return;
	}
	if (!e->elf || fstat(e->fd, &st) != 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
		e->why = "no build-id, and the file on disk is not the one mapped";
		return;
	}
	if (!(e->dw = dwarf_begin_elf(e->elf, DWARF_C_READ, NULL)))
		e->why = "no debug information";
}

/* The entry of the module last asked about, while the site table (and so
 * the set of loaded modules) has not changed: hooking a module's functions
 * asks about the same one thousands of times in a row. */
static struct {
	const struct pt_module *m;
	uintptr_t bias;
	unsigned generation;
	struct entry *e;
} last;

Dwarf *debuginfo_get(const struct pt_module *m, const char **why)
{
	struct entry *e;

	if (last.e && last.m == m && last.bias == m->bias && last.generation == sites_generation()) {
		*why = last.e->why;
		return last.e->dw;
	}
	e = lookup(m, why);
	if (e)
		last = (typeof(last)){ m, m->bias, sites_generation(), e };
	return e ? e->dw : NULL;
}

static struct entry *lookup(const struct pt_module *m, const char **why)
{
	struct entry key = { 0 }, *e;

	key.idlen = mem_build_id(m->bias, key.id);
	if (!key.idlen && !mapped_inode(m->text_lo ? m->text_lo : m->lo, &key.dev, &key.ino)) {
		*why = "no build-id and no mapping of the module found";
		return NULL;
	}
	for (e = cache; e; e = e->next) {
		if (e->idlen == key.idlen &&
		    (key.idlen ? !memcmp(e->id, key.id, key.idlen) : e->dev == key.dev && e->ino == key.ino)) {
			*why = e->why;
			return e;
		}
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->path = strdup(m->path))) {
		free(e);
		*why = "out of memory";
		return NULL;
	}
	memcpy(e->id, key.id, sizeof(e->id));
	e->idlen = key.idlen;
	e->dev = key.dev;
	e->ino = key.ino;
	open_entry(e, m);
	e->next = cache;
	cache = e;
	*why = e->why;
	return e;
}

void debuginfo_forget(const char *path)
{
	last.e = NULL;
	for (struct entry **p = &cache; *p;) {
		struct entry *e = *p;

		if (strcmp(e->path, path)) {
			p = &e->next;
			continue;
		}
		*p = e->next;
		if (e->dw)
			dwarf_end(e->dw);
		if (e->dbg_elf)
			elf_end(e->dbg_elf);
		if (e->elf)
			elf_end(e->elf);
		if (e->dbg_fd >= 0)
			close(e->dbg_fd);
		if (e->fd >= 0)
			close(e->fd);
		free(e->path);
		free(e);
	}
}
