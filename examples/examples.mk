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

examples: $(EX)/kvdemo $(EX)/livecount $(EX)/minimal

demo: deps
	@$(MAKE) --no-print-directory all examples
	@echo; echo "\$$ poketrace sites $(EX)/kvdemo"
	@$(CLI) sites $(EX)/kvdemo
	@echo; echo "\$$ poketrace sites $(EX)/libkv.so"
	@$(CLI) sites $(EX)/libkv.so
	@echo; echo "\$$ $(EX)/livecount"
	@$(EX)/livecount
