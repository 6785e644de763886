/* Reading prototypes with libdw, and deciding whether they are certain.
 *
 * The DWARF prototype of a function is what its source said; the code may
 * say otherwise.  gcc's IPA clones (pick.isra.0) keep the DWARF of their
 * origin but take other registers; clang -O3 rewrites local functions
 * (argument promotion, dead argument elimination) without renaming them;
 * gcc's ms_abi functions carry no DWARF mark at all.  So a prototype is
 * trusted only when nothing contradicts it: the rules are in proto.h, and
 * the last of them is that every parameter's location at the function's
 * entry (the register or the caller-frame slot DWARF gives) is where the
 * classification puts it.  In a local function, every parameter must have
 * a location (one without may be an argument the compiler removed). */
#include "core/proto.h"

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/abiclass.h"
#include "core/debuginfo.h"
#include "core/module.h"

/* DWARF register numbers (x86-64 psABI 3.6.2) of the argument registers. */
static const int dw_int_reg[6] = { 5, 4, 1, 2, 8, 9 }; /* rdi rsi rdx rcx r8 r9 */
#define DW_XMM0 17

enum { LLVM_CC_WIN64 = 0xc1, LLVM_CC_SYSV = 0xc2 };

/* Per Dwarf, every subprogram by the address its code starts at: built
 * once, searched for each function (a linear walk per function made
 * attaching 8,000 links take 7 s).  Dropped whole when a module goes. */
struct fn_at {
	uint64_t addr;
	Dwarf_Off die, cu;
	size_t order; /* CU order first: the first DIE of an address wins */
};

struct fn_index {
	Dwarf *dw;
	struct fn_at *v;
	size_t n, cap;
	struct fn_index *next;
};

static struct fn_index *indexes;

static bool entry_of(Dwarf_Die *die, uint64_t *addr)
{
	Dwarf_Addr lo, base, start, end;

	if (dwarf_lowpc(die, &lo) == 0) {
		*addr = lo;
		return true;
	}
	if (dwarf_hasattr(die, DW_AT_entry_pc) && dwarf_entrypc(die, &lo) == 0) {
		*addr = lo;
		return true;
	}
	if (dwarf_ranges(die, 0, &base, &start, &end) > 0) {
		*addr = start;
		return true;
	}
	return false;
}

struct collect {
	struct fn_index *ix;
	Dwarf_Off cu;
};

static int collect(Dwarf_Die *die, void *arg)
{
	struct collect *c = arg;
	struct fn_index *ix = c->ix;
	uint64_t a;

	if (!entry_of(die, &a))
		return DWARF_CB_OK;
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 256;
		struct fn_at *nv = realloc(ix->v, cap * sizeof(*nv));

		if (!nv)
			return DWARF_CB_ABORT;
		ix->v = nv;
		ix->cap = cap;
	}
	ix->v[ix->n] = (struct fn_at){ a, dwarf_dieoffset(die), c->cu, ix->n };
	ix->n++;
	return DWARF_CB_OK;
}

static int fn_cmp(const void *a, const void *b)
{
	const struct fn_at *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static struct fn_index *index_of(Dwarf *dw)
{
	struct fn_index *ix;
	Dwarf_Off off = 0, next;
	size_t hsize;
	Dwarf_Die cu;

	for (ix = indexes; ix; ix = ix->next)
		if (ix->dw == dw)
			return ix;
	if (!(ix = calloc(1, sizeof(*ix))))
		return NULL;
	ix->dw = dw;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		struct collect c = { ix, off + hsize };

		if (dwarf_offdie(dw, off + hsize, &cu))
			dwarf_getfuncs(&cu, collect, &c, 0);
		off = next;
	}
	qsort(ix->v, ix->n, sizeof(*ix->v), fn_cmp);
	ix->next = indexes;
	indexes = ix;
	return ix;
}

static bool find_subprogram(Dwarf *dw, uint64_t vaddr, Dwarf_Die *fn, Dwarf_Die *cu)
{
	struct fn_index *ix = index_of(dw);
	size_t lo = 0, hi = ix ? ix->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->v[mid].addr < vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!ix || lo == ix->n || ix->v[lo].addr != vaddr)
		return false;
	return dwarf_offdie(dw, ix->v[lo].die, fn) && dwarf_offdie(dw, ix->v[lo].cu, cu);
}

