/* Building images.  The code is packed densely in executable memory (1,000
 * hooked functions share the instruction cache); the poketrace_fn (or
 * stub_info) handlers get, with its strings, is one malloc'd block that
 * lives and dies with the code that passes it. */
#include "core/image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/execmem.h"
#include "arch/x86_64/reloc.h"
#include "base/error.h"
#include "core/engine.h"
#include "core/gdbjit.h"

/* libgcc's registry of unwind tables for generated code. */
extern void __register_frame(void *begin);
extern void __deregister_frame(void *begin);

#define MAX_CODE 4096

static _Atomic uint64_t n_live, n_retired, n_reclaimed;

void image_counts(uint64_t *live, uint64_t *retired, uint64_t *reclaimed)
{
	*live = atomic_load(&n_live);
	*retired = atomic_load(&n_retired);
	*reclaimed = atomic_load(&n_reclaimed);
}

void image_count_retired(int delta)
{
	atomic_fetch_add(&n_live, (uint64_t)-delta);
	atomic_fetch_add(&n_retired, (uint64_t)delta);
}

/* /tmp/perf-PID.map: perf names samples in generated code from it.  Only
 * when asked (POKETRACE_PERF_MAP=1), as JITs do: nothing removes the file
 * when the process ends, and every traced process would leave one. */
