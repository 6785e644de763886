/* System V x86-64 classification of DWARF types (psABI 3.2.3).
 *
 * Every scalar a type contains is placed at its byte offset; the class of
 * each eightbyte it covers is merged with what is there (INTEGER wins over
 * SSE, x87 classes and MEMORY make the whole MEMORY), then the post-merger
 * cleanup runs.  Whatever DWARF cannot decide makes the type uncertain
 * (abi_type.uncertain) rather than guessed:
 *   - vectors of 32 or 64 bytes: passed in ymm/zmm or in memory depending
 *     on whether the callee was compiled with AVX/AVX-512, which DWARF does
 *     not record;
 *   - declaration-only types (clang's -fno-standalone-debug);
 *   - float encodings and sizes not listed below, _Complex integers;
 *   - packed types whose alignment (1, or natural) changes where they sit
 *     on the stack (align_ambiguous, decided by the caller's placement);
 *   - unions of 17 to 64 bytes with a vector member: clang (14) passes them
 *     in ymm/zmm when the code is built with AVX/AVX-512 (gcc: in memory, as
 *     the psABI says), e.g. union { char raw[19]; __m128 v; } in ymm0. */
#include "core/abiclass.h"

#include <dwarf.h>
#include <string.h>

#define MAX_DEPTH 24

struct place {
	uint8_t cls[8];
	bool mem;          /* an unaligned field, or an x87 part inside an aggregate */
	bool noplace;      /* larger than 64 bytes: MEMORY, only sizes and alignments matter */
	bool cxx;
	bool ambiguous;
	bool vector;       /* a vector was placed */
	const char *why;
};

struct tinfo {
	uint64_t size, align;
	bool byref;
};

static void uncertain(struct place *p, const char *why)
{
	if (!p->why)
		p->why = why;
}

static uint8_t merge(uint8_t a, uint8_t b)
{
	if (a == b)
		return a;
	if (a == AC_NONE)
		return b;
	if (b == AC_NONE)
		return a;
	if (a == AC_MEM || b == AC_MEM)
		return AC_MEM;
	if (a == AC_INT || b == AC_INT)
		return AC_INT;
	if (a == AC_X87 || a == AC_X87UP || a == AC_CX87 || b == AC_X87 || b == AC_X87UP || b == AC_CX87)
		return AC_MEM;
	return AC_SSE;
}

static void put(struct place *p, uint64_t off, uint8_t cls)
{
	if (p->noplace || off >= 64)
		return;
	p->cls[off / 8] = merge(p->cls[off / 8], cls);
}

static uint64_t attr_u(Dwarf_Die *d, unsigned name, uint64_t dflt)
{
	Dwarf_Attribute a;
	Dwarf_Word v;

	if (!dwarf_attr_integrate(d, name, &a) || dwarf_formudata(&a, &v) != 0)
		return dflt;
	return v;
}

/* Typedefs and qualifiers off; *explicit_align: the largest DW_AT_alignment
 * on the way (alignas, __attribute__((aligned))). */
static int strip(Dwarf_Die *in, Dwarf_Die *out, uint64_t *explicit_align)
{
	Dwarf_Die cur = *in;

	for (int i = 0; i < 64; i++) {
		Dwarf_Attribute a;
		int tag = dwarf_tag(&cur);

		if (attr_u(&cur, DW_AT_alignment, 0) > *explicit_align)
			*explicit_align = attr_u(&cur, DW_AT_alignment, 0);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
		    tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type && tag != DW_TAG_packed_type) {
			*out = cur;
			return 0;
		}
		if (!dwarf_attr(&cur, DW_AT_type, &a) || !dwarf_formref_die(&a, &cur))
			return -1; /* const void */
	}
	return -1;
}

static void place_type(struct place *p, Dwarf_Die *type, uint64_t off, struct tinfo *ti, int depth);

