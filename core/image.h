/* Trampoline images in executable memory: code, the poketrace_fn it hands
 * to handlers, unwind information and a perf map entry. */
#ifndef PT_CORE_IMAGE_H
#define PT_CORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/tramp.h"
#include "poketrace.h"

struct fn_desc {
	uintptr_t addr, site;
	const char *symbol, *module;
	uint8_t nargs, nfargs, flags;
};

struct ops_pair {
	void (*fn)(struct poketrace_ctx *);
	void *data;
};

/* What a stub hands its shared trampoline (through r11, then ctx->fn). */
struct stub_info {
	struct poketrace_fn fn;
	uint32_t nops;
	struct ops_pair ops[];
};

struct image {
	uintptr_t code;          /* start of the block */
	size_t len;              /* code bytes */
	size_t size;             /* code bytes allocated */
	struct poketrace_fn *fn; /* the info handlers get (malloc'd, with its strings) */
	size_t fn_size;
	uintptr_t exit_entry;    /* call-orig images: the exit path pads continue in; pads: their jmp */
	uint32_t id;             /* what the guard holds while its handlers run */
	uintptr_t r11_end;       /* shared trampolines: r11 holds a stub's info up to here */
	bool call_orig;
	bool is_stub;
	struct gdbjit_entry *gdb; /* its unwind info, for gdb and libgcc; or NULL */
	struct image *next;      /* in the retired list */
};

/* d: the info handlers get (NULL if none takes a ctx); name: for perf/gdb. */
int image_new_tramp(struct tramp_spec *spec, const struct fn_desc *d, const char *name, uintptr_t near,
		    struct image **out);
/* A landing pad (tramp_emit_pad), never freed. */
int image_new_pad(uintptr_t orig, const char *name, void *personality, uintptr_t near, struct image **out);
/* A relocated entry's copy (reloc_emit, with its unwind information) near
 * p->start, never freed: its address in *out. */
struct reloc_plan;
int image_new_copy(struct reloc_plan *p, const char *name, uintptr_t *out);
/* What a change wrote becomes what runs: every chunk R-X again (the
 * engine's hold), the unwind info of the copies made given to gdb and
 * libgcc.  Before the change's commit; 0 or -errno. */
int image_settle(void);
bool image_unsettled(void); /* a settle is due (engine lock held) */
int image_new_stub(uintptr_t shared, const struct fn_desc *d, const struct ops_pair *ops,
		   uint32_t nops, uintptr_t near, struct image **out);
/* Any byte of the code, or of the info a ctx points to. */
bool image_contains(const struct image *im, uintptr_t a);
/* A retired image, proven unused. */
void image_free(struct image *im);
/* An image that was never published (a batch failed). */
void image_discard(struct image *im);
void image_counts(uint64_t *live, uint64_t *retired, uint64_t *reclaimed);
void image_count_retired(int delta);

#endif
