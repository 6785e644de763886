/* The ABI conformance corpus generator (issue 12): writes one C or C++
 * translation unit of NFUNCS functions with random signatures, the same
 * for a given seed.  Every function folds every argument into a checksum,
 * stores it in abi_seen and returns a value made from it; for each there is
 * a caller (runtime argument values, so nothing folds away), a typed
 * handler with the function's own prototype that folds the same way into
 * abi_typed_seen, and a replacement that calls the original.  A table
 * (abi_fns) hands them to the runner (runner.c, or plain.c for `poketrace
 * record`), which compares every result hooked and unhooked.
 *
 *   gen SEED NFUNCS c|cxx [gcc|clang] > corpus.c    (gcc: _Decimal types too)
 *
 * Types: integers of every width, _Bool, __int128, float, double, long
 * double, __float128, _Decimal32/64/128 (gcc, C), _Complex float/double/
 * long double, pointers, enums, vectors of 8, 16, 32 and 64 bytes, structs
 * and unions of those (packed, aligned(16/32), arrays, bitfields, nested,
 * empty, up to 64 bytes and beyond), pointers to structs (gcc's IPA-SRA
 * turns those into clones), variadic functions, and in C++ classes with
 * and without user-declared copy constructors and destructors, defaulted
 * ones, virtual functions, class templates, std::nullptr_t and pointers to
 * data members and member functions.  Half the functions are static, so
 * that the compilers clone and rewrite them. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static int pick(int n)
{
	return (int)(next() % (uint64_t)n);
}

static bool chance(int percent)
{
	return pick(100) < percent;
}

static bool cxx, gcc;

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- types */

enum kind {
	K_INT, K_BOOL, K_I128, K_FLOAT, K_DOUBLE, K_LDOUBLE, K_F128, K_DEC, K_CPLX, K_PTR, K_ENUM, K_VEC,
	K_STRUCT, K_UNION, K_CLASS, K_NULLPTR, K_PMD, K_PMF, K_SPTR,
};

struct type {
	enum kind kind;
	char name[48];   /* how C spells it */
	int size;        /* bytes, where the generator knows it (scalars) */
	int agg;         /* K_STRUCT/K_UNION/K_CLASS/K_SPTR: aggregate index */
	int elem;        /* K_CPLX: 0 float 1 double 2 long double; K_VEC: lane kind */
	bool varargs_ok; /* may be passed through ... (after promotion) */
};

static const struct type scalars[] = {
	{ K_INT, "signed char", 1 }, { K_INT, "unsigned char", 1 }, { K_INT, "short", 2 },
	{ K_INT, "unsigned short", 2 }, { K_INT, "int", 4, .varargs_ok = true },
	{ K_INT, "unsigned", 4, .varargs_ok = true }, { K_INT, "long", 8, .varargs_ok = true },
	{ K_INT, "unsigned long", 8, .varargs_ok = true }, { K_INT, "long long", 8, .varargs_ok = true },
	{ K_BOOL, "_Bool", 1 }, { K_I128, "__int128", 16 }, { K_I128, "unsigned __int128", 16 },
	{ K_FLOAT, "float", 4 }, { K_DOUBLE, "double", 8, .varargs_ok = true },
	{ K_LDOUBLE, "long double", 16, .varargs_ok = true }, { K_F128, "__float128", 16 },
	{ K_CPLX, "_Complex float", 8, .elem = 0 }, { K_CPLX, "_Complex double", 16, .elem = 1 },
	{ K_CPLX, "_Complex long double", 32, .elem = 2 },
	{ K_PTR, "const unsigned char *", 8, .varargs_ok = true }, { K_ENUM, "enum e_small", 4 },
	{ K_ENUM, "enum e_wide", 8 },
	{ K_VEC, "v2sf", 8, .elem = 0 }, { K_VEC, "v4sf", 16, .elem = 0 }, { K_VEC, "v2df", 16, .elem = 1 },
	{ K_VEC, "v4si", 16, .elem = 2 }, { K_VEC, "v2di", 16, .elem = 3 },
	{ K_VEC, "v8sf", 32, .elem = 0 }, { K_VEC, "v4df", 32, .elem = 1 }, { K_VEC, "v8df", 64, .elem = 1 },
	{ K_VEC, "v16si", 64, .elem = 2 },
};
static const struct type decimals[] = {
	{ K_DEC, "_Decimal32", 4 }, { K_DEC, "_Decimal64", 8 }, { K_DEC, "_Decimal128", 16 },
};
static const struct type cxx_only[] = {
	{ K_NULLPTR, "std::nullptr_t", 8 }, { K_PMD, "pmd_t", 8 }, { K_PMF, "pmf_t", 16 },
};