/* A scalar of size bytes and alignment al whose eightbytes have classes c0, c1. */
static void scalar(struct place *p, uint64_t off, uint64_t size, uint64_t al, uint8_t c0, uint8_t c1,
		   struct tinfo *ti)
{
	ti->size = size;
	ti->align = al;
	if (al && off % al)
		p->mem = true; /* an unaligned field: the aggregate is MEMORY */
	put(p, off, c0);
	if (size > 8)
		put(p, off + 8, c1);
}

static void base_type(struct place *p, Dwarf_Die *t, uint64_t off, struct tinfo *ti)
{
	uint64_t size = attr_u(t, DW_AT_byte_size, 0), enc = attr_u(t, DW_AT_encoding, 0);
	const char *name = dwarf_diename(t);
	bool ld = name && (strstr(name, "long double") || strstr(name, "_Float64x"));

	switch (enc) {
	case DW_ATE_signed: case DW_ATE_unsigned: case DW_ATE_signed_char: case DW_ATE_unsigned_char:
	case DW_ATE_boolean: case DW_ATE_UTF:
		if (size == 1 || size == 2 || size == 4 || size == 8)
			return scalar(p, off, size, size, AC_INT, AC_NONE, ti);
		if (size == 16) /* __int128 */
			return scalar(p, off, 16, 16, AC_INT, AC_INT, ti);
		break;
	case DW_ATE_float:
		if (size == 2 || size == 4 || size == 8) /* _Float16, float, double */
			return scalar(p, off, size, size, AC_SSE, AC_NONE, ti);
		if (size == 16 && ld)
			return scalar(p, off, 16, 16, AC_X87, AC_X87UP, ti);
		if (size == 16 && name && strstr(name, "128"))
			return scalar(p, off, 16, 16, AC_SSE, AC_SSEUP, ti); /* _Float128, __float128 */
		break;
	case DW_ATE_decimal_float:
		if (size == 4 || size == 8)
			return scalar(p, off, size, size, AC_SSE, AC_NONE, ti);
		if (size == 16)
			return scalar(p, off, 16, 16, AC_SSE, AC_SSEUP, ti);
		break;
	case DW_ATE_complex_float:
		if (size == 4 || size == 8) /* two _Float16 or two floats in one eightbyte */
			return scalar(p, off, size, size / 2, AC_SSE, AC_NONE, ti);
		if (size == 16) /* complex double: two SSE eightbytes */
			return scalar(p, off, 16, 8, AC_SSE, AC_SSE, ti);
		if (size == 32 && ld) { /* complex long double: COMPLEX_X87 */
			scalar(p, off, 32, 16, AC_CX87, AC_CX87, ti);
			put(p, off + 16, AC_CX87);
			put(p, off + 24, AC_CX87);
			return;
		}
		if (size == 32 && name && strstr(name, "128")) { /* two _Float128 */
			scalar(p, off, 32, 16, AC_SSE, AC_SSEUP, ti);
			put(p, off + 16, AC_SSE);
			put(p, off + 24, AC_SSEUP);
			return;
		}
		break;
	}
	ti->size = size;
	ti->align = size > 16 ? 16 : size ? size : 1;
	uncertain(p, "a base type of an encoding or size the classifier does not know");
}

/* Element count of an array type (product of its subranges); 0 if open. */
static uint64_t array_count(Dwarf_Die *t)
{
	Dwarf_Die sub;
	uint64_t n = 1;
	bool any = false;

	if (dwarf_child(t, &sub) != 0)
		return 0;
	do {
		Dwarf_Attribute a;
		Dwarf_Sword lo = 0, hi;
		Dwarf_Word cnt;

		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		any = true;
		if (dwarf_attr(&sub, DW_AT_count, &a) && dwarf_formudata(&a, &cnt) == 0) {
			n *= cnt;
		} else if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && dwarf_formsdata(&a, &hi) == 0) {
			if (dwarf_attr(&sub, DW_AT_lower_bound, &a))
				dwarf_formsdata(&a, &lo);
			n *= hi >= lo ? (uint64_t)(hi - lo + 1) : 0;
		} else {
			return 0; /* a flexible array member */
		}
	} while (dwarf_siblingof(&sub, &sub) == 0);
	return any ? n : 0;
}