static void perf_map_add(uintptr_t a, size_t len, const char *kind, const char *sym)
{
	static pid_t pid;
	static int fd = -1, asked = -1;
	char line[256];
	int n;

	if (asked < 0) {
		const char *on = getenv("POKETRACE_PERF_MAP");

		asked = on && strcmp(on, "0") != 0;
	}
	if (!asked)
		return; /* no getpid (a system call) per image */
	if (pid != getpid()) {
		char path[64];

		if (fd >= 0)
			close(fd);
		pid = getpid();
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%lx %zx poketrace_%s:%s\n", (unsigned long)a, len, kind, sym);
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		fd = -1;
}

/* Image ids, for the guard: unique among live images (2^31 before a wrap). */
static uint32_t next_id;

static uint32_t new_id(void)
{
	next_id = (next_id + 1) & 0x7fffffff;
	return next_id ? next_id : ++next_id;
}

static size_t info_size(const struct fn_desc *d, size_t head)
{
	return head + strlen(d->symbol) + 1 + strlen(d->module) + 1;
}

/* The info block: a poketrace_fn (at the start of `head` bytes), then the
 * strings it points to. */
static struct poketrace_fn *new_info(const struct fn_desc *d, size_t head, size_t *size)
{
	size_t sl = strlen(d->symbol) + 1;
	uint8_t *buf = calloc(1, *size = info_size(d, head));
	struct poketrace_fn *fn = (struct poketrace_fn *)buf;

	if (!buf)
		return NULL;
	memcpy(buf + head, d->symbol, sl);
	memcpy(buf + head + sl, d->module, strlen(d->module) + 1);
	fn->addr = d->addr;
	fn->site = d->site;
	fn->symbol = (const char *)(buf + head);
	fn->module = (const char *)(buf + head + sl);
	fn->nargs = d->nargs;
	fn->nfargs = d->nfargs;
	fn->flags = d->flags;
	return fn;
}

/* The unwind info eh of [code, code+len) for gdb and libgcc both (the
 * object gdb reads holds what __register_frame is given); *out NULL if
 * there is none (eh_len 0).  0, or -ENOMEM. */
static int describe(uintptr_t code, size_t len, const uint8_t *eh, size_t eh_len, const char *kind,
		    const char *sym, struct gdbjit_entry **out)
{
	char name[256];

	*out = NULL;
	if (!eh_len)
		return 0;
	snprintf(name, sizeof(name), "poketrace_%s:%s", kind, sym);
	if (!(*out = gdbjit_add(code, len, name, eh, eh_len)))
		return pt_error(ENOMEM, "out of memory for the unwind information of %s", sym);
	__register_frame(gdbjit_eh_frame(*out));
	return 0;
}

static int finish(struct image *im, uint8_t *block, size_t total, const struct tramp_out *o,
		  bool frame, void *personality, const char *kind, const char *sym)
{
	uint8_t eh[TRAMP_EH_MAX];
	size_t eh_len = tramp_eh_frame(im->code, o, frame, personality, eh, sizeof(eh));
	int r = execmem_write((void *)im->code, block, total);

	if (r < 0 || (r = describe(im->code, im->len, eh, eh_len, kind, sym, &im->gdb)) < 0)
		return r;
	perf_map_add(im->code, im->len, kind, sym);
	atomic_fetch_add(&n_live, 1);
	return 0;
}

int image_new_tramp(struct tramp_spec *spec, const struct fn_desc *d, const char *name, uintptr_t near,
		    struct image **out)
{
	/* on the stack: a 4 KiB block malloc'd and freed per image made
	 * glibc give the top of the heap back and fault it in again, each
	 * time (a fault per image, most of a batch's faults) */
	uint8_t block[MAX_CODE];
	struct image *im = calloc(1, sizeof(*im));
	struct tramp_out o;
	void *mem;
	int r = -ENOMEM;

	if (!im)
		goto fail;
	/* The info exists only for images that build a ctx (d != NULL). */
	if (d && !(im->fn = new_info(d, sizeof(struct poketrace_fn), &im->fn_size)))
		goto fail;
	spec->fn = im->fn;
	spec->guard_id = im->id = new_id();
	/* Sized for any placement: the one it gets is known only after. */
	if ((r = tramp_emit(spec, TRAMP_AT_WORST, block, MAX_CODE, &o)) < 0)
		goto fail;
	im->size = (o.len + 15) & ~(size_t)15;
	/* a pad jumps to a call-orig image's exit path: both close (engine.h) */
	if ((r = (spec->call_orig ? engine_execmem_close : engine_execmem_near)(near, im->size, &mem)) < 0)
		goto fail;
	im->code = (uintptr_t)mem;
	memset(block, 0xcc, im->size);
	if ((r = tramp_emit(spec, im->code, block, im->size, &o)) < 0)
		goto fail_mem;
	im->len = o.len;
	im->call_orig = spec->call_orig;
	im->exit_entry = spec->call_orig ? im->code + o.exit_entry : 0;
	im->r11_end = spec->fn_in_r11 ? im->code + o.fn_stored : 0;
	if ((r = finish(im, block, im->size, &o, true, spec->personality, spec->call_orig ? "image" : "entry",
			  name)) < 0)
		goto fail_mem;
	*out = im;
	return 0;
fail_mem:
	execmem_free(mem);
fail:
	if (im)
		free(im->fn);
	free(im);
	return r == -ENOSPC ? pt_error(ENOSPC, "trampoline too large")
	       : r == -ENOMEM ? pt_error(ENOMEM, "out of memory for a trampoline") : r;
}

int image_new_pad(uintptr_t orig, const char *name, void *personality, uintptr_t near, struct image **out)
{
	struct image *im = calloc(1, sizeof(*im));
	struct tramp_out o;
	uint8_t block[48];
	size_t size;
	void *mem;
	int r = -ENOSPC;

	if (!im)
		return pt_error(ENOMEM, "out of memory for a landing pad");
	/* sized for the worst placement: a far call takes 13 bytes, not 5 */
	size = tramp_emit_pad(TRAMP_AT_WORST, orig, block, sizeof(block), &o);
	if (!size || (r = engine_execmem_close(near, size, &mem)) < 0) {
		free(im);
		return r == -ENOSPC ? pt_error(ENOSPC, "landing pad too large") : r;
	}
	im->code = (uintptr_t)mem;
	im->size = size;
	memset(block, 0xcc, sizeof(block));
	im->len = tramp_emit_pad(im->code, orig, block, size, &o);
	im->exit_entry = im->code + o.exit_entry;
	r = im->len ? finish(im, block, size, &o, true, personality, "pad", name) : -ENOSPC;
	if (r < 0) {
		execmem_free(mem);
		free(im);
		return r == -ENOSPC ? pt_error(ENOSPC, "landing pad too large") : r;
	}
	atomic_fetch_sub(&n_live, 1); /* not a trampoline that will retire */
	*out = im;
	return 0;
}

int image_new_copy(struct reloc_plan *p, const char *name, uintptr_t *out)
{
	uint8_t block[RELOC_MAX_COPY], eh[TRAMP_EH_MAX];
	size_t size, eh_len;
	void *mem;
	int len, r;

	if ((r = engine_execmem_close(p->start, RELOC_MAX_COPY, &mem)) < 0)
		return r;
	memset(block, 0xcc, sizeof(block));
	if ((len = reloc_emit(p, (uintptr_t)mem, block, sizeof(block))) < 0) {
		execmem_free(mem);
		return pt_error(ERANGE, "%s: its first instructions cannot be relocated within reach of what they "
				"address", name);
	}
	/* what the copy does not take is for the next image: 10,000 copies
	 * of 20 bytes would keep 2.5 MB of chunks */
	size = (reloc_copy_size(p, len) + 15) & ~(size_t)15;
	if ((r = execmem_shrink(mem, size)) < 0 || (r = execmem_write(mem, block, size)) < 0) {
		execmem_free(mem);
		return r;
	}
	/* its unwind info reaches gdb and libgcc with the batch's
	 * (image_settle), before any thread but poketrace runs the copy */
	eh_len = reloc_eh_frame((uintptr_t)mem, (size_t)len, p, eh, sizeof(eh));
	if (eh_len) {
		char gname[256];

		snprintf(gname, sizeof(gname), "poketrace_copy:%s", name);
		if ((r = gdbjit_copy_add((uintptr_t)mem, (size_t)len, size, gname, eh, eh_len)) < 0) {
			execmem_free(mem);
			return pt_error(-r, "%s: cannot keep the unwind information of its copy: %s", name,
					strerror(-r));
		}
	}
	perf_map_add((uintptr_t)mem, (size_t)len, "copy", name);
	*out = (uintptr_t)mem;
	return 0;
}

int image_settle(void)
{
	int r = execmem_release(), q = gdbjit_copies_publish();

	if (r == 0 && q < 0)
		r = pt_error(-q, "out of memory for the unwind information of the relocated copies");
	return r;
}

bool image_unsettled(void)
{
	return execmem_holding() || gdbjit_copies_pending();
}

int image_new_stub(uintptr_t shared, const struct fn_desc *d, const struct ops_pair *ops, uint32_t nops,
		   uintptr_t near, struct image **out)
{
	size_t head = sizeof(struct stub_info) + nops * sizeof(struct ops_pair);
	struct image *im = calloc(1, sizeof(*im));
	struct tramp_out o = { 0 };
	uint8_t block[32];
	struct stub_info *si;
	void *mem;
	int r;

	if (!im || !(im->fn = new_info(d, head, &im->fn_size))) {
		free(im);
		return pt_error(ENOMEM, "out of memory for a stub");
	}
	si = (struct stub_info *)im->fn;
	si->nops = nops;
	memcpy(si->ops, ops, nops * sizeof(*ops));
	im->is_stub = true;
	im->size = sizeof(block);
	if ((r = engine_execmem_near(near, im->size, &mem)) < 0) {
		free(im->fn);
		free(im);
		return r;
	}
	im->code = (uintptr_t)mem;
	memset(block, 0xcc, sizeof(block));
	o.len = tramp_emit_stub(im->code, shared, (uintptr_t)im->fn, block, sizeof(block));
	im->len = o.len;
	if (!o.len || (r = finish(im, block, im->size, &o, false, NULL, "stub", d->symbol)) < 0) {
		execmem_free(mem);
		free(im->fn);
		free(im);
		return r < 0 ? r : pt_error(ENOSPC, "stub too large");
	}
	*out = im;
	return 0;
}

bool image_contains(const struct image *im, uintptr_t a)
{
	return (a >= im->code && a < im->code + im->size) ||
	       (im->fn && a >= (uintptr_t)im->fn && a < (uintptr_t)im->fn + im->fn_size);
}

static void release(struct image *im)
{
	if (im->gdb) /* libgcc's registration of the object's copy, then the object */
		__deregister_frame(gdbjit_eh_frame(im->gdb));
	gdbjit_remove(im->gdb);
	execmem_free((void *)im->code);
	free(im->fn);
	free(im);
}

void image_free(struct image *im)
{
	atomic_fetch_sub(&n_retired, 1);
	atomic_fetch_add(&n_reclaimed, 1);
	release(im);
}

void image_discard(struct image *im)
{
	atomic_fetch_sub(&n_live, 1);
	release(im);
}
