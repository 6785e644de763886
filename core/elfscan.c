/* Reading a module's file: the site lists the compilers record, the function
 * symbols that name them, and the loadable segments.
 *
 * __mcount_loc holds absolute addresses (gcc only allows it non-PIE).
 * __patchable_function_entries in a PIE or shared object is relocated at load
 * by R_X86_64_RELATIVE relocations, whose addend is the link-time address; so
 * each 8-byte entry is the addend of the relocation that targets it, or the
 * stored value when none does.  Entries of functions dropped by the linker
 * are 0 and skipped. */
#include "core/elfscan.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct es_entry *)a)->vaddr, y = ((const struct es_entry *)b)->vaddr;

	return x < y ? -1 : x > y;
}

static int sym_rank(uint8_t bind)
{
	return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct es_sym *x = a, *y = b;

	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	/* Among aliases the preferred name comes first: global, weak, local. */
	return sym_rank(x->bind) - sym_rank(y->bind);
}

static Elf_Scn *find_section(Elf *elf, size_t shstrndx, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

struct rel_index {
	uint64_t *where, *val;
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Collects RELATIVE relocations inside [lo, hi) once, sorted, so each entry
 * is found by binary search instead of a walk over every relocation. */
static int index_relocs(Elf *elf, uint64_t lo, uint64_t hi, struct rel_index *ix)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t cap = 0;
	uint64_t *pairs = NULL;

	memset(ix, 0, sizeof(*ix));
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		if (!(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela rela;

			if (!gelf_getrela(d, (int)i, &rela))
				break;
			if (rela.r_offset < lo || rela.r_offset >= hi ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_RELATIVE)
				continue;
			if (ix->n == cap) {
				uint64_t *np = realloc(pairs, sizeof(*pairs) * 2 * (cap = cap ? cap * 2 : 256));

				if (!np) {
					free(pairs);
					return -ENOMEM;
				}
				pairs = np;
			}
			pairs[2 * ix->n] = rela.r_offset;
			pairs[2 * ix->n + 1] = (uint64_t)rela.r_addend;
			ix->n++;
		}
	}
	if (ix->n)
		qsort(pairs, ix->n, 2 * sizeof(uint64_t), cmp_u64);
	ix->where = pairs;
	return 0;
}

static bool rel_lookup(const struct rel_index *ix, uint64_t where, uint64_t *val)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t w = ix->where[2 * mid];

		if (w == where) {
			*val = ix->where[2 * mid + 1];
			return true;
		}
		if (w < where)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int add_entries(struct es_file *f, Elf *elf, size_t shstrndx, const char *name, uint8_t src)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, shstrndx, name, &sh);
	Elf_Data *d;
	struct rel_index ix;
	size_t n;
	struct es_entry *ne;
	int r;

	if (!scn || sh.sh_type == SHT_NOBITS || sh.sh_size < 8)
		return 0;
	if (!(d = elf_getdata(scn, NULL)) || !d->d_buf)
		return pt_error(EINVAL, "%s: cannot read section %s", f->path, name);
	n = sh.sh_size / 8;
	ne = realloc(f->entries, sizeof(*ne) * (f->nentries + n));
	if (!ne)
		return pt_error(ENOMEM, "out of memory");
	f->entries = ne;
	if ((r = index_relocs(elf, sh.sh_addr, sh.sh_addr + sh.sh_size, &ix)) < 0)
		return pt_error(-r, "out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (!rel_lookup(&ix, sh.sh_addr + 8 * i, &v))
			memcpy(&v, (const char *)d->d_buf + 8 * i, 8);
		if (v == 0)
			continue;
		f->entries[f->nentries].vaddr = v;
		f->entries[f->nentries].src = src;
		f->nentries++;
	}
	free(ix.where);
	return 0;
}

static int load_symtab(struct es_file *f, Elf *elf, uint32_t type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		size_t n, len = 0, cap;
		struct es_sym *syms;
		char *pool;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		if (!(d = elf_getdata(scn, NULL)))
			continue;
		n = sh.sh_size / sh.sh_entsize;
		syms = calloc(n ? n : 1, sizeof(*syms));
		cap = 4096;
		pool = malloc(cap);
		if (!syms || !pool) {
			free(syms);
			free(pool);
			return -ENOMEM;
		}
		f->nsyms = 0;
		/* Names are stored as offsets while the pool grows, pointers after. */
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			const char *name;
			size_t l;

			if (!gelf_getsym(d, (int)i, &s))
				break;
			if ((GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
			    s.st_shndx == SHN_UNDEF || s.st_value == 0)
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			l = strlen(name) + 1;
			if (len + l > cap) {
				char *np;

				while (len + l > cap)
					cap *= 2;
				if (!(np = realloc(pool, cap))) {
					free(syms);
					free(pool);
					return -ENOMEM;
				}
				pool = np;
			}
			memcpy(pool + len, name, l);
			syms[f->nsyms].vaddr = s.st_value;
			syms[f->nsyms].size = s.st_size;
			syms[f->nsyms].name = (const char *)(uintptr_t)len;
			syms[f->nsyms].bind = GELF_ST_BIND(s.st_info);
			f->nsyms++;
			len += l;
		}
		for (size_t i = 0; i < f->nsyms; i++)
			syms[i].name = pool + (uintptr_t)syms[i].name;
		qsort(syms, f->nsyms, sizeof(*syms), cmp_sym);
		f->syms = syms;
		f->strpool = pool;
		return 1;
	}
	return 0;
}