/* Aggregates: struct/union/class definitions, emitted in order. */
enum { MAX_AGG = 96, MAX_MEMBERS = 8 };

struct member {
	struct type t;
	int count; /* array elements, 0: not an array */
	int bits;  /* bitfield width, 0: none */
};

struct agg {
	enum kind kind;   /* K_STRUCT, K_UNION, K_CLASS */
	int nm;
	struct member m[MAX_MEMBERS];
	int raw;          /* unions: bytes of the raw member that is folded */
	const char *attr; /* packed, aligned(16), aligned(32) */
	int cls;          /* classes: 0 trivial, 1 copy ctor, 2 dtor, 3 defaulted copy, 4 virtual,
			   * 5 non-trivial member, 6 template with a copy ctor */
	bool nontrivial;  /* passed by invisible reference */
	bool has_class;   /* is or holds a class: not through varargs (not POD) */
	bool has_vec;     /* holds a vector: not through varargs (clang's va_arg of
			   * such a union disagrees with its caller under -mavx2) */
};

static struct agg aggs[MAX_AGG];
static int naggs;

static struct type agg_type(int i)
{
	struct type t = { aggs[i].kind, "", 0, i, 0, false };

	if (aggs[i].kind == K_CLASS && aggs[i].cls == 6)
		snprintf(t.name, sizeof(t.name), "C%d<%d>", i, 3);
	else
		snprintf(t.name, sizeof(t.name), "%s%d", aggs[i].kind == K_UNION ? "union U" : cxx && aggs[i].kind == K_CLASS ? "C" : "struct S", i);
	/* not through ...: a class is not POD; clang++ passes an empty struct
	 * in no slot but its va_arg takes one (clang's own inconsistency) */
	t.varargs_ok = !aggs[i].has_class && !aggs[i].has_vec && !(aggs[i].kind == K_STRUCT && aggs[i].nm == 0);
	return t;
}

static struct type scalar_type(bool member)
{
	for (;;) {
		int r = pick(100);
		struct type t;

		if (r < 3 && gcc && !cxx)
			return decimals[pick(3)];
		if (r < 6 && cxx && !member)
			return cxx_only[pick(3)];
		t = scalars[pick((int)(sizeof(scalars) / sizeof(scalars[0])))];
		if (member && t.kind == K_CPLX && t.elem == 2)
			continue; /* complex long double in an aggregate: MEMORY, rare; kept as a parameter */
		if (t.kind == K_VEC && t.size > 16 && !chance(15))
			continue; /* 32/64-byte vectors make a prototype uncertain: now and then */
		if (t.kind == K_BOOL && cxx)
			strcpy(t.name, "bool");
		return t;
	}
}

static const struct type *any_scalar_sized(int *size)
{
	static const struct type *u[] = { &scalars[4], &scalars[6], &scalars[13], &scalars[12], &scalars[14],
					  &scalars[0], &scalars[2], &scalars[10], &scalars[23], &scalars[19] };
	const struct type *t = u[pick(10)];

	*size = t->size;
	return t;
}

