# Test programs.  Code under test is built with the library's flags (and
# $(SAN)); the target functions with fixed compilers and site flags, never
# sanitized (their entry bytes are what is being tested).

T   = $(B)/tests
TO  = $(B)/tests/obj
TESTCFLAGS = -std=gnu11 -D_GNU_SOURCE -I. -Iinclude -Itests $(WARN) $(SAN) -O1 -g
TESTLIBS = $(STLIB) $(LIBS)
RPATH = -Wl,-rpath,'$$ORIGIN'

MCOUNT_FLAGS = -pg -mfentry -mnop-mcount -mrecord-mcount -fno-pie -DSITE_MCOUNT
PFE_FLAGS    = -fpatchable-function-entry=5
CET          = -fcf-protection=full

SITE_FLAVORS = mcount mcount_cet pfe_gcc pfe_clang pfe_clang_cet
TEST_BINS = $(SITE_FLAVORS:%=$(T)/t_sites_%) $(T)/t_poke $(T)/t_engine $(T)/t_commit $(T)/t_hygiene $(T)/t_reloc $(T)/t_reloc_hooks \
	$(T)/t_signals $(T)/t_stress $(T)/t_gcc_threaded $(T)/t_links $(T)/t_reclaim $(T)/t_nopie $(T)/t_ops $(T)/t_links_cpp $(T)/t_abi $(T)/t_abi_cpp \
	$(T)/abi_prog $(T)/abi_prog_cpp $(T)/libbid_v1.so $(T)/libbid_v2.so $(T)/gdb_target \
	$(T)/e2e $(T)/cpp_prog $(T)/live_target $(T)/ctl_target $(T)/flood $(T)/late_target $(T)/late_target2 \
	$(T)/gen_trace $(T)/calltree $(T)/family $(T)/plainprog $(T)/plaincxx $(T)/libcalls $(T)/profsleep
TEST_LIBS = $(T)/libt_lc.so $(T)/libt_shared.so $(T)/libt_dl.so $(T)/libt_dl_clang.so

tests: $(TEST_BINS) $(TEST_LIBS) $(CLI) examples

$(TO)/.dir:
	@mkdir -p $(TO) && touch $@

# --- target functions, one object per flavor
$(TO)/funcs_mcount.o: tests/targets/funcs.c $(TO)/.dir
	@$(GCC) -O2 -g $(MCOUNT_FLAGS) -c $< -o $@
$(TO)/funcs_mcount_cet.o: tests/targets/funcs.c $(TO)/.dir
	@$(GCC) -O2 -g $(MCOUNT_FLAGS) $(CET) -c $< -o $@
$(TO)/funcs_pfe_gcc.o: tests/targets/funcs.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIE $(PFE_FLAGS) -c $< -o $@
$(TO)/funcs_pfe_clang.o: tests/targets/funcs.c $(TO)/.dir
	@$(CLANG) -O2 -g -fPIE $(PFE_FLAGS) -c $< -o $@
$(TO)/funcs_pfe_clang_cet.o: tests/targets/funcs.c $(TO)/.dir
	@$(CLANG) -O2 -g -fPIE $(PFE_FLAGS) $(CET) -c $< -o $@
$(TO)/%.o: tests/targets/%.S $(TO)/.dir
	@$(CC) -c $< -o $@

$(T)/libt_shared.so: tests/targets/shared.c $(TO)/.dir
	@$(CLANG) -O2 -g -fPIC -shared $(PFE_FLAGS) $< -o $@
$(T)/libt_dl.so: tests/targets/dl.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIC -shared $(PFE_FLAGS) $< -o $@
$(T)/libt_dl_clang.so: tests/targets/dl.c $(TO)/.dir
	@$(CLANG) -O2 -g -fPIC -shared $(PFE_FLAGS) $< -o $@

