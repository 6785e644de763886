/* poketrace sites: the patch sites of a file, or of a running process. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/names.h"
#include "cli/cli.h"
#include "cli/sites_all.h"
#include "core/module.h"

static const char usage[] =
	"usage: poketrace sites [-a] [-s GLOB] [-q] PROG\n"
	"       poketrace sites [-a] [-s GLOB] [-q] -p PID\n"
	"\n"
	"Lists patch sites: module, address, kind, symbol, then a summary line.\n"
	"For PROG, the addresses are the file's link-time addresses; with -p, the\n"
	"run-time addresses in process PID, whose loaded modules are read from\n"
	"/proc/PID/maps and whose site bytes from /proc/PID/mem (or, where that is\n"
	"not permitted, from the files).\n"
	"\n"
	"kinds: mcount (gcc -mnop-mcount), pfe-nop5 (clang -fpatchable-function-entry),\n"
	"pfe-gcc (gcc -fpatchable-function-entry: five 1-byte nops, made one 5-byte nop\n"
	"by poketrace_init while the process is single-threaded), unknown (never patched).\n"
	"\n"
	"  -a, --all every function (.symtab, else .dynsym) and how it can be hooked:\n"
	"            site (its compiler site), reloc (its first instructions can be\n"
	"            relocated: N bytes), or refused (why); then a summary by reason\n"
	"  -s GLOB   only functions whose name matches GLOB\n"
	"  -q        only the summary line\n"
	"  -p PID    a running process\n"
	"\n"
	"exit status: 0 sites listed, 1 no sites or an error, 2 bad usage\n";

struct totals {
	size_t sites, modules, patchable, gcc, bad, listed;
};

/* -a: every function is judged instead of the sites listed */
static struct sites_all_totals *all;

struct proc_reader {
	int memfd;
	struct es_file *file;
	uintptr_t bias;
	int mem_failed;
};

static int read_file(void *ctx, uintptr_t addr, void *buf, size_t n)
{
	struct proc_reader *p = ctx;

	return es_read(p->file, addr - p->bias, buf, n);
}

static int read_proc(void *ctx, uintptr_t addr, void *buf, size_t n)
{
	struct proc_reader *p = ctx;

	if (p->memfd >= 0 && pread(p->memfd, buf, n, (off_t)addr) == (ssize_t)n)
		return 0;
	p->mem_failed = 1;
	return read_file(ctx, addr, buf, n);
}

/* A glob against the mangled, full and simple names (-s 'ns::C::*'), with
 * an optional module ("libkv.so:kv_*"). */
static bool symbol_matches(const char *module, const char *sym, const char *glob)
{
	char *name[3], mod[256];
	bool hit;

	glob = names_split_module(glob, mod, sizeof(mod));
	if (!names_module_match(mod, module))
		return false;
	if (!fnmatch(glob, sym, 0))
		return true;
	if (strncmp(sym, "_Z", 2))
		return false;
	names_make(sym, name);
	hit = names_match(name, glob);
	names_free(name);
	return hit;
}

static void list_module(const struct pt_module *m, const char *glob, int quiet, struct totals *t)
{
	if (m->nsites)
		t->modules++;
	for (size_t i = 0; i < m->nsites; i++) {
		const struct pt_site *s = &m->sites[i];

		if (glob && (!s->symbol || !symbol_matches(m->name, s->symbol, glob)))
			continue;
		t->sites++;
		if (s->flags & SITE_NEEDS_NORMALIZE)
			t->gcc++;
		else if (s->flags & POKETRACE_SITE_UNPATCHABLE)
			t->bad++;
		else
			t->patchable++;
		if (quiet)
			continue;
		printf("%-24s %#14lx  %-8s %s%s\n", m->name, (unsigned long)s->addr,
		       site_kind_name(s->kind), s->symbol ? s->symbol : "?",
		       (s->flags & POKETRACE_SITE_ENDBR) ? "  [endbr64]" : "");
	}
}

static int scan(const char *path, uintptr_t bias, int memfd, const char *glob, int quiet,
		struct totals *t)
{
	struct es_file f;
	struct pt_module m;
	struct proc_reader rd = { memfd, &f, bias, 0 };
	int r = es_open(path, &f);

