# poketrace — plain Makefile.  `make` builds the library and the command;
# `make check` installs what is missing (scripts/install-deps.sh) and runs
# every test; `make check-asan` the same under -fsanitize=address,undefined;
# `make check-repeat N=10` the suite ten times, listing every case that failed.

CC      ?= cc
GCC     ?= gcc
CLANG   ?= clang
B       ?= build
SAN     ?=
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wno-missing-field-initializers
BASEFLAGS = -std=gnu11 -fPIC -fvisibility=hidden -D_GNU_SOURCE -I. -Iinclude -I$(B)/gen $(WARN) $(SAN)
LIBS     = -lZydis -ldw -lelf -lgcc_s -lpthread -ldl

VERSION = 0.1.0
SONAME  = libpoketrace.so.0

LIB_SRCS = base/error.c base/arena.c base/fault.c base/maps.c base/ptrset.c base/kvfile.c base/ctlpath.c \
	arch/x86_64/insn.c arch/x86_64/sigguard.c arch/x86_64/sigguard_libc.c arch/x86_64/sync.c \
	arch/x86_64/textwrite.c arch/x86_64/poke.c arch/x86_64/poke_region.c arch/x86_64/trap.c arch/x86_64/execmem.c \
	arch/x86_64/writer.c arch/x86_64/tramp.c arch/x86_64/tramp_regs.c arch/x86_64/tramp_stack.c arch/x86_64/tramp_cfi.c arch/x86_64/saferead.c arch/x86_64/reloc.c \
	arch/x86_64/keep_avx.c \
	core/elfscan.c core/debuginfo.c core/abiclass.c core/proto.c core/module.c core/sites.c \
	core/siteapi.c core/patch.c core/engine.c \
	core/image.c core/pad.c core/gdbjit.c core/reclaim.c core/guard.c core/hooks.c core/links.c core/ops.c core/tracerctl.c \
	core/gotpatch.c core/dynrel.c core/dynsite.c core/relsite.c
CLI_SRCS = cli/main.c cli/cmd_sites.c cli/sites_all.c cli/cmd_record.c cli/cmd_live.c cli/inject.c \
	cli/reader.c cli/reader_files.c cli/tracefiles.c base/names.c cli/calls.c cli/pathtree.c cli/readcmd.c \
	cli/cmd_report.c cli/cmd_graph.c cli/cmd_replay.c cli/cmd_dump.c cli/cmd_info.c
AGENT_SRCS = trace/clock.c trace/tbuf.c trace/ctf.c trace/tracer.c \
	agent/agent.c agent/config.c agent/writer.c agent/modwatch.c agent/dlhook.c agent/select.c agent/select_nosite.c \
	agent/control.c agent/threads.c agent/exec_exit.c agent/vfork.c base/names.c