static bool is_cxx(Dwarf_Die *cu)
{
	switch (dwarf_srclang(cu)) {
	case DW_LANG_C_plus_plus: case DW_LANG_C_plus_plus_03: case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14:
		return true;
	}
	return false;
}

static bool clang_cu(Dwarf_Die *cu)
{
	Dwarf_Attribute a;
	const char *p = dwarf_attr(cu, DW_AT_producer, &a) ? dwarf_formstring(&a) : NULL;

	return p && strstr(p, "clang");
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

static bool scalar_type(Dwarf_Die *type)
{
	Dwarf_Die t;

	if (dwarf_peel_type(type, &t) != 0)
		return false;
	switch (dwarf_tag(&t)) {
	case DW_TAG_base_type: case DW_TAG_pointer_type: case DW_TAG_enumeration_type:
	case DW_TAG_reference_type: case DW_TAG_rvalue_reference_type:
		return true;
	}
	return false;
}

/* ------------------------------------------------------------- decide */

struct decide {
	struct pt_proto *p;
	bool cxx, local, fb_cfa;
	uint64_t vaddr;
	int ints, sses;
	uint64_t stack, stack_align;
	bool upper_unknown;
	bool split_r9, nocall;
};

static void not_certain(struct decide *d, const char *why)
{
	if (!d->p->why)
		d->p->why = why;
}

/* Where a parameter is, to compare with its DWARF location. */
struct where {
	bool on_stack;
	uint64_t offset;  /* on_stack: in the caller's argument area */
	int reg[8];       /* else: DWARF register of each eightbyte, -1 none */
	int n;
};

static int loc_reg(const Dwarf_Op *op)
{
	if (op->atom >= DW_OP_reg0 && op->atom <= DW_OP_reg31)
		return op->atom - DW_OP_reg0;
	return op->atom == DW_OP_regx ? (int)op->number : -1;
}

/* Whether the location at the entry contradicts w. */
static bool contradicts(const struct decide *d, const Dwarf_Op *ops, size_t n, const struct where *w)
{
	uint64_t byte = 0;
	int64_t slot;

	if (n == 1 && loc_reg(&ops[0]) >= 0)
		return w->on_stack || w->n < 1 || w->reg[0] != loc_reg(&ops[0]);
	if (n == 1 && ((ops[0].atom == DW_OP_fbreg && d->fb_cfa) || ops[0].atom == DW_OP_breg7)) {
		/* a slot in the caller's frame (CFA + k; rsp + k is CFA - 8 + k) */
		slot = (int64_t)ops[0].number - (ops[0].atom == DW_OP_breg7 ? 8 : 0);
		if (slot < 0)
			return false; /* spilled into the function's own frame (-O0) */
		return !w->on_stack || (uint64_t)slot != w->offset;
	}
	/* reg piece reg piece ...: a value in several registers */
	for (size_t i = 0; i + 1 < n; i += 2) {
		int r = loc_reg(&ops[i]);

		if (ops[i + 1].atom != DW_OP_piece)
			return false;
		if (r >= 0 && byte % 8 == 0 && (w->on_stack || byte / 8 >= (uint64_t)w->n || w->reg[byte / 8] != r))
			return true;
		byte += ops[i + 1].number;
	}
	return false;
}

static void check_location(struct decide *d, Dwarf_Die *param, const struct where *w)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	if (!dwarf_attr(param, DW_AT_location, &a)) {
		if (d->local)
			not_certain(d, "a parameter of a local function has no location (the compiler may "
				       "have removed or rewritten it)");
		return;
	}
	if (dwarf_getlocation_addr(&a, d->vaddr, &ops, &n, 1) == 1 && contradicts(d, ops, n, w)) {
		d->p->maybe_ms = true; /* gcc marks ms_abi functions no other way */
		not_certain(d, "a parameter's location at the entry is not where its type puts it (another "
			       "calling convention, or a signature the compiler rewrote)");
	}
}