# --- t_sites, once per flavor
KIND_mcount = POKETRACE_SITE_MCOUNT
KIND_mcount_cet = POKETRACE_SITE_MCOUNT
KIND_pfe_gcc = POKETRACE_SITE_PFE_GCC
KIND_pfe_clang = POKETRACE_SITE_PFE_CLANG
KIND_pfe_clang_cet = POKETRACE_SITE_PFE_CLANG
PIE_mcount = -fno-pie
PIE_mcount_cet = -fno-pie
LINKPIE_mcount = -no-pie
LINKPIE_mcount_cet = -no-pie
ENDBR_mcount_cet = -DEXPECT_ENDBR=1
ENDBR_pfe_clang_cet = -DEXPECT_ENDBR=1
BADSITE_mcount = $(TO)/badsite.o -DHAVE_BAD_SITE
BADSITE_mcount_cet = $(TO)/badsite.o -DHAVE_BAD_SITE

$(T)/t_sites_%: tests/t_sites.c $(TO)/funcs_%.o $(TO)/tramp.o $(TO)/badsite.o $(T)/libt_shared.so $(T)/libt_dl.so $(STLIB) tests/harness.h include/poketrace.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) $(PIE_$*) -DEXPECT_KIND=$(KIND_$*) $(ENDBR_$*) \
		-DDL_PATH='"$(abspath $(T))/libt_dl.so"' $(LINKPIE_$*) -o $@ \
		$< $(TO)/funcs_$*.o $(TO)/tramp.o $(BADSITE_$*) -L$(T) -lt_shared $(RPATH) $(TESTLIBS)

# --- engine tests on clang sites (PIE)
$(T)/t_poke: tests/t_poke.c $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(T)/libt_shared.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/funcs_pfe_clang.o $(TO)/tramp.o -L$(T) -lt_shared $(RPATH) $(TESTLIBS)

# 400 functions on every other page (aligned to 8 KiB): scattered sites
$(TO)/scattered.c: tests/gen_funcs.sh $(TO)/.dir
	@sh tests/gen_funcs.sh 400 sc | sed 's/__attribute__((noinline))/__attribute__((noinline, aligned(8192)))/' > $@
$(TO)/scattered.o: $(TO)/scattered.c
	@$(CLANG) -O1 -fPIE $(PFE_FLAGS) -c $< -o $@
$(TO)/prefix.o: tests/targets/prefix.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIE -c $< -o $@
$(T)/t_engine: tests/t_engine.c $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(TO)/prefix.o $(TO)/scattered.o \
		$(T)/libt_shared.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(TO)/prefix.o $(TO)/scattered.o \
		-L$(T) -lt_shared $(RPATH) $(TESTLIBS)

$(T)/t_commit: tests/t_commit.c $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(T)/libt_shared.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/funcs_pfe_clang.o $(TO)/tramp.o -L$(T) -lt_shared $(RPATH) $(TESTLIBS)

$(T)/t_hygiene: tests/t_hygiene.c $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(T)/libt_shared.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/funcs_pfe_clang.o $(TO)/tramp.o -L$(T) -lt_shared $(RPATH) $(TESTLIBS)

$(TO)/reloc_fns.o: tests/targets/reloc_fns.S $(TO)/.dir
	@$(CC) -c $< -o $@
$(T)/t_reloc: tests/t_reloc.c $(TO)/reloc_fns.o $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/reloc_fns.o $(TESTLIBS)

# ipara.o: gcc -O2 -g and nothing else, as a user builds (-fipa-ra on, no site)
$(TO)/keepregs.o: tests/targets/keepregs.S $(TO)/.dir
	@$(CC) -c $< -o $@
$(TO)/ipara.o: tests/targets/ipara.c $(TO)/.dir
	@$(GCC) -O2 -g -c $< -o $@
# the same functions in a library of their own (-Bsymbolic: their
# RIP-relative references stay inside it), for copies in two modules
$(T)/libt_reloc_fns.so: tests/targets/reloc_fns.S $(TO)/.dir
	@$(CC) -shared -fPIC -Wl,-Bsymbolic $< -o $@