static void new_agg(void)
{
	struct agg *a = &aggs[naggs];
	int r = pick(100), bitfields = 0;

	a->kind = cxx && r < 30 ? K_CLASS : r < 85 ? K_STRUCT : K_UNION;
	if (a->kind == K_UNION) {
		int maxs = 1;

		a->nm = 1 + pick(3);
		for (int i = 0; i < a->nm; i++) {
			int s;

			a->m[i].t = *any_scalar_sized(&s);
			a->has_vec |= a->m[i].t.kind == K_VEC;
			maxs = s > maxs ? s : maxs;
		}
		a->raw = maxs + pick(9);
		naggs++;
		return;
	}
	a->nm = pick(10) == 0 ? 0 : 1 + pick(MAX_MEMBERS);
	if (a->kind == K_CLASS && a->nm == 0)
		a->nm = 1;
	r = pick(100);
	a->attr = r < 10 ? "packed" : r < 16 ? "aligned(16)" : r < 20 ? "aligned(32)" : NULL;
	if (a->kind == K_CLASS) {
		a->has_class = true;
		a->cls = pick(7);
		a->nontrivial = a->cls == 1 || a->cls == 2 || a->cls == 4 || a->cls == 5 || a->cls == 6;
		if (a->cls == 4 || a->cls == 6)
			a->attr = NULL;
	}
	for (int i = 0; i < a->nm; i++) {
		struct member *m = &a->m[i];

		memset(m, 0, sizeof(*m));
		if (naggs && chance(20)) {
			int j = pick(naggs);

			if (aggs[j].kind == K_CLASS && (aggs[j].cls == 4 || (a->kind != K_CLASS && aggs[j].nontrivial)))
				j = -1;
			if (j >= 0) {
				m->t = agg_type(j);
				if (aggs[j].nontrivial)
					a->nontrivial = true;
				a->has_class |= aggs[j].has_class;
				a->has_vec |= aggs[j].has_vec;
				continue;
			}
		}
		m->t = scalar_type(true);
		if (m->t.kind == K_VEC && a->attr && !strcmp(a->attr, "packed"))
			m->t = scalars[6];
		a->has_vec |= m->t.kind == K_VEC;
		if (chance(15))
			m->count = 1 + pick(chance(20) ? 24 : 4);
		else if ((m->t.kind == K_INT && m->t.size >= 4) && chance(25) && bitfields++ < 3)
			m->bits = 1 + pick(m->t.size * 8 - 1);
	}
	if (a->kind == K_CLASS && a->cls == 5) {
		/* a member whose class has a user copy constructor */
		int j = -1;

		for (int k = 0; k < naggs; k++)
			if (aggs[k].kind == K_CLASS && aggs[k].cls == 1)
				j = k;
		if (j < 0)
			a->cls = 1;
		else
			a->m[0] = (struct member){ agg_type(j), 0, 0 };
	}
	naggs++;
}

/* Size and alignment of a type as the compilers lay it out (psABI 3.1.2),
 * for keeping every function's arguments under 4 KiB. */
static void layout(const struct type *t, long *size, long *align);

static void agg_layout(int ai, long *size, long *align)
{
	const struct agg *a = &aggs[ai];
	long off = 0, al = 1;

	if (a->kind == K_UNION) {
		*size = (a->raw + 15) & ~15L;
		*align = 16;
		return;
	}
	for (int i = 0; i < a->nm; i++) {
		long ms, ma;

		layout(&a->m[i].t, &ms, &ma);
		if (a->m[i].count)
			ms *= a->m[i].count;
		if (a->attr && !strcmp(a->attr, "packed"))
			ma = 1;
		off = (off + ma - 1) / ma * ma + ms;
		al = ma > al ? ma : al;
	}
	if (a->attr && !strcmp(a->attr, "aligned(16)") && al < 16)
		al = 16;
	if (a->attr && !strcmp(a->attr, "aligned(32)") && al < 32)
		al = 32;
	if (a->kind == K_CLASS && a->cls == 4)
		off += 8, al = al < 8 ? 8 : al; /* the vtable pointer */
	*size = (off + al - 1) / al * al + 8;
	*align = al;
}

static void layout(const struct type *t, long *size, long *align)
{
	if (t->kind == K_STRUCT || t->kind == K_UNION || t->kind == K_CLASS) {
		agg_layout(t->agg, size, align);
		return;
	}
	*size = t->size;
	*align = t->size > 16 && t->kind != K_VEC ? 16 : t->size ? t->size : 1;
}

/* ----------------------------------------------- code: values and folds */

/* Prints a statement assigning a value made from `seed` (a uint64_t
 * expression) to the lvalue `lv` of type t. */
static void make_value(const struct type *t, const char *lv, const char *seed, int depth);