static void array_type(struct place *p, Dwarf_Die *t, uint64_t off, struct tinfo *ti, int depth)
{
	Dwarf_Attribute a;
	Dwarf_Die el;
	struct tinfo eti = { 0 };
	uint64_t n = array_count(t);
	Dwarf_Word total = 0;

	if (!dwarf_attr(t, DW_AT_type, &a) || !dwarf_formref_die(&a, &el)) {
		uncertain(p, "an array without an element type");
		return;
	}
	if (dwarf_hasattr(t, DW_AT_GNU_vector)) {
		if (dwarf_aggregate_size(t, &total) != 0)
			total = 0;
		ti->size = ti->align = total;
		p->vector = true;
		if (total == 16)
			return scalar(p, off, 16, 16, AC_SSE, AC_SSEUP, ti);
		if (total == 8 && n >= 2) /* __m64 and the like: SSE */
			return scalar(p, off, 8, 8, AC_SSE, AC_NONE, ti);
		uncertain(p, total == 32 || total == 64
			  ? "a 32- or 64-byte vector (in ymm/zmm only if the callee was built with AVX)"
			  : "a vector of a size the classifier does not know");
		return;
	}
	place_type(p, &el, off, &eti, depth + 1);
	ti->align = eti.align;
	ti->byref = eti.byref;
	ti->size = n * eti.size;
	for (uint64_t i = 1; i < n && off + i * eti.size < 64 && eti.size && !p->noplace; i++)
		place_type(p, &el, off + i * eti.size, &eti, depth + 1);
}

/* C++: whether a class is "non-trivial for the purposes of calls" (Itanium
 * C++ ABI 3.1.2.3): passed by invisible reference, returned in memory.
 * clang says so in DW_AT_calling_convention; gcc does not, so the class's
 * declared members decide: a destructor or copy/move constructor that is
 * user-provided (not defaulted in the class, not implicit), virtual
 * functions or bases, a member or base that is non-trivial, or copy and
 * move constructors that are all deleted. */
static bool refers_to(Dwarf_Die *param_type, Dwarf_Die *cls)
{
	Dwarf_Die t, pointee;
	Dwarf_Attribute a;
	uint64_t dummy = 0;
	const char *n1, *n2;

	if (strip(param_type, &t, &dummy) != 0 ||
	    (dwarf_tag(&t) != DW_TAG_reference_type && dwarf_tag(&t) != DW_TAG_rvalue_reference_type))
		return false;
	if (!dwarf_attr(&t, DW_AT_type, &a) || !dwarf_formref_die(&a, &pointee) || strip(&pointee, &pointee, &dummy))
		return false;
	if (dwarf_dieoffset(&pointee) == dwarf_dieoffset(cls))
		return true;
	n1 = dwarf_diename(&pointee);
	n2 = dwarf_diename(cls);
	return n1 && n2 && !strcmp(n1, n2);
}

/* A constructor's name is the class's without template arguments. */
static bool is_ctor_name(const char *fn, const char *cls)
{
	size_t n = strcspn(cls, "<");

	return fn && cls && strlen(fn) == n && !strncmp(fn, cls, n);
}

/* First parameter after the artificial `this`, if any. */
static bool first_param(Dwarf_Die *fn, Dwarf_Die *type_out, int *nparams)
{
	Dwarf_Die c;
	bool found = false;

	*nparams = 0;
	if (dwarf_child(fn, &c) != 0)
		return false;
	do {
		Dwarf_Attribute a;

		if (dwarf_tag(&c) != DW_TAG_formal_parameter || dwarf_hasattr(&c, DW_AT_artificial))
			continue;
		if (++*nparams == 1 && dwarf_attr(&c, DW_AT_type, &a) && dwarf_formref_die(&a, type_out))
			found = true;
	} while (dwarf_siblingof(&c, &c) == 0);
	return found;
}