$(T)/t_reloc_hooks: tests/t_reloc_hooks.c $(TO)/reloc_fns.o $(TO)/keepregs.o $(TO)/ipara.o $(T)/libt_reloc_fns.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -rdynamic -DRELOC_LIB='"$(abspath $(T))/libt_reloc_fns.so"' -o $@ $< $(TO)/reloc_fns.o \
		$(TO)/keepregs.o $(TO)/ipara.o $(TESTLIBS)

$(T)/t_signals: tests/t_signals.c $(TO)/funcs_pfe_clang.o $(TO)/tramp.o $(T)/libt_shared.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/funcs_pfe_clang.o $(TO)/tramp.o -L$(T) -lt_shared $(RPATH) $(TESTLIBS)

# --- 10,000 generated functions with gcc -mnop-mcount sites (non-PIE)
$(TO)/gen10k.c: tests/gen_funcs.sh $(TO)/.dir
	@sh tests/gen_funcs.sh 10000 gf > $@
$(TO)/gen10k.o: $(TO)/gen10k.c
	@echo "  GEN     $@ (10,000 functions)"
	@$(GCC) -O1 $(MCOUNT_FLAGS) -c $< -o $@

$(T)/t_stress: tests/t_stress.c $(TO)/gen10k.o $(TO)/tramp.o $(T)/libt_dl_clang.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -fno-pie -no-pie -DDL_PATH='"$(abspath $(T))/libt_dl_clang.so"' -o $@ \
		$< $(TO)/gen10k.o $(TO)/tramp.o $(TESTLIBS)

# --- gcc's five 1-byte nops and threads
$(T)/t_gcc_threaded: tests/t_gcc_threaded.c $(TO)/funcs_pfe_gcc.o $(T)/libt_dl.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -DDL_PATH='"$(abspath $(T))/libt_dl.so"' -o $@ $< $(TO)/funcs_pfe_gcc.o $(TESTLIBS)

# --- links and ops: functions with DWARF prototypes, and some without
$(TO)/hookfns.o: tests/targets/hookfns.c tests/targets/hookfns.h tests/targets/varsum.h $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -fPIE -c $< -o $@
$(TO)/nodebug.o: tests/targets/nodebug.c tests/targets/varsum.h $(TO)/.dir
	@$(CLANG) -O2 -g0 $(PFE_FLAGS) -fPIE -c $< -o $@

$(T)/t_links: tests/t_links.c $(TO)/hookfns.o $(TO)/nodebug.o $(T)/libt_dl_clang.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -rdynamic -DDL_PATH='"$(abspath $(T))/libt_dl_clang.so"' -o $@ $< \
		$(TO)/hookfns.o $(TO)/nodebug.o $(TESTLIBS) -lm

# --- reclamation: gcc -O2 -g targets; and a program built without PIE
$(TO)/reclaimfns.o: tests/targets/reclaimfns.c tests/targets/reclaimfns.h $(TO)/.dir
	@gcc -O2 -g $(PFE_FLAGS) -fPIE -c $< -o $@

$(T)/t_reclaim: tests/t_reclaim.c $(TO)/reclaimfns.o $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/reclaimfns.o $(TESTLIBS)

$(T)/libt_nopie.so: tests/targets/nopie_lib.c $(TO)/.dir
	@gcc -O2 -g $(PFE_FLAGS) -fPIC -shared -o $@ $<

$(T)/t_nopie: tests/t_nopie.c $(T)/libt_nopie.so $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -no-pie -fno-pie -o $@ $< -L$(T) -lt_nopie $(RPATH) $(TESTLIBS)

$(T)/t_ops: tests/t_ops.c $(TO)/hookfns.o $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/hookfns.o $(TESTLIBS)

CXX ?= g++
CLANGXX ?= clang++
$(TO)/thrower.o: tests/targets/thrower.cc $(TO)/.dir
	@$(CLANGXX) -O2 -g $(PFE_FLAGS) -fPIE -c $< -o $@