static void on_stack(struct decide *d, const struct abi_type *t, struct where *w)
{
	uint64_t al = t->align > 8 ? t->align : 8;

	if (t->align_ambiguous && d->stack % t->align)
		not_certain(d, "a packed or over-aligned type whose stack slot DWARF cannot place");
	if (al > 64)
		not_certain(d, "a stack argument aligned to more than 64 bytes");
	d->stack = (d->stack + al - 1) & ~(al - 1);
	w->on_stack = true;
	w->offset = d->stack;
	d->stack += (t->size + 7) & ~7ULL;
	if (al > d->stack_align)
		d->stack_align = al;
}

static bool x87_class(const struct abi_type *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->cls[i] == AC_X87 || t->cls[i] == AC_X87UP || t->cls[i] == AC_CX87)
			return true;
	return false;
}

/* Assigns one parameter (psABI 3.2.3: registers for every eightbyte, or
 * the whole on the stack), then compares with its DWARF location. */
static void param(struct decide *d, Dwarf_Die *decl, Dwarf_Die *concrete)
{
	struct pt_proto *p = d->p;
	Dwarf_Attribute ta;
	Dwarf_Die type;
	struct abi_type t;
	struct where w = { 0 };
	int ni = 0, ns = 0;

	if (!dwarf_attr_integrate(decl, DW_AT_type, &ta) || !dwarf_formref_die(&ta, &type)) {
		not_certain(d, "a parameter without a type");
		return;
	}
	abi_classify(&type, d->cxx, &t);
	if (t.uncertain)
		not_certain(d, t.uncertain);
	if (!t.size && t.uncertain)
		d->upper_unknown = true;
	p->stack_upper += ((t.byref ? 8 : t.size) + 7) / 8 * 8 + (t.align > 8 ? t.align : 0);
	if (t.byref) { /* the address of a temporary, in an INTEGER register */
		t.memory = false;
		t.n = 1;
		t.cls[0] = AC_INT;
		t.size = t.align = 8;
	}
	if (t.n == 0 && !t.memory)
		return; /* an empty class: passed in nothing */
	for (int i = 0; i < t.n; i++) {
		ni += t.cls[i] == AC_INT;
		ns += t.cls[i] == AC_SSE;
	}
	if (t.memory || x87_class(&t) || d->ints + ni > 6 || d->sses + ns > 8) {
		/* clang before 18 splits an __int128 between r9 and the stack
		 * when one register is left (gcc passes it whole on the stack):
		 * save r9 and copy 16 bytes more, which covers both */
		if (ni == 2 && d->ints == 5 && !t.memory && scalar_type(&type)) {
			d->split_r9 = true;
			d->stack += 16;
		}
		on_stack(d, &t, &w);
	} else {
		if (ni == 1 && t.n == 1 && d->ints == p->nargkinds && d->ints < 6 && (t.byref || scalar_type(&type)))
			p->argkind[p->nargkinds++] = t.byref ? PROTO_ARG_PTR : value_kind(&type);
		w.n = t.n;
		for (int i = 0; i < t.n; i++)
			w.reg[i] = t.cls[i] == AC_INT ? dw_int_reg[d->ints++]
				   : t.cls[i] == AC_SSE ? DW_XMM0 + d->sses++
				   : t.cls[i] == AC_SSEUP && i ? w.reg[i - 1] : -1;
	}
	check_location(d, concrete, &w);
}