static int nontrivial(Dwarf_Die *cls, int depth);

static int member_nontrivial(Dwarf_Die *m, int depth)
{
	Dwarf_Attribute a;
	Dwarf_Die t;
	uint64_t dummy = 0;

	if (!dwarf_attr(m, DW_AT_type, &a) || !dwarf_formref_die(&a, &t))
		return 0;
	for (int i = 0; i < 8; i++) {
		if (strip(&t, &t, &dummy) != 0)
			return 0;
		if (dwarf_tag(&t) != DW_TAG_array_type)
			break;
		if (!dwarf_attr(&t, DW_AT_type, &a) || !dwarf_formref_die(&a, &t))
			return 0;
	}
	switch (dwarf_tag(&t)) {
	case DW_TAG_structure_type: case DW_TAG_class_type: case DW_TAG_union_type:
		return nontrivial(&t, depth + 1);
	}
	return 0;
}

/* 1 non-trivial, 0 trivial, -1 cannot tell. */
static int nontrivial(Dwarf_Die *cls, int depth)
{
	uint64_t cc = attr_u(cls, DW_AT_calling_convention, 0);
	const char *name = dwarf_diename(cls);
	int copy_ctors = 0, deleted = 0, r;
	Dwarf_Die c;

	if (cc == DW_CC_pass_by_reference)
		return 1;
	if (cc == DW_CC_pass_by_value)
		return 0;
	if (depth > MAX_DEPTH || dwarf_hasattr(cls, DW_AT_declaration))
		return -1;
	if (dwarf_child(cls, &c) != 0)
		return 0;
	do {
		const char *n = dwarf_diename(&c);

		switch (dwarf_tag(&c)) {
		case DW_TAG_subprogram: {
			bool implicit = dwarf_hasattr(&c, DW_AT_artificial) ||
					attr_u(&c, DW_AT_defaulted, 0) == DW_DEFAULTED_in_class;
			Dwarf_Die pt;
			int np;

			if (attr_u(&c, DW_AT_virtuality, 0))
				return 1;
			if (n && n[0] == '~' && !implicit)
				return 1;
			if (!is_ctor_name(n, name) || !first_param(&c, &pt, &np) || !refers_to(&pt, cls))
				break;
			copy_ctors++;
			if (dwarf_hasattr(&c, DW_AT_deleted))
				deleted++;
			else if (!implicit)
				return 1;
			break;
		}
		case DW_TAG_inheritance:
			if (attr_u(&c, DW_AT_virtuality, 0))
				return 1;
			__attribute__((fallthrough)); /* a base is checked as a member is */
		case DW_TAG_member:
			if (n && !strncmp(n, "_vptr", 5))
				return 1;
			if (dwarf_hasattr(&c, DW_AT_external) || dwarf_hasattr(&c, DW_AT_declaration))
				break; /* a static member */
			if ((r = member_nontrivial(&c, depth)) != 0)
				return r;
			break;
		}
	} while (dwarf_siblingof(&c, &c) == 0);
	return copy_ctors && copy_ctors == deleted ? 1 : 0;
}

/* Byte offset of a member; false if DWARF gives it as an expression. */
static bool member_offset(Dwarf_Die *m, uint64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word v;

	*off = 0;
	if (!dwarf_attr(m, DW_AT_data_member_location, &a))
		return true; /* union members, and DWARF 4+ bitfields */
	if (dwarf_formudata(&a, &v) != 0)
		return false;
	*off = v;
	return true;
}