$(TO)/thrower_nosite.o: tests/targets/thrower.cc $(TO)/.dir
	@$(CLANGXX) -O2 -g -fPIE -Dthrower=rthrower -Dcatcher=rcatcher -c $< -o $@
$(TO)/pack.o: tests/targets/pack.cc $(TO)/.dir
	@$(CXX) -std=gnu++17 -O2 -g $(PFE_FLAGS) -fPIE -c $< -o $@
$(T)/t_links_cpp: tests/t_links_cpp.cc $(TO)/thrower.o $(TO)/thrower_nosite.o $(TO)/pack.o $(STLIB) tests/harness.h
	@echo "  TEST    $@"
	@$(CXX) -std=gnu++17 -I. -Iinclude -Itests $(WARN) $(SAN) -O1 -g -rdynamic -o $@ $< $(TO)/thrower.o \
		$(TO)/thrower_nosite.o $(TO)/pack.o $(TESTLIBS)

$(T)/gdb_target: tests/targets/gdb_target.c $(TO)/hookfns.o $(TO)/reloc_fns.o $(STLIB)
	@$(CC) $(TESTCFLAGS) -o $@ $< $(TO)/hookfns.o $(TO)/reloc_fns.o $(TESTLIBS)

# --- the end-to-end program of t_record.sh (clang sites, -g)
$(T)/libe2e.so: tests/targets/e2e_lib.c $(TO)/.dir
	@$(CLANG) -O2 -g -fPIC -shared $(PFE_FLAGS) $< -o $@
$(T)/cpp_prog: tests/targets/cpp_prog.cc $(TO)/.dir
	@$(CLANGXX) -O2 -g $(PFE_FLAGS) -o $@ $<
$(T)/e2e: tests/targets/e2e.c $(T)/libe2e.so $(T)/libt_dl_clang.so
	@$(CLANG) -O2 -g $(PFE_FLAGS) -pthread -o $@ $< -L$(T) -le2e $(RPATH) -ldl

# --- issue 15: uftrace's filters (gcc sites: uftrace -P patches them too),
# and a program that starts processes every way
$(T)/calltree: tests/targets/calltree.c $(TO)/.dir
	@$(GCC) -O2 -g $(PFE_FLAGS) -o $@ $<
$(T)/family: tests/targets/family.c $(TO)/.dir
	@$(GCC) -O2 -g $(PFE_FLAGS) -pthread -o $@ $<
# --- issue 16: built as users build, no patch site
$(T)/plainprog: tests/targets/plainprog.c $(TO)/.dir
	@$(GCC) -O2 -g -o $@ $<
$(T)/plaincxx: tests/targets/plaincxx.cc $(TO)/.dir
	@$(CXX) -O2 -g -pthread -o $@ $<
$(T)/libt_lc.so: tests/targets/lc_lib.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIC -shared -o $@ $<
$(T)/libcalls: tests/targets/libcalls.c $(T)/libt_lc.so $(TO)/.dir
	@$(GCC) -O2 -g $(PFE_FLAGS) -o $@ $< -L$(T) -lt_lc $(RPATH) -ldl
$(T)/profsleep: tests/targets/profsleep.c $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -pthread -o $@ $<

$(T)/live_target: tests/targets/live_target.c $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -pthread -o $@ $< -ldl

# links libpoketrace.so as a user program would (not instrumented itself:
# under check-asan the library brings the sanitizer runtime)
$(T)/ctl_target: tests/targets/ctl_target.c $(SHLIB) $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -Iinclude -pthread -o $@ $< -L$(B) -lpoketrace -Wl,-rpath,'$$ORIGIN/..'

# --- the ABI cases of issue 12: gcc -O2 -g targets (and -mavx2, -O0, no -g)
ABI_TARGET_FLAGS = -g -fPIE $(PFE_FLAGS) -Wno-psabi
$(TO)/abifns.o: tests/targets/abifns.c tests/targets/abifns.h $(TO)/.dir
	@$(GCC) -O2 $(ABI_TARGET_FLAGS) -c $< -o $@