	if (r < 0)
		return r;
	if (f.type == ET_EXEC)
		rd.bias = bias = 0;
	r = module_build(&m, &f, bias, memfd >= 0 ? read_proc : read_file, &rd);
	if (r < 0)
		return r;
	if (all) {
		/* module_build consumed f: the functions' bytes from a second open */
		struct es_file g;

		if ((r = es_open(path, &g)) < 0) {
			module_free(&m);
			return r;
		}
		rd.file = &g;
		r = sites_all_module(&m, memfd >= 0 ? read_proc : read_file, &rd, glob, quiet, all);
		es_close(&g);
	} else
		list_module(&m, glob, quiet, t);
	if (rd.mem_failed && (m.nsites || all) && !quiet)
		fprintf(stderr, "poketrace: %s: /proc/PID/mem not readable, site bytes taken from the file\n",
			m.name);
	module_free(&m);
	return r;
}

/* Each file mapped with offset 0, once: its first mapping is its load base. */
static int scan_pid(long pid, const char *glob, int quiet, struct totals *t)
{
	char path[64], line[4096 + 128], seen_last[4096] = "";
	FILE *maps;
	int memfd;

	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	maps = fopen(path, "re");
	if (!maps) {
		cli_error("cannot read %s: %s (is %ld a running process of yours?)", path,
			  strerror(errno), pid);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, off;
		char file[4096];
		struct es_file probe;

		file[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095[^\n]", &start, &end, &off, file) < 3)
			continue;
		if (off != 0 || file[0] != '/' || !strcmp(file, seen_last))
			continue;
		snprintf(seen_last, sizeof(seen_last), "%s", file);
		if (es_open(file, &probe) < 0)
			continue; /* not an ELF file (a data file mapped at 0) */
		{
			uint64_t low = UINT64_MAX;

			for (size_t i = 0; i < probe.nsegs; i++)
				if (probe.segs[i].vaddr < low)
					low = probe.segs[i].vaddr;
			es_close(&probe);
			if (scan(file, start - (low & ~0xfffUL), memfd, glob, quiet, t) < 0)
				fprintf(stderr, "poketrace: %s\n", pt_error_msg());
		}
	}
	fclose(maps);
	if (memfd >= 0)
		close(memfd);
	return 0;
}

long sites_of_pid(long pid)
{
	struct totals t = { 0 };

	return scan_pid(pid, NULL, 1, &t) ? -1 : (long)t.patchable + (long)t.gcc;
}

int cmd_sites(int argc, char **argv)
{
	const char *glob = NULL;
	long pid = 0;
	int quiet = 0, c;
	struct totals t = { 0 };
	struct sites_all_totals at = { 0 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "ahqs:p:", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'q':
			quiet = 1;
			break;
		case 'a':
			all = &at;
			break;
		case 's':
			glob = optarg;
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				cli_error("-p needs a process id, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if ((pid && optind != argc) || (!pid && optind != argc - 1)) {
		cli_error(pid ? "give either PROG or -p PID, not both" : "sites needs PROG or -p PID");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!quiet)
		printf("%-24s %14s  %-8s %s\n", "MODULE", "ADDRESS", all ? "HOW" : "KIND", "SYMBOL");
	if (pid) {
		if (scan_pid(pid, glob, quiet, &t))
			return 1;
	} else if (scan(argv[optind], 0, -1, glob, quiet, &t) < 0) {
		cli_error("%s", pt_error_msg());
		return 1;
	}
	if (all) {
		sites_all_summary(&at);
		if (at.functions == 0) {
			cli_error("no function symbol%s%s: a stripped file names none (.symtab and .dynsym); "
				  "install its debug symbols or use an unstripped build", glob ? " matches " : "",
				  glob ? glob : "");
			return 1;
		}
		if (at.compiler + at.relocatable == 0) {
			cli_error("no function%s%s can be hooked", glob ? " matching " : "", glob ? glob : "");
			return 1;
		}
		return 0;
	}
	printf("%zu sites in %zu module%s: %zu patchable, %zu gcc nops (normalized when "
	       "poketrace_init runs single-threaded), %zu unrecognized\n",
	       t.sites, t.modules, t.modules == 1 ? "" : "s", t.patchable, t.gcc, t.bad);
	if (t.sites == 0) {
		cli_error("no patch sites%s%s: build with clang -fpatchable-function-entry=5, gcc "
			  "-fpatchable-function-entry=5, or gcc -pg -mfentry -mnop-mcount "
			  "-mrecord-mcount (non-PIE)", glob ? " match " : "", glob ? glob : "");
		return 1;
	}
	return 0;
}