static void aggregate(struct place *p, Dwarf_Die *t, uint64_t off, uint64_t explicit_align,
		      struct tinfo *ti, int depth)
{
	uint64_t size = attr_u(t, DW_AT_byte_size, 0), natural = 1;
	bool saved_noplace = p->noplace, any_ambiguous = false, outer_vector = p->vector;
	Dwarf_Die c;

	if (dwarf_hasattr(t, DW_AT_declaration)) {
		ti->size = 0;
		ti->align = 1;
		uncertain(p, "a declaration-only type (its definition is not in this CU's DWARF)");
		return;
	}
	if (p->cxx) {
		int nt = nontrivial(t, depth);

		if (nt < 0)
			uncertain(p, "a C++ class whose copy constructors and destructor DWARF does not show");
		ti->byref = nt > 0;
	}
	if (size > 64)
		p->noplace = true;
	p->vector = false;
	if (dwarf_child(t, &c) == 0) {
		do {
			int tag = dwarf_tag(&c);
			Dwarf_Attribute a;
			Dwarf_Die mt;
			struct tinfo mti = { 0 };
			uint64_t moff, bits, bitoff, mal = attr_u(&c, DW_AT_alignment, 0);
			bool was_amb = p->ambiguous;

			if (tag != DW_TAG_member && tag != DW_TAG_inheritance)
				continue;
			if (dwarf_hasattr(&c, DW_AT_external) || dwarf_hasattr(&c, DW_AT_declaration))
				continue; /* static data member */
			if (!dwarf_attr(&c, DW_AT_type, &a) || !dwarf_formref_die(&a, &mt)) {
				uncertain(p, "a member without a type");
				continue;
			}
			if (!member_offset(&c, &moff)) {
				uncertain(p, "a member whose offset is an expression");
				continue;
			}
			if ((bits = attr_u(&c, DW_AT_bit_size, 0)) != 0) {
				/* A bitfield: INTEGER for every eightbyte it touches. */
				bitoff = attr_u(&c, DW_AT_data_bit_offset, moff * 8);
				for (uint64_t b = bitoff / 64; b <= (bitoff + bits - 1) / 64; b++)
					put(p, off + b * 8, AC_INT);
				p->ambiguous = false;
				place_type(&(struct place){ .noplace = true, .cxx = p->cxx }, &mt, 0, &mti, depth + 1);
			} else {
				p->ambiguous = false;
				place_type(p, &mt, off + moff, &mti, depth + 1);
				ti->byref |= mti.byref;
			}
			any_ambiguous |= p->ambiguous;
			p->ambiguous = was_amb;
			if (mal > mti.align)
				mti.align = mal;
			if (mti.align > natural)
				natural = mti.align;
		} while (dwarf_siblingof(&c, &c) == 0);
	}
	p->noplace = saved_noplace;
	if (p->vector && dwarf_tag(t) == DW_TAG_union_type && size > 16 && size <= 64)
		uncertain(p, "a union of more than 16 bytes with a vector member (clang passes it in ymm/zmm with AVX)");
	p->vector |= outer_vector;
	for (int i = 0; i < 8; i++)
		if (p->cls[i] == AC_CX87)
			uncertain(p, "a complex long double inside an aggregate");
	ti->size = size;
	if (explicit_align) {
		ti->align = explicit_align > natural ? explicit_align : natural;
	} else if (size % natural) {
		ti->align = 1; /* packed: the size is no multiple of what the members want */
	} else {
		ti->align = natural;
		/* packed or not, the layout is the same; only the alignment of
		 * the whole would differ, and only when it is above 8 */
		if (natural > 8 || any_ambiguous)
			p->ambiguous = true;
	}
	if (off % (ti->align ? ti->align : 1))
		p->mem = true;
}