static void make_agg_body(int ai, const char *lv, const char *seed, int depth)
{
	struct agg *a = &aggs[ai];
	char sub[256], sd[256];

	if (a->kind == K_UNION) {
		out("%*smemset(&%s, 0, sizeof(%s));\n", depth, "", lv, lv);
		out("%*sfor (int k_ = 0; k_ < %d; k_++) %s.raw[k_] = (unsigned char)((%s) >> (k_ %% 8 * 8)) + k_;\n",
		    depth, "", a->raw, lv, seed);
		return;
	}
	for (int i = 0; i < a->nm; i++) {
		const struct member *m = &a->m[i];

		if (m->count) {
			out("%*sfor (int k%d_ = 0; k%d_ < %d; k%d_++) {\n", depth, "", depth, depth, m->count, depth);
			snprintf(sub, sizeof(sub), "%s.m%d[k%d_]", lv, i, depth);
			snprintf(sd, sizeof(sd), "abi_mix(%s, %d + k%d_)", seed, i, depth);
			make_value(&m->t, sub, sd, depth + 1);
			out("%*s}\n", depth, "");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.m%d", lv, i);
		snprintf(sd, sizeof(sd), "abi_mix(%s, %d)", seed, i);
		if (m->bits)
			out("%*s%s = (%s)(%s);\n", depth, "", sub, m->t.name, sd);
		else
			make_value(&m->t, sub, sd, depth);
	}
}

static void make_value(const struct type *t, const char *lv, const char *seed, int depth)
{
	switch (t->kind) {
	case K_INT: case K_I128:
		out("%*s%s = (%s)((%s) * 0x9e3779b97f4a7c15ull);\n", depth, "", lv, t->name, seed);
		if (t->kind == K_I128)
			out("%*s%s = (%s)(%s) << 64 | (%s)abi_mix(%s, 99);\n", depth, "", lv, t->name, lv, t->name, seed);
		break;
	case K_BOOL:
		out("%*s%s = (%s) & 1;\n", depth, "", lv, seed);
		break;
	case K_FLOAT: case K_DOUBLE: case K_LDOUBLE: case K_F128: case K_DEC:
		out("%*s%s = (%s)((long long)((%s) %% 2001) - 1000) / 8;\n", depth, "", lv, t->name, seed);
		break;
	case K_CPLX: {
		static const char *part[] = { "float", "double", "long double" };

		out("%*s{ %s cr_ = (%s)((long long)((%s) %% 2001) - 1000) / 8, ci_ = (%s)((long long)(abi_mix(%s, 7) %% 2001) - 1000) / 4;\n",
		    depth, "", part[t->elem], part[t->elem], seed, part[t->elem], seed);
		out("%*s  __real__ %s = cr_; __imag__ %s = ci_; }\n", depth, "", lv, lv);
		break;
	}
	case K_PTR:
		out("%*s%s = abi_buf + (%s) %% 64;\n", depth, "", lv, seed);
		break;
	case K_ENUM:
		out("%*s%s = (%s)((%s) %% 3);\n", depth, "", lv, t->name, seed);
		break;
	case K_VEC:
		out("%*sfor (unsigned k_ = 0; k_ < sizeof(%s) / sizeof(%s[0]); k_++) %s[k_] = ", depth, "", lv, lv, lv);
		if (t->elem <= 1)
			out("(double)((long long)(abi_mix(%s, k_) %% 2001) - 1000) / 8;\n", seed);
		else
			out("(long long)abi_mix(%s, k_);\n", seed);
		break;
	case K_STRUCT: case K_UNION: case K_CLASS:
		/* through a temporary: lv may be a member of a packed struct */
		out("%*s{ %s t_; make_a%d(&t_, %s); memcpy((void *)&%s, (const void *)&t_, sizeof(t_)); }\n", depth, "",
		    t->name, t->agg, seed, lv);
		break;
	case K_NULLPTR:
		out("%*s%s = nullptr;\n", depth, "", lv);
		break;
	case K_PMD:
		out("%*s%s = (%s) %% 2 ? &pm_t::a : &pm_t::b;\n", depth, "", lv, seed);
		break;
	case K_PMF:
		out("%*s%s = (%s) %% 3 == 0 ? &pm_t::f0 : (%s) %% 3 == 1 ? &pm_t::f1 : &pm_t::vf;\n", depth, "", lv, seed, seed);
		break;
	case K_SPTR:
		break;
	}
}

/* A struct of a few scalars (no arrays, bitfields or aggregates). */
static bool small_struct(int ai)
{
	const struct agg *a = &aggs[ai];

	if (a->kind != K_STRUCT || a->nm > 4)
		return false;
	for (int i = 0; i < a->nm; i++)
		if (a->m[i].count || a->m[i].bits || a->m[i].t.kind >= K_STRUCT)
			return false;
	return true;
}

/* Prints `h = ...;` folding the value `v` of type t into h. */
static void fold_value(const struct type *t, const char *v, int depth);

static void fold_agg_body(int ai, const char *v, int depth)
{
	struct agg *a = &aggs[ai];
	char sub[256];

	if (a->kind == K_UNION) {
		out("%*sh = abi_fold_bytes(h, %s.raw, %d);\n", depth, "", v, a->raw);
		return;
	}
	for (int i = 0; i < a->nm; i++) {
		const struct member *m = &a->m[i];

		if (m->count) {
			out("%*sfor (int k%d_ = 0; k%d_ < %d; k%d_++) {\n", depth, "", depth, depth, m->count, depth);
			snprintf(sub, sizeof(sub), "%s.m%d[k%d_]", v, i, depth);
			fold_value(&m->t, sub, depth + 1);
			out("%*s}\n", depth, "");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.m%d", v, i);
		if (m->bits)
			out("%*sh = abi_mix(h, (unsigned long long)%s);\n", depth, "", sub);
		else
			fold_value(&m->t, sub, depth);
	}
	out("%*sh = abi_mix(h, %d);\n", depth, "", ai);
}

static void fold_value(const struct type *t, const char *v, int depth)
{
	switch (t->kind) {
	case K_INT: case K_BOOL: case K_ENUM:
		out("%*sh = abi_mix(h, (unsigned long long)(%s));\n", depth, "", v);
		break;
	case K_I128:
		out("%*sh = abi_mix(abi_mix(h, (unsigned long long)(%s)), (unsigned long long)((%s) >> 64));\n", depth, "", v, v);
		break;
	case K_FLOAT: case K_DOUBLE: case K_F128: case K_DEC: case K_VEC:
		out("%*s{ %s t_ = %s; h = abi_fold_bytes(h, &t_, sizeof(t_)); }\n", depth, "", t->name, v);
		break;
	case K_LDOUBLE:
		out("%*sh = abi_fold_ld(h, %s);\n", depth, "", v);
		break;
	case K_CPLX:
		if (t->elem == 2) {
			out("%*sh = abi_fold_ld(abi_fold_ld(h, __real__ (%s)), __imag__ (%s));\n", depth, "", v, v);
		} else {
			out("%*s{ %s t_ = %s; h = abi_fold_bytes(h, &t_, sizeof(t_)); }\n", depth, "", t->name, v);
		}
		break;
	case K_PTR:
		out("%*sh = abi_mix(h, (unsigned long long)((%s) - abi_buf));\n", depth, "", v);
		break;
	case K_STRUCT: case K_UNION: case K_CLASS:
		out("%*s{ %s t_; memcpy((void *)&t_, (const void *)&(%s), sizeof(t_)); h = fold_a%d(h, &t_); }\n",
		    depth, "", t->name, v, t->agg);
		break;
	case K_SPTR:
		if (small_struct(t->agg)) {
			/* read in place: gcc's IPA-SRA passes such fields instead */
			char deref[64];

			snprintf(deref, sizeof(deref), "(*%s)", v);
			fold_agg_body(t->agg, deref, depth);
		} else {
			out("%*sh = fold_a%d(h, %s);\n", depth, "", t->agg, v);
		}
		break;
	case K_NULLPTR:
		out("%*sh = abi_mix(h, 0x77);\n", depth, "");
		break;
	case K_PMD:
		out("%*sh = abi_mix(h, (unsigned long long)(abi_pm.*(%s)));\n", depth, "", v);
		break;
	case K_PMF:
		out("%*sh = abi_mix(h, (unsigned long long)(abi_pm.*(%s))());\n", depth, "", v);
		break;
	}
}

/* ------------------------------------------------------------ aggregates */

static void member_decl(const struct member *m, int i)
{
	out("\t%s m%d", m->t.name, i);
	if (m->count)
		out("[%d]", m->count);
	if (m->bits)
		out(" : %d", m->bits);
	out(";\n");
}

static void emit_agg(int i)
{
	struct agg *a = &aggs[i];

	if (a->kind == K_UNION) {
		out("union U%d {\n\tunsigned char raw[%d];\n", i, a->raw);
		for (int k = 0; k < a->nm; k++)
			member_decl(&a->m[k], k);
		out("};\n");
		return;
	}
	if (a->kind == K_CLASS && a->cls == 6)
		out("template <int N> ");
	out("struct ");
	if (a->attr)
		out("__attribute__((%s)) ", a->attr);
	out("%s%d {\n", a->kind == K_CLASS ? "C" : "S", i);
	for (int k = 0; k < a->nm; k++)
		member_decl(&a->m[k], k);
	if (a->kind == K_CLASS) {
		const char *n = a->cls == 6 ? "C" : "C";

		out("\t%s%d() {}\n", n, i);
		switch (a->cls) {
		case 1: case 6:
			out("\t%s%d(const %s%d &o) { memcpy((void *)this, (const void *)&o, sizeof(*this)); abi_copies++; }\n",
			    n, i, n, i);
			break;
		case 2:
			out("\t~%s%d() { abi_dtors++; }\n", n, i);
			break;
		case 3:
			out("\t%s%d(const %s%d &) = default;\n", n, i, n, i);
			break;
		case 4:
			out("\tvirtual long vm() { return %d; }\n", i);
			break;
		}
	}
	out("};\n");
}

/* make_aN and fold_aN: one copy of the code per aggregate, not per use */
static void emit_agg_helpers(int i)
{
	struct type t = agg_type(i);

	out("static void make_a%d(%s *v, unsigned long long seed)\n{\n", i, t.name);
	make_agg_body(i, "(*v)", "seed", 1);
	out("}\n\nstatic unsigned long long fold_a%d(unsigned long long h, const %s *v)\n{\n", i, t.name);
	fold_agg_body(i, "(*v)", 1);
	out("\treturn h;\n}\n\n");
}

/* ------------------------------------------------------------- functions */

enum { MAX_PARAMS = 24 };

struct fn {
	struct type ret;
	bool has_ret, is_static, varargs;
	int np, nvar;
	struct type p[MAX_PARAMS], va[8];
};

static struct type param_type(void)
{
	int r = pick(100);

	if (naggs && r < 22) {
		struct type t = agg_type(pick(naggs));

		/* a pointer to a struct: what IPA-SRA turns into a clone */
		if (t.kind == K_STRUCT && chance(25)) {
			t.kind = K_SPTR;
			snprintf(t.name + strlen(t.name), sizeof(t.name) - strlen(t.name), " *");
		}
		return t;
	}
	return scalar_type(false);
}

/* Bytes of arguments a call passes at most (all of them on the stack). */
static long arg_bytes(const struct fn *f)
{
	long total = 0, sz, al;

	for (int i = 0; i < f->np + f->nvar; i++) {
		layout(i < f->np ? &f->p[i] : &f->va[i - f->np], &sz, &al);
		total += (sz + 7) / 8 * 8 + (al > 8 ? al : 0);
	}
	return total;
}

static void gen_fn1(struct fn *f);

/* No call passes more than 1 KiB of arguments: what an image copies for a
 * function whose stack area nothing bounds (tramp.h: no DWARF). */
static void gen_fn(struct fn *f)
{
	do
		gen_fn1(f);
	while (arg_bytes(f) > 960);
}

static void gen_fn1(struct fn *f)
{
	int r = pick(100);

	memset(f, 0, sizeof(*f));
	f->np = r < 25 ? pick(4) : r < 65 ? 4 + pick(5) : r < 95 ? 9 + pick(8) : 17 + pick(MAX_PARAMS - 16);
	for (int i = 0; i < f->np; i++)
		f->p[i] = param_type();
	f->has_ret = !chance(12);
	if (f->has_ret) {
		do
			f->ret = param_type();
		while (f->ret.kind == K_SPTR || (f->ret.kind == K_CLASS && aggs[f->ret.agg].cls == 6));
	}
	f->is_static = chance(50);
	if (chance(8) && f->np) {
		f->varargs = true;
		f->nvar = 1 + pick(8);
		for (int i = 0; i < f->nvar; i++) {
			do
				f->va[i] = param_type();
			while (!f->va[i].varargs_ok || f->va[i].kind == K_SPTR);
		}
	}
}

static void params_decl(const struct fn *f, bool names)
{
	out("(");
	for (int i = 0; i < f->np; i++) {
		out("%s%s", i ? ", " : "", f->p[i].name);
		if (names)
			out(" a%d", i);
	}
	if (f->varargs)
		out(", ...");
	if (!f->np)
		out("void");
	out(")");
}

static void fold_params(const struct fn *f, int idx)
{
	char v[32];

	out("\tunsigned long long h = %dull;\n", idx * 7919 + 17);
	for (int i = 0; i < f->np; i++) {
		snprintf(v, sizeof(v), "a%d", i);
		fold_value(&f->p[i], v, 1);
	}
	if (f->varargs) {
		out("\t{\n\t\tva_list ap;\n\n\t\tva_start(ap, a%d);\n", f->np - 1);
		for (int i = 0; i < f->nvar; i++) {
			const struct type *t = &f->va[i];

			out("\t\t{\n\t\t\t%s v_ = va_arg(ap, %s);\n\n", t->name, t->name);
			fold_value(t, "v_", 3);
			out("\t\t}\n");
		}
		out("\t\tva_end(ap);\n\t}\n");
	}
}

static const char *ret_name(const struct fn *f)
{
	return f->has_ret ? f->ret.name : "void";
}

static void emit_fn(const struct fn *f, int i)
{
	char seed[64];

	/* the function */
	out("%s__attribute__((noinline)) %s f_%d", f->is_static ? "static " : "", ret_name(f), i);
	params_decl(f, true);
	out("\n{\n");
	fold_params(f, i);
	out("\tabi_seen = h;\n");
	if (f->has_ret) {
		out("\t{\n\t\t%s r_;\n\n", f->ret.name);
		snprintf(seed, sizeof(seed), "abi_mix(h, 0x5eed)");
		make_value(&f->ret, "r_", seed, 2);
		out("\t\treturn r_;\n\t}\n");
	}
	out("}\n\n");
	/* the typed handler: the same prototype, folding into abi_typed_seen */
	out("static %s typed_%d", ret_name(f), i);
	params_decl(f, true);
	out("\n{\n");
	fold_params(f, i);
	out("\tabi_typed_seen = h;\n\tabi_clobber();\n");
	if (f->has_ret)
		out("\t{\n\t\tstatic %s r_;\n\n\t\treturn r_;\n\t}\n", f->ret.name);
	out("}\n\n");
	/* the replacement: calls the original through abi_orig */
	if (!f->varargs) {
		out("static %s repl_%d", ret_name(f), i);
		params_decl(f, true);
		out("\n{\n\tabi_repl_hits++;\n\tabi_clobber();\n\t%s((%s (*)", f->has_ret ? "return " : "", ret_name(f));
		params_decl(f, false);
		out(")abi_orig[%d])(", i);
		for (int k = 0; k < f->np; k++)
			out("%sa%d", k ? ", " : "", k);
		out(");\n}\n\n");
	}
	/* the caller: argument values from abi_input, which the compiler
	 * cannot see through */
	out("static void call_%d(unsigned long long *seen, unsigned long long *ret)\n{\n", i);
	for (int k = 0; k < f->np; k++) {
		char lv[16];

		if (f->p[k].kind == K_SPTR) {
			char base[48];

			snprintf(base, sizeof(base), "%s", f->p[k].name);
			base[strlen(base) - 2] = '\0';
			/* a local the callee only reads through the pointer: IPA-SRA */
			out("\t%s o%d;\n\t%s a%d = &o%d;\n", base, k, f->p[k].name, k, k);
			snprintf(lv, sizeof(lv), "o%d", k);
			snprintf(seed, sizeof(seed), "abi_input(%d, %d)", i, k);
			out("\tmake_a%d(&%s, %s);\n", f->p[k].agg, lv, seed);
			continue;
		}
		out("\t%s a%d;\n", f->p[k].name, k);
		snprintf(lv, sizeof(lv), "a%d", k);
		snprintf(seed, sizeof(seed), "abi_input(%d, %d)", i, k);
		make_value(&f->p[k], lv, seed, 1);
	}
	for (int k = 0; k < f->nvar; k++) {
		char lv[16];

		out("\t%s v%d;\n", f->va[k].name, k);
		snprintf(lv, sizeof(lv), "v%d", k);
		snprintf(seed, sizeof(seed), "abi_input(%d, %d)", i, 100 + k);
		make_value(&f->va[k], lv, seed, 1);
	}
	out("\tunsigned long long h = 0;\n\n\tabi_seen = 0;\n\t");
	if (f->has_ret)
		out("%s r_ = ", f->ret.name);
	out("f_%d(", i);
	for (int k = 0; k < f->np; k++)
		out("%sa%d", k ? ", " : "", k);
	for (int k = 0; k < f->nvar; k++)
		out(", v%d", k);
	out(");\n\t*seen = abi_seen;\n");
	if (f->has_ret)
		fold_value(&f->ret, "r_", 1);
	out("\t*ret = h;\n}\n\n");
}

/* ----------------------------------------------------------------- main */

static void prelude(void)
{
	out("/* Generated by tests/abi/gen.c: do not edit. */\n");
	if (cxx)
		out("#include <cstddef>\n#include <cstdarg>\n#include <cstring>\n");
	else
		out("#include <stdarg.h>\n#include <stddef.h>\n#include <string.h>\n");
	out("#include \"abi/corpus.h\"\n#include \"clobber.h\"\n\n");
	out("typedef float v2sf __attribute__((vector_size(8)));\n"
	    "typedef float v4sf __attribute__((vector_size(16)));\n"
	    "typedef double v2df __attribute__((vector_size(16)));\n"
	    "typedef int v4si __attribute__((vector_size(16)));\n"
	    "typedef long long v2di __attribute__((vector_size(16)));\n"
	    "typedef float v8sf __attribute__((vector_size(32)));\n"
	    "typedef double v4df __attribute__((vector_size(32)));\n"
	    "typedef double v8df __attribute__((vector_size(64)));\n"
	    "typedef int v16si __attribute__((vector_size(64)));\n"
	    "enum e_small { ES0, ES1, ES2 };\n"
	    "enum e_wide { EW0, EW1 = 0x100000000ll, EW2 };\n\n");
	if (cxx)
		out("struct pm_t {\n\tlong a, b;\n\tlong f0() { return a + 1; }\n\tlong f1() { return b + 2; }\n"
		    "\tvirtual long vf() { return 77; }\n};\nstatic pm_t abi_pm;\n"
		    "static void pm_init() { abi_pm.a = 11; abi_pm.b = 22; }\n"
		    "typedef long pm_t::*pmd_t;\ntypedef long (pm_t::*pmf_t)();\n\n");
	out("volatile unsigned long long abi_seen, abi_typed_seen;\nunsigned long abi_repl_hits, abi_copies, abi_dtors;\n"
	    "static const unsigned char abi_buf[128] = { 1 };\n\n");
	out("static inline unsigned long long abi_mix(unsigned long long h, unsigned long long v)\n{\n"
	    "\th ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);\n\treturn h * 0xff51afd7ed558ccdull;\n}\n\n"
	    "static unsigned long long abi_fold_bytes(unsigned long long h, const void *p, size_t n)\n{\n"
	    "\tconst unsigned char *b = (const unsigned char *)p;\n\n"
	    "\tfor (size_t i = 0; i < n; i++)\n\t\th = abi_mix(h, b[i]);\n\treturn h;\n}\n\n"
	    "/* the 10 bytes of an x87 value, not its padding */\n"
	    "static unsigned long long abi_fold_ld(unsigned long long h, long double v)\n{\n"
	    "\treturn abi_fold_bytes(h, &v, 10);\n}\n\n"
	    "static volatile unsigned long long abi_inputs[64];\n"
	    "static unsigned long long abi_input(int f, int k)\n{\n"
	    "\treturn abi_mix(abi_inputs[(f + k) %% 64], (unsigned long long)f * 1000 + (unsigned long long)k);\n}\n\n"
	    "void *abi_orig[ABI_MAX_FNS];\n\n");
	out("static __attribute__((noinline)) void abi_clobber(void)\n{\n\tclobber_all();\n}\n\n");
}

int main(int argc, char **argv)
{
	unsigned long long seed;
	int n;
	struct fn *fns;

	if (argc < 4 || (strcmp(argv[3], "c") && strcmp(argv[3], "cxx"))) {
		fprintf(stderr, "usage: %s SEED NFUNCS c|cxx [gcc|clang]\n", argv[0]);
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	n = atoi(argv[2]);
	cxx = !strcmp(argv[3], "cxx");
	gcc = argc > 4 && !strcmp(argv[4], "gcc");
	if (n < 1 || n > 4096) {
		fprintf(stderr, "NFUNCS must be 1..4096\n");
		return 2;
	}
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (int i = 0; i < 8; i++)
		next();
	prelude();
	while (naggs < MAX_AGG && naggs < 8 + n / 8)
		new_agg();
	for (int i = 0; i < naggs; i++) {
		emit_agg(i);
		emit_agg_helpers(i);
	}
	out("\n");
	if (cxx)
		out("extern \"C\" {\n");
	fns = calloc((size_t)n, sizeof(*fns));
	for (int i = 0; i < n; i++) {
		gen_fn(&fns[i]);
		emit_fn(&fns[i], i);
	}
	out("const struct abi_fn abi_fns[] = {\n");
	for (int i = 0; i < n; i++)
		out("\t{ \"f_%d\", call_%d, (void *)typed_%d, %s%d%s, %d, %d },\n", i, i, i,
		    fns[i].varargs ? "NULL /* " : "(void *)repl_", i, fns[i].varargs ? " */" : "", !fns[i].is_static,
		    fns[i].varargs);
	out("};\nconst int abi_nfns = %d;\n\n", n);
	out("void abi_init(void)\n{\n\tfor (int i = 0; i < 64; i++)\n\t\tabi_inputs[i] = (unsigned long long)i * 0x2545f4914f6cdd1dull + %lluull;\n",
	    seed);
	if (cxx)
		out("\tpm_init();\n");
	out("}\n");
	if (cxx)
		out("}\n");
	free(fns);
	return 0;
}