static int load_segments(struct es_file *f, Elf *elf)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) < 0)
		return pt_error(EINVAL, "%s: no program headers", f->path);
	f->segs = calloc(n ? n : 1, sizeof(*f->segs));
	if (!f->segs)
		return pt_error(ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->segs[f->nsegs++] = (struct es_seg){ ph.p_vaddr, ph.p_memsz, ph.p_offset,
						       ph.p_filesz, ph.p_flags };
	}
	return 0;
}

/* The GNU build-id note, from the PT_NOTE segments (libelf's note reader). */
static void read_build_id(struct es_file *f, Elf *elf)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) < 0)
		return;
	for (size_t i = 0; i < n && !f->build_id_len; i++) {
		GElf_Phdr ph;
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, name, desc;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE ||
		    !(d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &name, &desc)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((const char *)d->d_buf + name, "GNU", 4) && nh.n_descsz <= sizeof(f->build_id)) {
				memcpy(f->build_id, (const char *)d->d_buf + desc, nh.n_descsz);
				f->build_id_len = nh.n_descsz;
				break;
			}
		}
	}
}

int es_open(const char *path, struct es_file *f)
{
	return es_open_at(path, path, f);
}

int es_open_at(const char *name, const char *path, struct es_file *f)
{
	size_t shstrndx;
	GElf_Ehdr eh;
	Elf *elf;
	int r;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return pt_error(EINVAL, "libelf is too old");
	f->path = strdup(name);
	if (!f->path)
		return pt_error(ENOMEM, "out of memory");
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		r = pt_error(errno, "cannot open %s: %s", path, strerror(errno));
		es_close(f);
		return r;
	}
	elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	f->elf = elf;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		es_close(f);
		return pt_error(ENOEXEC, "%s is not an ELF file", path);
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		es_close(f);
		return pt_error(ENOEXEC, "%s is not an x86-64 executable or shared object", path);
	}
	f->type = eh.e_type;
	f->entry = eh.e_entry;
	read_build_id(f, elf);
	if ((r = load_segments(f, elf)) < 0) {
		es_close(f);
		return r;
	}
	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0; /* no section headers: no site lists */
	if ((r = add_entries(f, elf, shstrndx, "__mcount_loc", ES_SRC_MCOUNT)) < 0 ||
	    (r = add_entries(f, elf, shstrndx, "__patchable_function_entries", ES_SRC_PFE)) < 0) {
		es_close(f);
		return r;
	}
	if (f->nentries)
		qsort(f->entries, f->nentries, sizeof(*f->entries), cmp_entry);
	{
		size_t w = 0;

		for (size_t i = 0; i < f->nentries; i++)
			if (!w || f->entries[w - 1].vaddr != f->entries[i].vaddr)
				f->entries[w++] = f->entries[i];
		f->nentries = w;
	}
	r = load_symtab(f, elf, SHT_SYMTAB);
	if (r == 0)
		r = load_symtab(f, elf, SHT_DYNSYM);
	if (r < 0) {
		es_close(f);
		return pt_error(-r, "out of memory");
	}
	return 0;
}

void es_close(struct es_file *f)
{
	es_release_file(f);
	free(f->path);
	free(f->entries);
	free(f->syms);
	free(f->strpool);
	free(f->segs);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

void es_release_file(struct es_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

const struct es_seg *es_segment_for(const struct es_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->nsegs; i++)
		if (vaddr >= f->segs[i].vaddr && vaddr < f->segs[i].vaddr + f->segs[i].memsz)
			return &f->segs[i];
	return NULL;
}

int es_read(const struct es_file *f, uint64_t vaddr, void *buf, size_t n)
{
	const struct es_seg *s = es_segment_for(f, vaddr);

	if (!s || vaddr + n > s->vaddr + s->filesz)
		return -EFAULT;
	if (pread(f->fd, buf, n, (off_t)(s->offset + (vaddr - s->vaddr))) != (ssize_t)n)
		return -EFAULT;
	return 0;
}

const struct es_sym *es_symbol_named(const struct es_file *f, const char *name)
{
	for (size_t i = 0; i < f->nsyms; i++)
		if (!strcmp(f->syms[i].name, name))
			return &f->syms[i];
	return NULL;
}

const struct es_sym *es_symbol_for(const struct es_file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->nsyms;
	const struct es_sym *best = NULL;

	/* Last symbol starting at or before vaddr; the first of its aliases. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].vaddr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	best = &f->syms[lo - 1];
	while (best > f->syms && best[-1].vaddr == best->vaddr)
		best--;
	if (vaddr == best->vaddr || vaddr < best->vaddr + best->size)
		return best;
	return NULL;
}

const struct es_sym *es_symbol_from(const struct es_file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->nsyms;

	/* First symbol starting at or after vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].vaddr < vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nsyms ? &f->syms[lo] : NULL;
}
