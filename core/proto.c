/* Reading prototypes with libdw.  Each parameter is classified the way the
 * System V x86-64 ABI passes it: INTEGER (one general register), SSE (one
 * xmm register) or MEMORY (the stack).  Small structs by value (<= 16 bytes)
 * are classified conservatively: every argument register is saved and the
 * struct is counted in the stack area too, which only makes the area an
 * upper bound (copying a few more words of the caller's frame is harmless). */
#include "core/proto.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cached {
	char *path;
	int fd;
	Dwarf *dw; /* NULL: the file has no debug information */
	struct cached *next;
};

static struct cached *cache;

static Dwarf *dwarf_of(const char *path)
{
	struct cached *c;

	for (c = cache; c; c = c->next)
		if (!strcmp(c->path, path))
			return c->dw;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return NULL;
	}
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd >= 0)
		c->dw = dwarf_begin(c->fd, DWARF_C_READ);
	c->next = cache;
	cache = c;
	return c->dw;
}

void proto_forget(const char *path)
{
	for (struct cached **p = &cache; *p; p = &(*p)->next) {
		struct cached *c = *p;

		if (strcmp(c->path, path))
			continue;
		*p = c->next;
		if (c->dw)
			dwarf_end(c->dw);
		if (c->fd >= 0)
			close(c->fd);
		free(c->path);
		free(c);
		return;
	}
}

enum cls { C_NONE, C_INT, C_INT2, C_SSE, C_SSE2, C_MEMORY, C_SMALL_STRUCT };

static enum cls classify(Dwarf_Die *type, Dwarf_Word *size)
{
	Dwarf_Die t;
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;

	if (dwarf_peel_type(type, &t) != 0)
		return C_MEMORY;
	*size = 8;
	if (dwarf_aggregate_size(&t, size) != 0)
		*size = 8;
	switch (dwarf_tag(&t)) {
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type:
	case DW_TAG_ptr_to_member_type:
	case DW_TAG_enumeration_type:
		return C_INT;
	case DW_TAG_base_type:
		if (dwarf_attr(&t, DW_AT_encoding, &a))
			dwarf_formudata(&a, &enc);
		if (enc == DW_ATE_float)
			return *size <= 8 ? C_SSE : C_MEMORY; /* long double: x87, memory */
		if (enc == DW_ATE_complex_float)
			return *size <= 8 ? C_SSE : *size == 16 ? C_SSE2 : C_MEMORY;
		return *size <= 8 ? C_INT : C_INT2;
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_class_type:
		return *size > 16 ? C_MEMORY : C_SMALL_STRUCT;
	default:
		return C_MEMORY;
	}
}

/* What an INTEGER-class value is, for printing it. */
static uint8_t value_kind(Dwarf_Die *type)
{
	Dwarf_Die t, pointee;
	Dwarf_Attribute a;
	Dwarf_Word enc = 0, size = 0;

	if (dwarf_peel_type(type, &t) != 0)
		return PROTO_ARG_INT;
	if (dwarf_tag(&t) == DW_TAG_pointer_type) {
		if (dwarf_attr(&t, DW_AT_type, &a) && dwarf_formref_die(&a, &pointee) &&
		    dwarf_peel_type(&pointee, &pointee) == 0 && dwarf_tag(&pointee) == DW_TAG_base_type &&
		    dwarf_aggregate_size(&pointee, &size) == 0 && size == 1)
			return PROTO_ARG_STR; /* char *: a string */
		return PROTO_ARG_PTR;
	}
	if (dwarf_tag(&t) == DW_TAG_base_type && dwarf_attr(&t, DW_AT_encoding, &a) && dwarf_formudata(&a, &enc) == 0 &&
	    (enc == DW_ATE_unsigned || enc == DW_ATE_unsigned_char || enc == DW_ATE_boolean))
		return PROTO_ARG_UINT;
	return PROTO_ARG_INT;
}

static size_t round8(Dwarf_Word n)
{
	return (size_t)((n + 7) & ~7ULL);
}

struct walk {
	uint64_t vaddr;
	Dwarf_Die found;
	bool ok;
};

