# The differential ABI conformance corpus (issue 12, tests/abi/gen.c).
# A configuration is COMPILER-LEVEL[-g][-ISA]: gcc or clang, O0/O2/O3, with
# or without debug information (with it, images trust certain prototypes;
# without, they take the conservative path), and optionally -mavx2 or
# -mavx512f (run only where the CPU has them).  Each is built for C and C++
# from the same seeds: $(B)/abi/CFG/LANG/abi_run (every hook kind in
# process) and abi_plain (for `poketrace record`).
#   make check       a subset (ABI_SUBSET, small corpora), in tests/t_abi_corpus.sh
#   make check-abi   every configuration, full size (tests/abi/run.sh)

ABI_DIR   = $(B)/abi
ABI_GEN   = $(ABI_DIR)/gen
ABI_SEED_C   = 12
ABI_SEED_CXX = 13
ABI_N_C      = 800
ABI_N_CXX    = 400
ABI_SUB_N_C  = 100
ABI_SUB_N_CXX = 50

ABI_LEVELS = O0 O2 O3
ABI_FULL = $(foreach c,gcc clang,$(foreach o,$(ABI_LEVELS),$(c)-$(o)-g $(c)-$(o))) \
	gcc-O2-g-avx2 clang-O2-g-avx2 gcc-O2-g-avx512 clang-O3-g-avx512
ABI_SUBSET = gcc-O2-g clang-O2-g gcc-O3 clang-O0-g

abi_cc    = $(if $(filter gcc,$(word 1,$(subst -, ,$(1)))),$(if $(filter cxx,$(2)),$(CXX),$(GCC)),$(if $(filter cxx,$(2)),$(CLANGXX),$(CLANG)))
abi_fam   = $(word 1,$(subst -, ,$(1)))
abi_flags = -$(word 2,$(subst -, ,$(1))) $(if $(filter g,$(subst -, ,$(1))),-g) \
	$(if $(filter avx2,$(subst -, ,$(1))),-mavx2) $(if $(filter avx512,$(subst -, ,$(1))),-mavx512f) \
	$(if $(filter gcc,$(call abi_fam,$(1))),-Wno-psabi) -fPIE $(PFE_FLAGS) -w -Itests
abi_ext   = $(if $(filter cxx,$(1)),cc,c)

$(ABI_GEN): tests/abi/gen.c
	@mkdir -p $(ABI_DIR)
	@$(CC) -O1 -Wall -Wextra -Wno-missing-field-initializers -o $@ $<

$(ABI_DIR)/runner.o: tests/abi/runner.c tests/abi/corpus.h tests/clobber.h include/poketrace.h
	@mkdir -p $(ABI_DIR)
	@$(CC) $(TESTCFLAGS) -c $< -o $@
$(ABI_DIR)/plain.o: tests/abi/plain.c tests/abi/corpus.h
	@mkdir -p $(ABI_DIR)
	@$(CC) -O1 -g -Itests -c $< -o $@

# $(1) family, $(2) lang, $(3) size name (full/sub), $(4) functions, $(5) seed
define abi_source
$(ABI_DIR)/$(3)/src/$(2)-$(1).$(call abi_ext,$(2)): $(ABI_GEN)
	@mkdir -p $$(dir $$@)
	@$(ABI_GEN) $(5) $(4) $(2) $(1) > $$@
endef

# $(1) config, $(2) lang, $(3) size name (full/sub), $(4) functions
define abi_build
$(ABI_DIR)/$(3)/$(1)/$(2)/corpus.o: $(ABI_DIR)/$(3)/src/$(2)-$(call abi_fam,$(1)).$(call abi_ext,$(2)) tests/abi/corpus.h tests/clobber.h
	@mkdir -p $$(dir $$@)
	@echo "  ABI     $$@ ($(4) functions)"
	@$(call abi_cc,$(1),$(2)) $(call abi_flags,$(1)) -c $$< -o $$@
$(ABI_DIR)/$(3)/$(1)/$(2)/abi_run: $(ABI_DIR)/$(3)/$(1)/$(2)/corpus.o $(ABI_DIR)/runner.o $(STLIB)
	@$(call abi_cc,$(1),cxx) $(SAN) -o $$@ $$< $(ABI_DIR)/runner.o $(TESTLIBS)
$(ABI_DIR)/$(3)/$(1)/$(2)/abi_plain: $(ABI_DIR)/$(3)/$(1)/$(2)/corpus.o $(ABI_DIR)/plain.o
	@$(call abi_cc,$(1),cxx) -o $$@ $$< $(ABI_DIR)/plain.o
endef

abi_n    = $(if $(filter sub,$(2)),$(if $(filter cxx,$(1)),$(ABI_SUB_N_CXX),$(ABI_SUB_N_C)),$(if $(filter cxx,$(1)),$(ABI_N_CXX),$(ABI_N_C)))
abi_seed = $(if $(filter cxx,$(1)),$(ABI_SEED_CXX),$(ABI_SEED_C))
$(foreach s,full sub,$(foreach f,gcc clang,$(foreach l,c cxx,$(eval $(call abi_source,$(f),$(l),$(s),$(call abi_n,$(l),$(s)),$(call abi_seed,$(l)))))))
$(foreach c,$(ABI_FULL),$(foreach l,c cxx,$(eval $(call abi_build,$(c),$(l),full,$(call abi_n,$(l),full)))))
$(foreach c,$(ABI_SUBSET),$(foreach l,c cxx,$(eval $(call abi_build,$(c),$(l),sub,$(call abi_n,$(l),sub)))))

ABI_SUB_BINS  = $(foreach c,$(ABI_SUBSET),$(foreach l,c cxx,$(ABI_DIR)/sub/$(c)/$(l)/abi_run $(ABI_DIR)/sub/$(c)/$(l)/abi_plain))
ABI_FULL_BINS = $(foreach c,$(ABI_FULL),$(foreach l,c cxx,$(ABI_DIR)/full/$(c)/$(l)/abi_run $(ABI_DIR)/full/$(c)/$(l)/abi_plain))

tests: $(ABI_SUB_BINS)

# One configuration at a time, built, run and deleted (a full-size corpus
# with -g is ~50 MB per configuration and language; disks here are small).
.PHONY: check-abi abi-corpus
abi-corpus: $(ABI_FULL_BINS)
abi-config-%:
	@$(MAKE) --no-print-directory $(foreach l,c cxx,$(ABI_DIR)/full/$*/$(l)/abi_run $(ABI_DIR)/full/$*/$(l)/abi_plain)
check-abi: deps
	@$(MAKE) --no-print-directory all tests
	@ABI_BUILD="nice $(MAKE) --no-print-directory -j2" bash tests/abi/run.sh $(B) full $(ABI_FULL)
