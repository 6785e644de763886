/* C++ arguments and returns the images once got wrong (issue 12): classes
 * passed by invisible reference or returned through a hidden pointer,
 * std::nullptr_t, pointers to members.  Targets: g++ -O2 -g. */
#include <cerrno>

#include "clobber.h"
#include "harness.h"
#include "targets/abifns_cpp.h"

static int hits;

static void h_clobber(struct poketrace_ctx *)
{
	hits++;
	clobber_all();
}

static struct poketrace_link *att(enum poketrace_link_kind k, const char *fn)
{
	struct poketrace_link_opts o = { sizeof(o), NULL, 0, 0 };
	struct poketrace_link *l = NULL;

	OK(poketrace_link_attach(k, fn, (void *)h_clobber, &o, &l));
	return l;
}

static void each_kind(const char *fn, void (*check)(const char *kind))
{
	static const enum poketrace_link_kind kinds[] = { POKETRACE_FENTRY, POKETRACE_FEXIT };

	OK(poketrace_init(NULL));
	check("unhooked");
	for (enum poketrace_link_kind k : kinds) {
		struct poketrace_link *l = att(k, fn);

		hits = 0;
		check(k == POKETRACE_FENTRY ? "fentry" : "fexit");
		CHECK(hits > 0, "%s: the handler did not run", fn);
		OK(poketrace_link_detach(l));
	}
}

static void by_value_string()
{
	each_kind("_Z9by_stringNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEl", [](const char *k) {
		long r = by_string(std::string("abc"), 7);

		CHECK(r == 3007, "%s: by_string(\"abc\", 7) = %ld", k, r);
	});
}

static void return_unique_ptr()
{
	each_kind("_Z7make_upll", [](const char *k) {
		std::unique_ptr<long> p = make_up(4, 2);

		CHECK(*p == 42, "%s: *make_up(4, 2) = %ld", k, *p);
	});
}

static void by_value_nontrivial()
{
	each_kind("_Z5by_nt2NTll", [](const char *k) {
		long r = by_nt(NT(1), 2, 3);

		CHECK(r == 123, "%s: by_nt(NT(1), 2, 3) = %ld", k, r);
	});
}

static void return_nontrivial()
{
	each_kind("_Z10get_statusiiPi", [](const char *k) {
		int out = 0;
		Status s = get_status(20, 22, &out);

		CHECK(out == 42 && s.s == nullptr, "%s: get_status: out %d, s %p", k, out, (const void *)s.s);
	});
}

static void nullptr_arg()
{
	each_kind("_Z4np_fDnll", [](const char *k) {
		long r = np_f(nullptr, 4, 2);

		CHECK(r == 42, "%s: np_f(nullptr, 4, 2) = %ld", k, r);
	});
}

static void member_pointers()
{
	each_kind("_Z8call_pmfP1AMS_FlvEl", [](const char *k) {
		A a = { 4, 9 };
		long r = call_pmf(&a, &A::get, 2);

		CHECK(r == 42, "%s: call_pmf(&a, &A::get, 2) = %ld", k, r);
	});
	each_kind("_Z8call_pmdP1AMS_ll", [](const char *k) {
		A a = { 4, 9 };
		long r = call_pmd(&a, &A::w, 2);

		CHECK(r == 92, "%s: call_pmd(&a, &A::w, 2) = %ld", k, r);
	});
}

TEST_MAIN(CASE(by_value_string), CASE(return_unique_ptr), CASE(by_value_nontrivial), CASE(return_nontrivial),
	  CASE(nullptr_arg), CASE(member_pointers))