static int match_func(Dwarf_Die *die, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr lo;

	if (dwarf_lowpc(die, &lo) == 0 && lo == w->vaddr) {
		w->found = *die;
		w->ok = true;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

void proto_lookup(const char *path, uint64_t vaddr, struct pt_proto *p)
{
	Dwarf *dw = dwarf_of(path);
	Dwarf_Die cu, child, rtype, origin, *fn;
	Dwarf_Attribute ra;
	struct walk w = { vaddr };
	int ints = 0, sses = 0;
	bool small_struct = false;
	size_t stack = 0;

	memset(p, 0, sizeof(*p));
	if (!dw)
		return;
	if (dwarf_addrdie(dw, vaddr, &cu))
		dwarf_getfuncs(&cu, match_func, &w, 0);
	if (!w.ok) {
		/* No .debug_aranges (clang emits none): ask every CU. */
		Dwarf_Off off = 0, next;
		size_t hsize;

		while (!w.ok && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
			if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_haspc(&cu, vaddr) == 1)
				dwarf_getfuncs(&cu, match_func, &w, 0);
			off = next;
		}
	}
	if (!w.ok)
		return;
	/* An out-of-line copy of an inlined function lists its parameters in
	 * the abstract instance it refers to. */
	fn = &w.found;
	if (dwarf_attr(fn, DW_AT_abstract_origin, &ra) && dwarf_formref_die(&ra, &origin))
		fn = &origin;
	p->ret_regs = PROTO_RET_RAX; /* void: nothing, but rax is cheap to keep */
	p->retkind = PROTO_ARG_VOID;
	if (dwarf_attr_integrate(fn, DW_AT_type, &ra) && dwarf_formref_die(&ra, &rtype)) {
		Dwarf_Word size;
		enum cls c = classify(&rtype, &size);
		static const unsigned regs[] = {
			[C_NONE] = PROTO_RET_RAX, [C_INT] = PROTO_RET_RAX,
			[C_INT2] = PROTO_RET_RAX | PROTO_RET_RDX, [C_SSE] = PROTO_RET_XMM0,
			[C_SSE2] = PROTO_RET_XMM0 | PROTO_RET_XMM1, [C_MEMORY] = PROTO_RET_RAX,
			[C_SMALL_STRUCT] = PROTO_RET_ALL,
		};

		p->ret_sse = c == C_SSE || c == C_SSE2;
		p->ret_regs = regs[c];
		p->retkind = c == C_INT ? value_kind(&rtype) : 0;
		if (c == C_MEMORY)
			ints++; /* the hidden pointer to the returned struct */
	}
	if (dwarf_child(fn, &child) == 0) {
		do {
			Dwarf_Attribute ta;
			Dwarf_Die type;
			Dwarf_Word size = 8;

			if (dwarf_tag(&child) == DW_TAG_unspecified_parameters) {
				p->varargs = true;
				continue;
			}
			if (dwarf_tag(&child) != DW_TAG_formal_parameter)
				continue;
			if (!dwarf_attr_integrate(&child, DW_AT_type, &ta) || !dwarf_formref_die(&ta, &type))
				return; /* a parameter without a type: give up */
			switch (classify(&type, &size)) {
			case C_INT:
				if (p->nargkinds == ints && ints < 6 && !small_struct)
					p->argkind[p->nargkinds++] = value_kind(&type);
				if (++ints > 6)
					stack += 8;
				break;
			case C_INT2:
				ints += 2;
				if (ints > 6)
					stack += 24; /* 16, maybe aligned to 16 */
				break;
			case C_SSE:
				if (++sses > 8)
					stack += 8;
				break;
			case C_SSE2:
				sses += 2;
				if (sses > 8)
					stack += 16;
				break;
			case C_SMALL_STRUCT:
				small_struct = true;
				stack += round8(size) + 8;
				break;
			default:
				stack += round8(size) + 8; /* + alignment to 16 */
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
	}
	p->known = true;
	p->nint = small_struct || ints > 6 ? 6 : ints;
	p->nsse = small_struct || sses > 8 ? 8 : sses;
	p->stack_bytes = stack;
}