$(TO)/abifns_avx.o: tests/targets/abifns_avx.c tests/targets/abifns.h $(TO)/.dir
	@$(GCC) -O2 -mavx2 $(ABI_TARGET_FLAGS) -c $< -o $@
$(TO)/abifns_clang_avx.o: tests/targets/abifns_clang_avx.c tests/targets/abifns.h $(TO)/.dir
	@$(CLANG) -O2 -mavx2 $(ABI_TARGET_FLAGS) -c $< -o $@
$(TO)/abifns_o0.o: tests/targets/abifns_o0.c tests/targets/abifns.h $(TO)/.dir
	@$(GCC) -O0 $(ABI_TARGET_FLAGS) -c $< -o $@
$(TO)/abifns_nodbg.o: tests/targets/abifns_nodbg.c tests/targets/abifns.h $(TO)/.dir
	@$(GCC) -O2 -g0 -fPIE $(PFE_FLAGS) -Wno-psabi -c $< -o $@
$(TO)/abifns_cpp.o: tests/targets/abifns_cpp.cc tests/targets/abifns_cpp.h $(TO)/.dir
	@$(CXX) -O2 $(ABI_TARGET_FLAGS) -c $< -o $@
ABI_OBJS = $(TO)/abifns.o $(TO)/abifns_avx.o $(TO)/abifns_clang_avx.o $(TO)/abifns_o0.o $(TO)/abifns_nodbg.o $(TO)/ms_caller.o

$(T)/t_abi: tests/t_abi.c $(ABI_OBJS) $(STLIB) tests/harness.h tests/clobber.h
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -Wno-psabi -DBID_DIR='"$(abspath $(T))"' -o $@ $< $(ABI_OBJS) $(TESTLIBS)

$(T)/t_abi_cpp: tests/t_abi_cpp.cc $(TO)/abifns_cpp.o $(STLIB) tests/harness.h tests/clobber.h
	@echo "  TEST    $@"
	@$(CXX) -std=gnu++17 -I. -Iinclude -Itests $(WARN) $(SAN) -O1 -g -o $@ $< $(TO)/abifns_cpp.o $(TESTLIBS)

$(T)/abi_prog: tests/targets/abi_prog.c $(TO)/.dir
	@$(GCC) -O2 -g $(PFE_FLAGS) -o $@ $<
$(T)/abi_prog_cpp: tests/targets/abi_prog_cpp.cc $(TO)/.dir
	@$(CXX) -O2 -g $(PFE_FLAGS) -o $@ $<
include tests/abi/abi.mk

$(T)/libbid_v1.so: tests/targets/bid.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIC -shared $(PFE_FLAGS) -Wl,--build-id $< -o $@
$(T)/libbid_v2.so: tests/targets/bid.c $(TO)/.dir
	@$(GCC) -O2 -g -fPIC -shared $(PFE_FLAGS) -Wl,--build-id -DV2 $< -o $@

$(T)/flood: tests/targets/flood.c $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -pthread -o $@ $<

# --- programs that load poketrace late (dlopen), t_load.sh; the second has
# its functions elsewhere (a file replaced on disk by another build)
$(T)/late_target: tests/targets/late_target.c $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -Iinclude -pthread -o $@ $< -ldl
$(T)/late_target2: tests/targets/late_target.c $(TO)/.dir
	@$(CLANG) -O2 -g $(PFE_FLAGS) -Iinclude -pthread -DPAD -o $@ $< -ldl

# --- traces with known contents, through the agent's own encoder (t_read.sh)
$(T)/gen_trace: tests/gen_trace.c trace/tbuf.c trace/ctf.c trace/clock.c $(HDRS) $(TO)/.dir
	@echo "  TEST    $@"
	@$(CC) $(TESTCFLAGS) -O2 -o $@ $< trace/tbuf.c trace/ctf.c trace/clock.c
