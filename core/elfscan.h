/* What an ELF file says about its patch sites and functions (via libelf). */
#ifndef PT_CORE_ELFSCAN_H
#define PT_CORE_ELFSCAN_H

#include <stddef.h>
#include <stdint.h>

enum es_src {
	ES_SRC_MCOUNT = 0, /* __mcount_loc */
	ES_SRC_PFE = 1,    /* __patchable_function_entries */
};

struct es_entry {
	uint64_t vaddr; /* link-time address of the site */
	uint8_t src;    /* enum es_src */
};

struct es_sym {
	uint64_t vaddr, size;
	const char *name;
	uint8_t bind;
};

struct es_seg {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_* */
};

struct es_file {
	char *path;
	int fd;
	void *elf; /* Elf * */
	uint16_t type; /* ET_EXEC or ET_DYN */
	uint64_t entry; /* e_entry: where the kernel starts a program (0: none) */
	struct es_entry *entries;
	size_t nentries;
	struct es_sym *syms; /* functions, sorted by vaddr */
	size_t nsyms;
	char *strpool;
	struct es_seg *segs;
	size_t nsegs;
	uint8_t build_id[64];  /* NT_GNU_BUILD_ID, if the file has one */
	size_t build_id_len;
};

/* Opens and scans path.  0 or -errno (with poketrace_last_error set). */
int es_open(const char *path, struct es_file *f);
/* The same, naming the file name but opening path (a /proc/self/map_files
 * link to the file a module was mapped from). */
int es_open_at(const char *name, const char *path, struct es_file *f);
void es_close(struct es_file *f);
/* Closes the file but keeps what was read from it (symbols, segments). */
void es_release_file(struct es_file *f);
/* Bytes of the file image at a link-time address. 0 or -EFAULT. */
int es_read(const struct es_file *f, uint64_t vaddr, void *buf, size_t n);
/* The function symbol covering vaddr, or NULL. */
const struct es_sym *es_symbol_for(const struct es_file *f, uint64_t vaddr);
const struct es_seg *es_segment_for(const struct es_file *f, uint64_t vaddr);
/* The first function symbol starting at or after vaddr, or NULL. */
const struct es_sym *es_symbol_from(const struct es_file *f, uint64_t vaddr);
/* The function symbol of that name, or NULL. */
const struct es_sym *es_symbol_named(const struct es_file *f, const char *name);

#endif
