/* Building images.  A block is [code][struct poketrace_fn or stub_info]
 * [symbol][module]: the handlers' poketrace_fn lives and dies with the code
 * that passes it, so nothing else has to be kept alive for it. */
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

/* /tmp/perf-PID.map: perf names samples in generated code from it. */
static void perf_map_add(uintptr_t a, size_t len, const char *kind, const char *sym)
{
	static pid_t pid;
	static int fd = -1;
	char line[256];
	int n;

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

static size_t info_size(const struct fn_desc *d, size_t head)
{
	return head + strlen(d->symbol) + 1 + strlen(d->module) + 1;
}

/* Lays the info out in buf as it will be at address `at`. */
static void fill_info(uint8_t *buf, uintptr_t at, const struct fn_desc *d, size_t head)
{
	struct poketrace_fn *fn = (struct poketrace_fn *)buf;
	size_t sl = strlen(d->symbol) + 1;

	memcpy(buf + head, d->symbol, sl);
	memcpy(buf + head + sl, d->module, strlen(d->module) + 1);
	fn->addr = d->addr;
	fn->site = d->site;
	fn->symbol = (const char *)(at + head);
	fn->module = (const char *)(at + head + sl);
	fn->nargs = d->nargs;
	fn->nfargs = d->nfargs;
	fn->flags = d->flags;
}

static int finish(struct image *im, uint8_t *block, size_t total, const struct tramp_out *o,
		  bool frame, const char *kind, const char *sym)
{
	size_t ehlen;
	int r = execmem_write((void *)im->code, block, total);

	if (r < 0)
		return r;
	im->eh_frame = tramp_eh_frame(im->code, o, frame, &ehlen);
	if (im->eh_frame) {
		char name[256];

		__register_frame(im->eh_frame);
		snprintf(name, sizeof(name), "poketrace_%s:%s", kind, sym);
		im->gdb = gdbjit_add(im->code, im->len, name, im->eh_frame, ehlen);
	}
	perf_map_add(im->code, im->len, kind, sym);
	atomic_fetch_add(&n_live, 1);
	return 0;
}

int image_new_tramp(struct tramp_spec *spec, const struct fn_desc *d, uintptr_t near, struct image **out)
{
	uint8_t *block = calloc(1, MAX_CODE + 1024);
	size_t code_max, head = sizeof(struct poketrace_fn), total;
	struct tramp_out o;
	struct image *im = calloc(1, sizeof(*im));
	void *mem;
	int r;

	if (!block || !im) {
		free(block);
		free(im);
		return pt_error(ENOMEM, "out of memory for a trampoline");
	}
	/* Sized at address 0: every call then takes its longest form. */
	spec->fn = d ? (const struct poketrace_fn *)16 : NULL;
	if ((r = tramp_emit(spec, 0, block, MAX_CODE, &o)) < 0)
		goto fail;
	code_max = (o.len + 15) & ~(size_t)15;
	total = code_max + (d ? info_size(d, head) : 0);
	if ((r = engine_execmem_near(near, total, &mem)) < 0)
		goto fail;
	im->code = (uintptr_t)mem;
	if (d) {
		im->fn = (struct poketrace_fn *)(im->code + code_max);
		spec->fn = im->fn;
	}
	memset(block, 0xcc, code_max);
	if ((r = tramp_emit(spec, im->code, block, code_max, &o)) < 0)
		goto fail_mem;
	if (d)
		fill_info(block + code_max, (uintptr_t)im->fn, d, head);
	im->len = o.len;
	im->size = total;
	im->call_orig = spec->call_orig;
	im->after_call = spec->call_orig ? im->code + o.after_call : 0;
	im->ret_path = spec->call_orig ? im->code + o.ret_path : 0;
	im->r11_end = d ? 0 : im->code + o.fn_stored;
	if ((r = finish(im, block, total, &o, true, spec->call_orig ? "image" : "entry",
			d ? d->symbol : "shared")) < 0)
		goto fail_mem;
	free(block);
	*out = im;
	return 0;
fail_mem:
	execmem_free(mem);
fail:
	free(block);
	free(im);
	return r == -ENOSPC ? pt_error(ENOSPC, "trampoline too large") : r;
}

int image_new_stub(uintptr_t shared, const struct fn_desc *d, const struct ops_pair *ops, uint32_t nops,
		   uintptr_t near, struct image **out)
{
	size_t head = sizeof(struct stub_info) + nops * sizeof(struct ops_pair);
	size_t total = 32 + info_size(d, head);
	uint8_t *block = calloc(1, total);
	struct image *im = calloc(1, sizeof(*im));
	struct tramp_out o = { 0 };
	void *mem;
	int r;

	if (!block || !im) {
		free(block);
		free(im);
		return pt_error(ENOMEM, "out of memory for a stub");
	}
	if ((r = engine_execmem_near(near, total, &mem)) < 0) {
		free(block);
		free(im);
		return r;
	}
	im->code = (uintptr_t)mem;
	im->fn = (struct poketrace_fn *)(im->code + 32);
	im->is_stub = true;
	memset(block, 0xcc, 32);
	o.len = tramp_emit_stub(im->code, shared, (uintptr_t)im->fn, block, 32);
	fill_info(block + 32, (uintptr_t)im->fn, d, head);
	((struct stub_info *)(block + 32))->nops = nops;
	memcpy(((struct stub_info *)(block + 32))->ops, ops, nops * sizeof(*ops));
	im->len = o.len;
	im->size = total;
	if (!o.len || (r = finish(im, block, total, &o, false, "stub", d->symbol)) < 0) {
		execmem_free(mem);
		free(block);
		free(im);
		return r < 0 ? r : pt_error(ENOSPC, "stub too large");
	}
	free(block);
	*out = im;
	return 0;
}

bool image_contains(const struct image *im, uintptr_t a)
{
	return a >= im->code && a < im->code + im->size;
}

static void release(struct image *im)
{
	gdbjit_remove(im->gdb);
	if (im->eh_frame) {
		__deregister_frame(im->eh_frame);
		free(im->eh_frame);
	}
	execmem_free((void *)im->code);
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