static void ret_type(struct decide *d, Dwarf_Die *fn)
{
	struct pt_proto *p = d->p;
	Dwarf_Attribute ra;
	Dwarf_Die rtype;
	struct abi_type t;
	int ni = 0, ns = 0;

	p->ret_regs = PROTO_RET_RAX; /* void: nothing, but rax is cheap to keep */
	p->retkind = PROTO_ARG_VOID;
	if (!dwarf_attr_integrate(fn, DW_AT_type, &ra) || !dwarf_formref_die(&ra, &rtype))
		return;
	abi_classify(&rtype, d->cxx, &t);
	if (t.uncertain)
		not_certain(d, t.uncertain);
	p->retkind = t.n == 1 && t.cls[0] == AC_INT && !t.memory && scalar_type(&rtype) ? value_kind(&rtype) : 0;
	if (t.memory) {
		d->ints = 1; /* the hidden pointer to the return slot, returned in rax */
		return;
	}
	if (t.n && (t.cls[0] == AC_X87 || t.cls[0] == AC_CX87)) {
		p->ret_x87 = true;
		p->ret_regs = t.cls[0] == AC_CX87 ? PROTO_RET_ST0 | PROTO_RET_ST1 : PROTO_RET_ST0;
		return;
	}
	p->ret_regs = 0;
	for (int i = 0; i < t.n; i++) {
		if (t.cls[i] == AC_INT)
			p->ret_regs |= ni++ ? PROTO_RET_RDX : PROTO_RET_RAX;
		else if (t.cls[i] == AC_SSE)
			p->ret_regs |= ns++ ? PROTO_RET_XMM1 : PROTO_RET_XMM0;
	}
	p->ret_sse = (p->ret_regs & PROTO_RET_XMM0) != 0;
	if (!p->ret_regs)
		p->ret_regs = PROTO_RET_RAX;
}

static void calling_convention(struct decide *d, Dwarf_Die *fn)
{
	Dwarf_Attribute a;
	Dwarf_Word cc;

	if (!dwarf_attr_integrate(fn, DW_AT_calling_convention, &a) || dwarf_formudata(&a, &cc) != 0)
		return;
	switch (cc) {
	case DW_CC_normal: case DW_CC_program: case LLVM_CC_SYSV:
		return;
	case DW_CC_nocall:
		d->nocall = true;
		not_certain(d, "DW_CC_nocall: the compiler changed how it is called");
		return;
	case LLVM_CC_WIN64:
		d->p->cc = PROTO_CC_MS;
		d->p->maybe_ms = true;
		not_certain(d, "an ms_abi function");
		return;
	}
	d->p->cc = PROTO_CC_UNSUPPORTED;
	d->p->cc_value = (unsigned)cc;
	not_certain(d, "a calling convention poketrace does not know");
}

