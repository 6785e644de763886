# The bundled example: libkv.so and the programs using it, built with clang
# patch sites.  `make demo` lists their sites and counts calls live.

EX = $(B)/examples
EX_SITES = $(CLANG) -O2 -g -fpatchable-function-entry=5

$(EX)/libkv.so: examples/kv/kv.c examples/kv/kv.h
	@mkdir -p $(EX)
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -fPIC -shared -Iexamples/kv -o $@ $<

$(EX)/kvdemo: examples/kv/kvdemo.c examples/kv/workload.c $(EX)/libkv.so
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -pthread -Iexamples/kv -o $@ examples/kv/kvdemo.c examples/kv/workload.c \
		-L$(EX) -lkv -Wl,-rpath,'$$ORIGIN'

$(EX)/kvserver: examples/kv/kvserver.c $(EX)/libkv.so
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -pthread -Iexamples/kv -o $@ $< -L$(EX) -lkv -Wl,-rpath,'$$ORIGIN'

$(EX)/livecount: examples/livecount.c examples/kv/workload.c $(EX)/libkv.so $(SHLIB)
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -pthread -Iinclude -Iexamples -Iexamples/kv -o $@ examples/livecount.c \
		examples/kv/workload.c -L$(EX) -lkv -L$(B) -lpoketrace \
		-Wl,-rpath,'$$ORIGIN' -Wl,-rpath,'$$ORIGIN/..'

$(EX)/minimal: examples/minimal.c $(SHLIB)
	@mkdir -p $(EX)
	@echo "  EXAMPLE $@"
	@$(CLANG) -O2 -fpatchable-function-entry=5 -Iinclude -o $@ $< -L$(B) -lpoketrace \
		-Wl,-rpath,'$$ORIGIN/..'

$(EX)/libmathx.so: examples/calc/mathx.c examples/calc/mathx.h
	@mkdir -p $(EX)
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -fno-inline -fPIC -shared -o $@ $<

# -fno-inline: every C function stays a function (a tracing build)
CALC_SRCS = examples/calc/main.c examples/calc/lex.c examples/calc/compile.c examples/calc/vm.c \
	examples/calc/fmt.c examples/calc/stats.c examples/calc/disasm.c
$(EX)/calc: $(CALC_SRCS) examples/calc/calc.h $(EX)/libkv.so $(EX)/libmathx.so
	@echo "  EXAMPLE $@"
	@$(EX_SITES) -fno-inline -pthread -Iexamples/kv -Iexamples/calc -o $@ $(CALC_SRCS) -L$(EX) -lkv -lmathx \
		-Wl,-rpath,'$$ORIGIN'

examples: $(EX)/kvdemo $(EX)/kvserver $(EX)/livecount $(EX)/minimal $(EX)/calc

DEMO_DIR = $(B)/demo.trace

demo: deps
	@$(MAKE) --no-print-directory all examples
	@echo; echo "\$$ poketrace sites -q $(EX)/calc   (and its libraries)"
	@$(CLI) sites -q $(EX)/calc; $(CLI) sites -q $(EX)/libkv.so; $(CLI) sites -q $(EX)/libmathx.so
	@echo; echo "\$$ poketrace record -o $(DEMO_DIR) -- $(EX)/calc 4 1"
	@$(CLI) record -o $(DEMO_DIR) -- $(EX)/calc 4 1
	@echo; echo "\$$ poketrace report -n 25 $(DEMO_DIR)"
	@$(CLI) report -n 25 $(DEMO_DIR)
	@echo; echo "\$$ poketrace graph $(DEMO_DIR) vm_run"
	@$(CLI) graph $(DEMO_DIR) vm_run
	@echo; echo "\$$ $(EX)/livecount   (the library API: counting calls live)"
	@$(EX)/livecount
