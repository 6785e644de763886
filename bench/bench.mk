# `make bench`: benchmarks (they measure; they assert nothing).

BO = $(B)/bench

$(BO)/gen40k.c: tests/gen_funcs.sh
	@mkdir -p $(BO)
	@sh tests/gen_funcs.sh 40000 bf > $@
$(BO)/gen40k.o: $(BO)/gen40k.c
	@echo "  GEN     $@ (40,000 functions)"
	@$(GCC) -O1 $(MCOUNT_FLAGS) -c $< -o $@

$(BO)/patch_bench: bench/patch_bench.c bench/tramp.S $(BO)/gen40k.o $(STLIB)
	@echo "  BENCH   $@"
	@$(CC) -std=gnu11 -O2 -Iinclude -fno-pie -no-pie -o $@ bench/patch_bench.c bench/tramp.S \
		$(BO)/gen40k.o $(STLIB) $(LIBS)

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

bench: deps
	@$(MAKE) --no-print-directory all $(BO)/patch_bench $(BO)/hook_bench $(BO)/rec_target
	@echo "machine: $$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $$(uname -r), $$(date -u +%Y-%m-%d)"
	@$(BO)/patch_bench
	@echo
	@$(BO)/hook_bench
	@echo
	@bash bench/record_bench.sh $(B)