LIB_OBJS = $(LIB_SRCS:%.c=$(B)/obj/%.o)
CLI_OBJS = $(CLI_SRCS:%.c=$(B)/obj/%.o)
AGENT_OBJS = $(AGENT_SRCS:%.c=$(B)/obj/%.o)
HDRS = $(wildcard include/*.h base/*.h arch/x86_64/*.h core/*.h trace/*.h agent/*.h cli/*.h)

SHLIB  = $(B)/libpoketrace.so.$(VERSION)
STLIB  = $(B)/libpoketrace.a
CLI    = $(B)/poketrace
AGENT  = $(B)/libpoketrace-agent.so

# Keep generated intermediates (objects of pattern rules, generated C).
.SECONDARY:

.PHONY: all deps check check-asan check-repeat demo bench clean tests examples bench-read install uninstall
all: $(SHLIB) $(STLIB) $(CLI) $(AGENT)

# The interposed names, X(name) each, for arch/x86_64/sigguard_libc.c, in
# strcmp order (sigguard_interposer looks them up by bsearch).
$(B)/gen/interposed.inc: arch/x86_64/interposed.syms Makefile
	@mkdir -p $(dir $@)
	@LC_ALL=C sort $< | sed 's/.*/X(&)/' > $@
$(B)/obj/arch/x86_64/sigguard_libc.o: $(B)/gen/interposed.inc

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

# The version scripts, with the list of interposed signal calls filled in.
MAPGEN = sed -e '/@INTERPOSED@/{r arch/x86_64/interposed.syms' -e 'd}' $< | \
	sed -e 's/^\([_a-z][_a-z0-9]*\)$$/\t\t\1;/' > $@
$(B)/libpoketrace.map: libpoketrace.map arch/x86_64/interposed.syms
	@mkdir -p $(B)
	@$(MAPGEN)
$(B)/agent.map: agent/agent.map arch/x86_64/interposed.syms
	@mkdir -p $(B)
	@$(MAPGEN)

$(SHLIB): $(LIB_OBJS) $(B)/libpoketrace.map
	@echo "  LD      $@"
	@$(CC) -shared $(SAN) -Wl,-soname,$(SONAME) -Wl,--version-script=$(B)/libpoketrace.map \
		-Wl,-z,now -o $@ $(LIB_OBJS) $(LIBS)
	@ln -sf libpoketrace.so.$(VERSION) $(B)/$(SONAME)
	@ln -sf $(SONAME) $(B)/libpoketrace.so

$(STLIB): $(LIB_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $(LIB_OBJS)

$(CLI): $(CLI_OBJS) $(STLIB)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $(CLI_OBJS) $(STLIB) $(LIBS) -liberty

$(AGENT): $(AGENT_OBJS) $(LIB_OBJS) $(B)/agent.map
	@echo "  LD      $@"
	@$(CC) -shared $(SAN) -Wl,--version-script=$(B)/agent.map -Wl,-z,now -o $@ \
		$(AGENT_OBJS) $(LIB_OBJS) $(LIBS) -liberty

deps:
	@bash scripts/install-deps.sh

include tests/tests.mk
include examples/examples.mk
include bench/bench.mk

check: deps
	@$(MAKE) --no-print-directory all tests
	@bash tests/run.sh $(B)

check-asan: deps
	@$(MAKE) --no-print-directory B=build-asan CFLAGS="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		all tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		bash tests/run.sh build-asan

# `make check-repeat N=10`: the suite N times, every case that failed once.
N ?= 5
check-repeat: deps
	@$(MAKE) --no-print-directory all tests
	@bash tests/repeat.sh $(B) $(N)

# --- installation: `make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu DESTDIR=...`
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
COMPDIR    ?= $(PREFIX)/share/bash-completion/completions
PCDIR      ?= $(LIBDIR)/pkgconfig
MANCMDS     = record report graph replay dump info live attach detach sites

$(B)/poketrace.pc: poketrace.pc.in Makefile
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LIBS)|' $< > $@
$(B)/man/poketrace.1: $(CLI) scripts/mkman.sh
	@bash scripts/mkman.sh $(CLI) $(B)/man $(VERSION)

install: all $(B)/poketrace.pc $(B)/man/poketrace.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(COMPDIR) $(DESTDIR)$(PCDIR)
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/poketrace
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libpoketrace.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpoketrace.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(AGENT) $(DESTDIR)$(LIBDIR)/
	install -m 644 include/poketrace.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/poketrace.pc $(DESTDIR)$(PCDIR)/
	install -m 644 $(B)/man/poketrace.1 $(MANCMDS:%=$(B)/man/poketrace-%.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 scripts/poketrace.bash $(DESTDIR)$(COMPDIR)/poketrace

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/poketrace $(DESTDIR)$(LIBDIR)/libpoketrace.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libpoketrace.so $(DESTDIR)$(LIBDIR)/libpoketrace.a \
		$(DESTDIR)$(LIBDIR)/libpoketrace-agent.so $(DESTDIR)$(INCLUDEDIR)/poketrace.h \
		$(DESTDIR)$(PCDIR)/poketrace.pc $(DESTDIR)$(MANDIR)/man1/poketrace.1 \
		$(MANCMDS:%=$(DESTDIR)$(MANDIR)/man1/poketrace-%.1) $(DESTDIR)$(COMPDIR)/poketrace

clean:
	rm -rf build build-asan