/* The parameter of fn (a concrete instance) that stands for origin's param. */
static bool concrete_param(Dwarf_Die *fn, Dwarf_Die *decl, Dwarf_Die *out)
{
	Dwarf_Die c;

	if (dwarf_child(fn, &c) != 0)
		return false;
	do {
		Dwarf_Attribute a;
		Dwarf_Die o;

		if (dwarf_tag(&c) == DW_TAG_formal_parameter && dwarf_attr(&c, DW_AT_abstract_origin, &a) &&
		    dwarf_formref_die(&a, &o) && dwarf_dieoffset(&o) == dwarf_dieoffset(decl)) {
			*out = c;
			return true;
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return false;
}

/* A C++ function parameter pack (gcc: template<class... A> f(A... a)):
 * its parameters, in order, where the pack stands.  They were missed, and
 * a prototype of fewer registers than the call passes counted certain. */
static void pack(struct decide *d, Dwarf_Die *fn, Dwarf_Die *decl, Dwarf_Die *pk)
{
	Dwarf_Die c;

	if (decl != fn) {
		/* (an out-of-line copy's pack: its parameters are not matched) */
		not_certain(d, "a parameter pack in an out-of-line copy");
		return;
	}
	if (dwarf_child(pk, &c) != 0)
		return; /* empty */
	do
		if (dwarf_tag(&c) == DW_TAG_formal_parameter)
			param(d, &c, &c);
	while (dwarf_siblingof(&c, &c) == 0);
}

static void decide(struct decide *d, Dwarf_Die *fn)
{
	struct pt_proto *p = d->p;
	Dwarf_Die origin, *decl = fn, child;
	Dwarf_Attribute a;

	calling_convention(d, fn);
	if (dwarf_hasattr(fn, DW_AT_static_link))
		not_certain(d, "a nested function (its static chain is in r10)");
	/* An out-of-line copy of an inlined function lists its parameters in
	 * the abstract instance it refers to: the prototype is there, the
	 * locations are in the copy. */
	if (dwarf_attr(fn, DW_AT_abstract_origin, &a) && dwarf_formref_die(&a, &origin))
		decl = &origin;
	if (dwarf_attr(fn, DW_AT_frame_base, &a)) {
		Dwarf_Op *ops;
		size_t n;

		d->fb_cfa = dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_call_frame_cfa;
	}
	ret_type(d, fn);
	if (dwarf_child(decl, &child) == 0) {
		do {
			Dwarf_Die concrete = child;

			if (dwarf_tag(&child) == DW_TAG_unspecified_parameters)
				p->varargs = true;
			if (dwarf_tag(&child) == DW_TAG_GNU_formal_parameter_pack) {
				pack(d, fn, decl, &child);
				continue;
			}
			if (dwarf_tag(&child) != DW_TAG_formal_parameter)
				continue;
			if (decl != fn && !concrete_param(fn, &child, &concrete)) {
				if (d->local)
					not_certain(d, "a parameter missing from the out-of-line copy");
				concrete = child; /* the abstract one has no location: no check */
			}
			param(d, &child, &concrete);
		} while (dwarf_siblingof(&child, &child) == 0);
	}
	if (p->varargs)
		not_certain(d, "variadic");
}

static void lookup(const struct pt_module *m, uint64_t vaddr, const char *symbol, struct pt_proto *p);
static void debug(const char *symbol, const struct pt_proto *p);

void proto_lookup(const struct pt_module *m, uint64_t vaddr, const char *symbol, struct pt_proto *p)
{
	lookup(m, vaddr, symbol, p);
	debug(symbol, p);
}

static void lookup(const struct pt_module *m, uint64_t vaddr, const char *symbol, struct pt_proto *p)
{
	const struct es_sym *sym = es_symbol_for(&m->elf, vaddr);
	struct decide d = { p, .vaddr = vaddr, .stack_align = 16 };
	Dwarf_Die fn, cu;
	const char *why = NULL;
	Dwarf *dw;

	memset(p, 0, sizeof(*p));
	if (!(dw = debuginfo_get(m, &why))) {
		p->why = why;
		return;
	}
	if (!find_subprogram(dw, vaddr, &fn, &cu)) {
		p->why = "no DWARF subprogram starts at this address";
		return;
	}
	p->known = true;
	d.cxx = is_cxx(&cu);
	d.local = !dwarf_hasattr_integrate(&fn, DW_AT_external) || (sym && sym->bind == STB_LOCAL);
	if (d.local && clang_cu(&cu))
		not_certain(&d, "a local function built by clang, which rewrites local functions' arguments "
				"(argument promotion, dead argument elimination) without renaming them");
	if (symbol && strchr(symbol, '.'))
		not_certain(&d, "a compiler-made clone or nested function (.isra, .constprop, .part, "
				"...): its registers need not be its DWARF prototype's");
	decide(&d, &fn);
	p->nint = d.split_r9 ? 6 : d.ints;
	p->nsse = d.sses;
	p->stack_bytes = d.stack;
	p->stack_align = d.stack_align;
	if (d.upper_unknown)
		p->stack_upper = 0;
	p->upper_bounds = !d.upper_unknown && !d.local && !d.nocall && !p->varargs &&
			  !(symbol && strchr(symbol, '.'));
	p->certain = !p->why;
}

/* POKETRACE_DEBUG_PROTO=1: every decision and its reason on stderr. */
static void debug(const char *symbol, const struct pt_proto *p)
{
	static int on = -1;

	if (on < 0)
		on = getenv("POKETRACE_DEBUG_PROTO") != NULL;
	if (on)
		fprintf(stderr, "poketrace: prototype of %s: %s\n", symbol ? symbol : "?", p->certain ? "certain" : p->why);
}

void proto_forget(const char *path)
{
	/* its Dwarf is closed: no index may outlive it (a new one may get its address) */
	while (indexes) {
		struct fn_index *ix = indexes;

		indexes = ix->next;
		free(ix->v);
		free(ix);
	}
	debuginfo_forget(path);
}
