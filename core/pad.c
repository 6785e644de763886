/* Landing pads (arch/x86_64/tramp.h: tramp_emit_pad).  Images call a body
 * through its pad, so that while the body runs no return address on any
 * stack points into an image: a retired image can be freed without finding
 * the stacks of sleeping bodies (coroutines, sigaltstacks, split or
 * unmapped stacks, reclaim.c).  When the body returns, the pad continues in
 * the exit path of the image current for the site then, which runs the
 * exit handlers of the links attached now that were attached when the call
 * entered (the frame's generation), or, with no image calling the body,
 * returns to the caller.
 *
 * One pad per (site, body): the body is site+5 or a replacement.  Each ends
 * in a direct jmp (an indirect one cost 25 ns a call across 1,000
 * conservative images: bench/hook_ab.sh), retargeted in the batch that
 * retargets the site, with the same protocol, so a call returning during a
 * batch takes the old exit path or the new one, each whole.  Pads are never
 * freed: a thread may return to one after any number of changes; 20 to 30
 * bytes of code per function ever hooked with an image that calls its
 * body, and its unwind information. */
#include "core/pad.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/execmem.h"
#include "arch/x86_64/insn.h"
#include "base/error.h"
#include "core/image.h"

struct pad_body {
	uintptr_t orig, code;
	uintptr_t jmp, none; /* its jmp; its `leave; ret` */
	struct image *im;    /* kept, never freed */
	struct pad_body *next;
};

struct pad_site {
	uintptr_t site;
	uintptr_t exit;      /* where the jmps point: an exit path, or 0 (none) */
	size_t n;
	struct pad_body *bodies;
};

static struct {
	struct pad_site **slot;
	size_t cap, n;
} pads;

static size_t hash(uintptr_t a)
{
	return (size_t)((a * 0x9e3779b97f4a7c15ULL) >> 17);
}

static struct pad_site **find(uintptr_t site)
{
	if (!pads.cap)
		return NULL;
	for (size_t i = hash(site) & (pads.cap - 1);; i = (i + 1) & (pads.cap - 1))
		if (!pads.slot[i] || pads.slot[i]->site == site)
			return &pads.slot[i];
}

static int grow(void)
{
	size_t cap = pads.cap ? pads.cap * 2 : 256;
	struct pad_site **nv = calloc(cap, sizeof(*nv)), **old = pads.slot;
	size_t oldcap = pads.cap;

	if (!nv)
		return -ENOMEM;
	pads.slot = nv;
	pads.cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*find(old[i]->site) = old[i];
	free(old);
	return 0;
}

static struct pad_site *site_of(uintptr_t site, bool create)
{
	struct pad_site **p, *ps;

	if (create && (pads.n + 1) * 2 > pads.cap && grow() < 0)
		return NULL;
	p = find(site);
	if (p && *p)
		return *p;
	if (!create || !(ps = calloc(1, sizeof(*ps))))
		return NULL;
	ps->site = site;
	*p = ps;
	pads.n++;
	return ps;
}

static void encode_jmp(const struct pad_body *b, uintptr_t exit, uint8_t out[INSN_SITE_LEN])
{
	insn_encode(INSN_JMP, b->jmp, exit ? exit : b->none, out);
}

int pad_for(uintptr_t site, uintptr_t orig, const char *symbol, void *personality, uintptr_t *code)
{
	struct pad_site *ps = site_of(site, true);
	struct pad_body *b;
	struct image *im;
	uint8_t want[INSN_SITE_LEN];
	int r;

	if (!ps)
		return pt_error(ENOMEM, "out of memory for a landing pad");
	for (b = ps->bodies; b; b = b->next) {
		if (b->orig == orig) {
			*code = b->code;
			return 0;
		}
	}
	if (!(b = calloc(1, sizeof(*b))))
		return pt_error(ENOMEM, "out of memory for a landing pad");
	if ((r = image_new_pad(orig, symbol, personality, site, &im)) < 0) {
		free(b);
		return r;
	}
	b->orig = orig;
	b->code = im->code;
	b->jmp = im->exit_entry;
	b->none = im->code + im->len - TRAMP_PAD_NONE;
	b->im = im;
	if (ps->exit) {
		/* not yet reachable: written directly to where the others point */
		if (insn_encode(INSN_JMP, b->jmp, ps->exit, want) < 0 ||
		    (r = execmem_write((void *)b->jmp, want, INSN_SITE_LEN)) < 0)
			return pt_error(ERANGE, "a landing pad for %s is out of reach of its image", symbol);
	}
	b->next = ps->bodies;
	ps->bodies = b;
	ps->n++;
	*code = b->code;
	return 0;
}

size_t pad_count(uintptr_t site)
{
	struct pad_site *ps = site_of(site, false);

	return ps ? ps->n : 0;
}

size_t pad_retarget(uintptr_t site, uintptr_t exit_entry, struct poke_entry *v)
{
	struct pad_site *ps = site_of(site, false);
	size_t n = 0;

	if (!ps || ps->exit == exit_entry)
		return 0;
	for (struct pad_body *b = ps->bodies; b; b = b->next, n++) {
		memset(&v[n], 0, sizeof(v[n]));
		v[n].addr = b->jmp;
		encode_jmp(b, ps->exit, v[n].old);
		encode_jmp(b, exit_entry, v[n].new);
	}
	return n;
}

void pad_committed(uintptr_t site, uintptr_t exit_entry)
{
	struct pad_site *ps = site_of(site, false);

	if (ps)
		ps->exit = exit_entry;
}
