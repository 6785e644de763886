# `make bench`: benchmarks (they measure; they assert nothing).
# `make bench-real`: SQLite and xz from Debian's sources (minutes).
# What every row means: bench/README.md.

BO = $(B)/bench
XRAY_FLAGS = -fxray-instrument -fxray-instruction-threshold=1

$(BO)/gen40k.c: tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh tests/gen_funcs.sh 40000 bf > $@
$(BO)/gen40k.o: $(BO)/gen40k.c
	@echo "  GEN     $@ (40,000 functions)"
	@$(GCC) -O1 $(MCOUNT_FLAGS) -c $< -o $@

$(BO)/patch_bench: bench/patch_bench.c bench/runner.h bench/tramp.S $(BO)/gen40k.o $(STLIB)
	@echo "  BENCH   $@"
	@$(CC) -std=gnu11 -O2 -Iinclude -fno-pie -no-pie -o $@ bench/patch_bench.c bench/tramp.S \
		$(BO)/gen40k.o $(STLIB) $(LIBS)

# XRay's patching, on builds of 1,000, 10,000 and 40,000 functions
$(BO)/bf%.c: tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh tests/gen_funcs.sh $$(echo $* | sed 's/k$$/000/') bf > $@
$(BO)/xray_patch_%: bench/xray_patch.c bench/runner.h $(BO)/bf%.c
	@echo "  BENCH   $@ (clang -fxray-instrument)"
	@$(CLANG) -O2 $(XRAY_FLAGS) -c $(BO)/bf$*.c -o $@.o
	@$(CLANG) -O2 -c bench/xray_patch.c -o $@.main.o
	@$(CLANG) -O2 $(XRAY_FLAGS) -o $@ $@.main.o $@.o -lpthread

$(BO)/gen1k.c: bench/gen_sweep.sh tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh bench/gen_sweep.sh 1000 hb > $@
$(BO)/gen1k.o: $(BO)/gen1k.c
	@echo "  GEN     $@ (1,000 functions, clang sites, DWARF)"
	@$(CLANG) -O2 -g -fPIE $(PFE_FLAGS) -c $< -o $@

$(BO)/hook_bench: bench/hook_bench.c $(BO)/gen1k.o $(STLIB)
	@echo "  BENCH   $@"
	@$(CC) -std=gnu11 -O2 -Iinclude -o $@ bench/hook_bench.c $(BO)/gen1k.o $(STLIB) $(LIBS)

$(BO)/rec_target: bench/rec_target.c $(BO)/gen1k.o
	@$(CLANG) -O2 -o $@ bench/rec_target.c $(BO)/gen1k.o

# The same 1,000 functions built every way a user could build them.  The
# drivers themselves are never instrumented.
$(BO)/gen1k-%.o: $(BO)/gen1k.c
	@echo "  GEN     $@"
	@case $* in \
	gcc)    $(GCC) -O2 -c $< -o $@ ;; \
	clang)  $(CLANG) -O2 -c $< -o $@ ;; \
	mcount) $(GCC) -O2 $(MCOUNT_FLAGS) -c $< -o $@ ;; \
	gccpfe) $(GCC) -O2 -g -fPIE $(PFE_FLAGS) -c $< -o $@ ;; \
	xray)   $(CLANG) -O2 $(XRAY_FLAGS) -c $< -o $@ ;; \
	pg)     $(GCC) -O2 -pg -c $< -o $@ ;; \
	esac
$(BO)/call_gcc: bench/call_bench.c $(BO)/gen1k-gcc.o
	@$(GCC) -O2 -o $@ $^
$(BO)/call_clang: bench/call_bench.c $(BO)/gen1k-clang.o
	@$(CLANG) -O2 -o $@ $^
$(BO)/call_mcount: bench/call_bench.c $(BO)/gen1k-mcount.o
	@$(GCC) -O2 -fno-pie -no-pie -o $@ $^