static void place_type(struct place *p, Dwarf_Die *type, uint64_t off, struct tinfo *ti, int depth)
{
	uint64_t explicit_align = 0;
	Dwarf_Die t, pointee;
	Dwarf_Attribute a;
	const char *name;

	ti->size = 0;
	ti->align = 1;
	ti->byref = false;
	if (depth > MAX_DEPTH) {
		uncertain(p, "types nested too deeply");
		return;
	}
	if (strip(type, &t, &explicit_align) != 0) {
		uncertain(p, "a type that is void");
		return;
	}
	switch (dwarf_tag(&t)) {
	case DW_TAG_base_type:
		base_type(p, &t, off, ti);
		break;
	case DW_TAG_pointer_type: case DW_TAG_reference_type: case DW_TAG_rvalue_reference_type:
		scalar(p, off, 8, 8, AC_INT, AC_NONE, ti);
		break;
	case DW_TAG_ptr_to_member_type:
		/* Itanium C++ ABI: a data member pointer is an offset (8 bytes);
		 * a member function pointer is { ptr, adj }, two INTEGERs. */
		if (dwarf_attr(&t, DW_AT_type, &a) && dwarf_formref_die(&a, &pointee) &&
		    dwarf_tag(&pointee) == DW_TAG_subroutine_type)
			scalar(p, off, 16, 8, AC_INT, AC_INT, ti);
		else
			scalar(p, off, 8, 8, AC_INT, AC_NONE, ti);
		break;
	case DW_TAG_enumeration_type: {
		uint64_t size = attr_u(&t, DW_AT_byte_size, 4);

		scalar(p, off, size, size > 16 ? 16 : size, AC_INT, AC_INT, ti);
		if (size != 1 && size != 2 && size != 4 && size != 8 && size != 16)
			uncertain(p, "an enumeration of an odd size");
		break;
	}
	case DW_TAG_unspecified_type:
		name = dwarf_diename(&t);
		if (name && (!strcmp(name, "decltype(nullptr)") || !strcmp(name, "nullptr_t")))
			scalar(p, off, 8, 8, AC_INT, AC_NONE, ti); /* passed as a null pointer */
		else
			uncertain(p, "an unspecified type");
		break;
	case DW_TAG_array_type:
		array_type(p, &t, off, ti, depth);
		break;
	case DW_TAG_structure_type: case DW_TAG_class_type: case DW_TAG_union_type:
		aggregate(p, &t, off, explicit_align, ti, depth);
		explicit_align = 0;
		break;
	default:
		uncertain(p, "a type the classifier does not know");
		break;
	}
	if (explicit_align > ti->align)
		ti->align = explicit_align;
}

void abi_classify(Dwarf_Die *type, bool cxx, struct abi_type *out)
{
	struct place p = { .cxx = cxx };
	struct tinfo ti = { 0 };
	bool mem;

	memset(out, 0, sizeof(*out));
	place_type(&p, type, 0, &ti, 0);
	out->size = ti.size;
	out->align = ti.align;
	out->byref = ti.byref;
	out->align_ambiguous = p.ambiguous;
	out->uncertain = p.why;
	out->n = ti.size > 64 ? 0 : (int)((ti.size + 7) / 8);
	memcpy(out->cls, p.cls, sizeof(out->cls));
	/* Post-merger cleanup (psABI 3.2.3, 5). */
	mem = p.mem || ti.size > 64;
	for (int i = 0; i < out->n; i++) {
		if (out->cls[i] == AC_MEM)
			mem = true;
		if (out->cls[i] == AC_X87UP && (i == 0 || out->cls[i - 1] != AC_X87))
			mem = true;
	}
	if (ti.size > 16 && out->n && out->cls[0] != AC_CX87) {
		if (out->cls[0] != AC_SSE)
			mem = true;
		for (int i = 1; i < out->n; i++)
			if (out->cls[i] != AC_SSEUP)
				mem = true;
	}
	for (int i = 0; i < out->n; i++)
		if (out->cls[i] == AC_SSEUP && (i == 0 || (out->cls[i - 1] != AC_SSE && out->cls[i - 1] != AC_SSEUP)))
			out->cls[i] = AC_SSE;
	out->memory = mem || out->byref;
}