$(BO)/call_gccpfe: bench/call_bench.c $(BO)/gen1k-gccpfe.o $(STLIB)
	@$(GCC) -O2 -Iinclude -DPT_BUILD -o $@ bench/call_bench.c $(BO)/gen1k-gccpfe.o $(STLIB) $(LIBS)
$(BO)/call_clangpfe: bench/call_bench.c $(BO)/gen1k.o $(STLIB)
	@$(CLANG) -O2 -Iinclude -DPT_BUILD -o $@ bench/call_bench.c $(BO)/gen1k.o $(STLIB) $(LIBS)
$(BO)/call_xray: bench/call_bench.c $(BO)/gen1k-xray.o
	@$(CLANG) -O2 -DXRAY_BUILD -c bench/call_bench.c -o $@.o
	@$(CLANG) -O2 $(XRAY_FLAGS) -o $@ $@.o $(BO)/gen1k-xray.o
# -pg without gcrt1 (linked plainly): its mcount calls go to glibc's stub,
# or to uftrace's when recorded
$(BO)/call_pg: bench/call_bench.c $(BO)/gen1k-pg.o
	@$(GCC) -O2 -o $@ $^
$(BO)/rec_target_pg: bench/rec_target.c $(BO)/gen1k-pg.o
	@$(GCC) -O2 -o $@ $^
# plain gcc -O2, no site: recorded with -P (relocated entries)
$(BO)/rec_target_plain: bench/rec_target.c $(BO)/gen1k-gcc.o
	@$(GCC) -O2 -o $@ $^

# issue 16: the same 10,000 functions with compiler sites (sb_*) and
# without (nb_*, plain gcc -O2: their entries are relocated)
$(BO)/sb10k.c: tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh tests/gen_funcs.sh 10000 sb > $@
$(BO)/nb10k.c: tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh tests/gen_funcs.sh 10000 nb > $@
$(BO)/sb10k.o: $(BO)/sb10k.c
	@$(CLANG) -O2 -g -fPIE $(PFE_FLAGS) -c $< -o $@
$(BO)/nb10k.o: $(BO)/nb10k.c
	@$(GCC) -O2 -g -fPIE -c $< -o $@
$(BO)/reloc_bench: bench/reloc_bench.c $(BO)/sb10k.o $(BO)/nb10k.o $(STLIB)
	@echo "  BENCH   $@"
	@$(CC) -std=gnu11 -O2 -Iinclude -o $@ bench/reloc_bench.c $(BO)/sb10k.o $(BO)/nb10k.o $(STLIB) $(LIBS)

$(BO)/rdtsc_cost: bench/rdtsc_cost.c
	@$(GCC) -O2 -o $@ $<

BENCH_BINS = $(addprefix $(BO)/,rdtsc_cost patch_bench hook_bench reloc_bench rec_target rec_target_pg rec_target_plain \
	xray_patch_1k xray_patch_10k xray_patch_40k \
	call_gcc call_clang call_mcount call_gccpfe call_clangpfe call_xray call_pg)

# Every binary's folder exists before it is linked (a fresh clone has no build/bench).
$(BENCH_BINS): | $(BO)/.dir
$(BO)/.dir:
	@mkdir -p $(BO) && touch $@

bench: deps
	@bash scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@bash bench/micro.sh $(B)

bench-real: deps
	@bash scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@bash bench/real/run.sh $(B)

.PHONY: bench bench-real

# The readers, this build against a previous one (OLD=path/to/poketrace, or
# none), on a generated trace of READ_MB megabytes and the demo's trace.
READ_MB ?= 256
bench-read: all tests examples
	@rm -rf $(BO)/read-gen $(BO)/read-calc && mkdir -p $(BO)
	@$(T)/gen_trace --big $(BO)/read-gen $(READ_MB) 2 >/dev/null
	@$(CLI) record -o $(BO)/read-calc -- $(EX)/calc 4 1 >/dev/null 2>&1
	@bash bench/read_bench.sh $(CLI) $(if $(OLD),$(OLD),-) $(BO)/read-gen $(BO)/read-calc
