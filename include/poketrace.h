/* SPDX-License-Identifier: MIT */
/*
 * poketrace — live patching of compiler-made function-entry sites in a running,
 * multi-threaded x86-64 Linux process, the way the kernel's text_poke_bp does it.
 *
 * Conventions (as in libbpf):
 *   - every exported name starts with poketrace_ / POKETRACE_;
 *   - functions return 0 (or a count) on success and a negative errno on failure;
 *     poketrace_last_error() then says, for the calling thread, what was wrong
 *     and what to do;
 *   - nothing here aborts the host program.
 *
 * Patch sites
 * -----------
 * A site is the 5-byte nop a compiler puts at a function's entry:
 *   gcc   -pg -mfentry -mnop-mcount -mrecord-mcount  (non-PIE only)  0f 1f 44 00 00, listed in __mcount_loc
 *   clang -fpatchable-function-entry=5                               0f 1f 44 00 08, listed in __patchable_function_entries
 *   gcc   -fpatchable-function-entry=5  (or =5,0)                    90 90 90 90 90, same list
 *         (=M,N: N of the M nops before the entry, which the list names; the
 *         site is at the entry, and needs M-N >= 5)
 * With -fcf-protection the site follows an endbr64 (the listed address already
 * points past it; an endbr64 at a listed address is stepped over).
 *
 * THE RULE FOR gcc's FIVE ONE-BYTE NOPS.  Five nops are five instructions: a
 * thread may have executed two of them and be about to execute the third.
 * Rewriting them into one 5-byte instruction under such a thread would make it
 * execute the middle of the new instruction.  poketrace therefore rewrites them
 * into the single 5-byte nop 0f 1f 44 00 00 ("normalizes" them) only while the
 * process has exactly one thread — then the caller is that thread and is not
 * inside any of them, and no other thread can appear meanwhile.  That happens in
 * poketrace_init() and in every later table refresh that runs single-threaded.
 * A module with such sites that is first seen while several threads run (for
 * example one dlopen'ed by a multi-threaded program) keeps them as they are:
 * they are listed with POKETRACE_SITE_UNPATCHABLE and reason
 * POKETRACE_REASON_GCC_NOPS_THREADED and every attempt to patch them fails with
 * -EPERM.  Call poketrace_init() before creating threads, or use clang or
 * -mnop-mcount, to avoid that.
 *
 * Patching protocol
 * -----------------
 * A batch of site changes is committed with the breakpoint protocol: int3 over
 * the first byte of every site, sync all cores, write bytes 1-4, sync, write the
 * first bytes, sync (sync = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE),
 * or, on kernels without it, a signal to every thread that executes CPUID).
 * A thread that executes one of those int3 meanwhile is made to execute the NEW
 * instruction being written: `call T` pushes site+5 and continues at T, `jmp T`
 * continues at T, a nop continues at site+5.
 *
 * Signals
 * -------
 * A thread with SIGTRAP blocked, or SIGTRAP's handler replaced, that hits an
 * int3 kills the process.  So while this library is loaded (1) it interposes
 * every glibc 2.36 function that sets a mask or a handler (sigaction, signal,
 * sigset, sigprocmask, pthread_sigmask, sigsuspend, ppoll, pselect,
 * epoll_pwait, setcontext, pthread_attr_setsigmask_np, SIGEV_THREAD
 * callbacks, syscall() and the rest: README "Signals"): SIGTRAP and the
 * engine's signal (SIGRTMAX-2, or sync_signal) are taken out of every mask,
 * and a SIGTRAP handler the program installs is kept and called by
 * poketrace's own, with its sa_mask and SA_ONSTACK, for every trap that is
 * not one of poketrace's sites (sigaction(SIGTRAP, NULL, &old) returns the
 * program's handler); loaded late (dlopen, poketrace attach) it points the
 * program's GOT slots of those functions at its interposers; and (2) before
 * every batch it checks each thread's real mask and the kernel's handlers,
 * repairs what a raw system call or a late load left (the engine's signal
 * unblocks SIGTRAP in a thread), and refuses the batch with -EDEADLK,
 * writing nothing, when a running thread blocks both SIGTRAP and the
 * engine's signal.  A mask changed by a raw system call during a batch
 * (after its check) is not seen.
 *
 * Commits
 * -------
 * A batch is all or nothing: on success every site has its new bytes; on
 * failure (a negative errno) every site has its old bytes, whatever step
 * failed.  A call that changes code made from inside another poketrace call
 * of the same thread (a signal handler) returns -EDEADLK.
 */
#ifndef POKETRACE_H
#define POKETRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POKETRACE_API __attribute__((visibility("default")))

#define POKETRACE_VERSION_MAJOR 0
#define POKETRACE_VERSION_MINOR 1
#define POKETRACE_VERSION_PATCH 0

/* "0.1.0": the version of the library actually loaded. */
POKETRACE_API const char *poketrace_version(void);

/* ------------------------------------------------------------------ errors */

/* What the last failing call of this thread was about, and what to do.
 * Never NULL; "" when nothing failed yet. */
POKETRACE_API const char *poketrace_last_error(void);

/* -------------------------------------------------------------------- init */

enum poketrace_sync_mode {
	POKETRACE_SYNC_AUTO = 0,     /* membarrier SYNC_CORE, else signals */
	POKETRACE_SYNC_MEMBARRIER,   /* membarrier SYNC_CORE or fail */
	POKETRACE_SYNC_SIGNAL,       /* a signal to every thread, which runs CPUID */
};

enum poketrace_write_mode {
	POKETRACE_WRITE_AUTO = 0,    /* RWX window, else /proc/self/mem */
	POKETRACE_WRITE_MPROTECT,    /* mprotect(RWX) window per page range */
	POKETRACE_WRITE_PROCMEM,     /* pwrite to /proc/self/mem; pages keep R-X */
};

struct poketrace_init_opts {
	size_t sz;                        /* sizeof(struct poketrace_init_opts) */
	enum poketrace_sync_mode sync;    /* env POKETRACE_SYNC=membarrier|signal overrides */
	enum poketrace_write_mode write;  /* env POKETRACE_WRITE=mprotect|procmem overrides */
	int sync_signal;                  /* signal of the signal fallback; 0: SIGRTMAX-2 */
};

/* Builds the site table of every loaded module and makes the engine ready.
 * opts may be NULL.  Calling it again returns 0 and changes nothing. */
POKETRACE_API int poketrace_init(const struct poketrace_init_opts *opts);

/* ------------------------------------------------------------------- sites */

enum poketrace_site_kind {
	POKETRACE_SITE_MCOUNT = 1,   /* gcc -mnop-mcount: 0f 1f 44 00 00 */
	POKETRACE_SITE_PFE_CLANG,    /* clang -fpatchable-function-entry: 0f 1f 44 00 08 */
	POKETRACE_SITE_PFE_GCC,      /* gcc -fpatchable-function-entry: 90 x5 */
	POKETRACE_SITE_UNKNOWN,      /* listed, but the bytes are no nop we know */
	POKETRACE_SITE_RELOC,        /* no compiler site: made by relocating the function's first
					instructions, when a link asked for it (bytes: its own) */
};

enum poketrace_site_flags {
	POKETRACE_SITE_ENDBR = 1u << 0,       /* an endbr64 precedes the site */
	POKETRACE_SITE_NORMALIZED = 1u << 1,  /* gcc's 90 x5 became one 5-byte nop */
	POKETRACE_SITE_UNPATCHABLE = 1u << 2, /* see reason */
	POKETRACE_SITE_PATCHED = 1u << 3,     /* currently not a nop (call or jmp) */
};

enum poketrace_site_reason {
	POKETRACE_REASON_NONE = 0,
	POKETRACE_REASON_BAD_BYTES,          /* not a recognized nop: never patched */
	POKETRACE_REASON_GCC_NOPS_THREADED,  /* 90 x5 seen while several threads ran */
	POKETRACE_REASON_NOT_TEXT,           /* not in an executable, read-only segment */
	POKETRACE_REASON_SHORT_NOPS,         /* fewer than 5 nop bytes at the entry (=M,N with M-N < 5) */
};

struct poketrace_site {
	uintptr_t addr;          /* the 5-byte site (after any endbr64) */
	uintptr_t func;          /* the function's address (the symbol's value) */
	const char *symbol;      /* function name, or NULL if no symbol covers it */
	const char *module;      /* path of the module ("" for the main program if unnamed) */
	enum poketrace_site_kind kind;
	unsigned flags;          /* enum poketrace_site_flags */
	enum poketrace_site_reason reason;
	uint8_t bytes[5];        /* what poketrace last wrote or found there */
};

/* Number of sites in the table (patchable or not), after refreshing it if
 * modules were loaded or unloaded since it was last built. */
POKETRACE_API long poketrace_site_count(void);

/* The site at addr — the site address itself, or the function's address
 * (before an endbr64).  O(log n).  -ENOENT if addr is no site. */
POKETRACE_API int poketrace_site_lookup(uintptr_t addr, struct poketrace_site *out);

/* Calls cb for every site whose symbol matches sym_glob and whose module path
 * (or its file name) matches mod_glob, in address order; fnmatch(3) globs,
 * NULL matches everything.  cb returning non-zero stops the walk and that value
 * is returned; otherwise the number of sites visited.  The strings in *site
 * stay valid until the module is unloaded.  cb may call poketrace_site_lookup
 * but must not patch. */
typedef int (*poketrace_site_cb)(const struct poketrace_site *site, void *ctx);
POKETRACE_API long poketrace_sites_foreach(const char *sym_glob, const char *mod_glob,
					   poketrace_site_cb cb, void *ctx);

/* Functions without a compiler site.  A link on one (by name or address)
 * makes its site by relocating its first instructions (kind
 * POKETRACE_SITE_RELOC) when that is safe; poketrace_site_make makes it
 * now, without a link: then it is in the table like any site, for
 * poketrace_links_attach batches.  -errno, the reason in
 * poketrace_last_error(), when the function cannot be relocated (a branch
 * into its first bytes, a jump table, one of poketrace's own imports ...). */
POKETRACE_API int poketrace_site_make(uintptr_t func, struct poketrace_site *out);

/* Every function of every loaded module (its symbol table: .symtab, else
 * .dynsym), with or without a site, whose name matches sym_glob and whose
 * module path or file name matches mod_glob (NULL: all).  Like
 * poketrace_sites_foreach: cb must not patch (nor make sites). */
struct poketrace_function {
	uintptr_t addr;
	size_t size;
	const char *symbol, *module;
	int has_site;            /* 1: a compiler site, or one made already */
};
typedef int (*poketrace_function_cb)(const struct poketrace_function *fn, void *ctx);
POKETRACE_API long poketrace_functions_foreach(const char *sym_glob, const char *mod_glob,
					       poketrace_function_cb cb, void *ctx);

/* ---------------------------------------------------------------- patching */

struct poketrace_batch_stats {
	size_t sites;             /* sites written */
	unsigned syncs;           /* core syncs issued (3 per batch) */
	unsigned ranges;          /* contiguous page ranges made writable */
	unsigned mprotects;       /* mprotect calls (2 per range; 0 with /proc/self/mem) */
	uint64_t traps;           /* int3 traps emulated while this batch was in flight */
	uint64_t ns;              /* wall time of the commit */
};

enum poketrace_insn_kind {
	POKETRACE_INSN_NOP = 0,   /* back to a 5-byte nop */
	POKETRACE_INSN_CALL,      /* call target (rel32) */
	POKETRACE_INSN_JMP,       /* jmp target (rel32) */
};

struct poketrace_patch {
	uintptr_t site;           /* a site address (or its function's address) */
	enum poketrace_insn_kind insn;
	const void *target;       /* for CALL/JMP: within ±2 GiB of site+5 */
};

/* Changes every listed site, in one batch.  Each site's current bytes must be
 * what poketrace last wrote there (or found); any error — unknown site,
 * unpatchable site, target out of reach, a site listed twice, bytes changed
 * behind poketrace's back — fails the whole batch and writes nothing. */
POKETRACE_API int poketrace_patch(const struct poketrace_patch *patches, size_t n,
				  struct poketrace_batch_stats *stats);

/* Raw batch: the caller states, per site, the 5 bytes expected there now and
 * the 5 bytes to write: a 5-byte nop, e8 rel32 or e9 rel32.  Commit checks every
 * site first; one mismatch fails the batch and nothing is written. */
struct poketrace_batch;
POKETRACE_API struct poketrace_batch *poketrace_batch_new(void);
POKETRACE_API int poketrace_batch_add(struct poketrace_batch *b, uintptr_t site,
				      const uint8_t expect[5], const uint8_t bytes[5]);
POKETRACE_API int poketrace_batch_commit(struct poketrace_batch *b,
					 struct poketrace_batch_stats *stats);
POKETRACE_API void poketrace_batch_free(struct poketrace_batch *b);

/* Encodes `call target` / `jmp target` / nop for a site.  -ERANGE if the
 * target is beyond rel32 reach of site+5. */
POKETRACE_API int poketrace_encode(enum poketrace_insn_kind insn, uintptr_t site,
				   const void *target, uint8_t out[5]);

/* -------------------------------------------------------- executable memory */

/* size bytes of executable memory (filled with int3) whose every byte is
 * within rel32 reach of every site of the module containing `near` (or of
 * `near` itself if it is in no module).  The memory is R-X: fill it with
 * poketrace_execmem_write.  16-byte aligned. */
POKETRACE_API int poketrace_execmem_alloc(const void *near, size_t size, void **out);
/* Copies code into memory from poketrace_execmem_alloc that no thread runs yet. */
POKETRACE_API int poketrace_execmem_write(void *dst, const void *src, size_t len);
POKETRACE_API int poketrace_execmem_free(void *p);

/* ------------------------------------------------------------------ hooks */

/* What poketrace knows of a hooked function; constant while a handler runs. */
struct poketrace_fn {
	uintptr_t addr;          /* the function */
	uintptr_t site;          /* its patch site */
	const char *symbol;      /* "?" if no symbol covers it */
	const char *module;
	uint8_t nargs;           /* integer argument registers saved in ctx->args */
	uint8_t nfargs;          /* SSE argument registers saved in ctx->xmm */
	uint8_t flags;           /* enum poketrace_fn_flags */
};

enum poketrace_fn_flags {
	POKETRACE_FN_PROTO = 1u << 0,      /* prototype read from DWARF */
	POKETRACE_FN_VARARGS = 1u << 1,
	POKETRACE_FN_STACK_ARGS = 1u << 2, /* some arguments are passed on the stack */
	POKETRACE_FN_RET_SSE = 1u << 3,    /* returns in xmm0 (float, double) */
	/* The prototype is certain: the image saves only the registers and
	 * stack bytes it uses (see "The rule" under links).  Without it, the
	 * image saves everything a call can be passed in. */
	POKETRACE_FN_EXACT = 1u << 4,
};

/* The context handed to ctx-form handlers.  args/xmm hold the argument
 * registers as the function received them (only the first fn->nargs and
 * fn->nfargs are saved; all six and eight when the prototype is not
 * certain; xmm holds their low 128 bits); fret holds xmm0-1 of the return,
 * or st0 (and st1) as 80-bit values for a certain long double return;
 * stack points at the arguments the caller passed on the stack. */
struct poketrace_ctx {
	const struct poketrace_fn *fn;
	void *data;               /* the link's or the ops' user data */
	uintptr_t caller;         /* return address into the caller */
	const uint64_t *stack;    /* stack[0]: the first stack-passed argument */
	uint64_t args[6];         /* rdi, rsi, rdx, rcx, r8, r9 */
	uint64_t rax;             /* at entry (al: vector registers of a varargs call) */
	uint64_t ret, ret2;       /* fexit, fmod_ret: rax, rdx of the return */
	uint64_t xmm[8][2];       /* xmm0-7 at entry */
	uint64_t fret[2][2];      /* fexit, fmod_ret: xmm0, xmm1 of the return */
};

static inline double poketrace_ctx_double(const struct poketrace_ctx *c, int i)
{
	double d;

	__builtin_memcpy(&d, c->xmm[i], sizeof(d));
	return d;
}

static inline double poketrace_ctx_ret_double(const struct poketrace_ctx *c)
{
	double d;

	__builtin_memcpy(&d, c->fret[0], sizeof(d));
	return d;
}

static inline void poketrace_ctx_set_ret_double(struct poketrace_ctx *c, double d)
{
	__builtin_memcpy(c->fret[0], &d, sizeof(d));
}

/* --------------------------------------------------------------- links
 *
 * A link attaches a handler to one function, BPF-trampoline style: the
 * function gets its own generated trampoline ("image") that saves only the
 * argument registers its prototype uses when that prototype is certain (the
 * rule below; everything a call can be passed in otherwise), runs the
 * handlers, and returns.
 *
 *   FENTRY    void h(struct poketrace_ctx *) before the body; with
 *             POKETRACE_LINK_TYPED, h is called with the function's own
 *             arguments (declare it with the function's prototype).
 *   FEXIT     void h(struct poketrace_ctx *) after the body, ctx->ret set.
 *             The image calls the body itself (site+5) and the site becomes
 *             `jmp image`, so no return address is rewritten.
 *   FMOD_RET  int h(struct poketrace_ctx *) before the body; non-zero skips
 *             the body and returns ctx->ret (ctx->fret for float returns).
 *   REPLACE   calls go to handler, a function with the same prototype; it can
 *             call the original through poketrace_link_original().  One per
 *             function.
 *
 * Order on one function: ops, FENTRY, FMOD_RET, body (or REPLACE), FEXIT;
 * within a kind by opts.priority, then attach order.  Every change builds a
 * new image and retargets the site in one batch; attaching or detaching many
 * links at once is one batch.  Handlers never re-enter: a handler that calls
 * a hooked function runs that function without handlers (counted in
 * poketrace_stats.recursion_misses).
 *
 * THE RULE FOR WHAT AN IMAGE SAVES.  An image saves less than the full
 * argument state only when the function's prototype is certain:
 *   - a DWARF subprogram (libdw) whose own entry (low_pc, or the start of its
 *     first range) is the function's address, read from the file whose
 *     build-id is the one mapped (or from /usr/lib/debug/.build-id/ with that
 *     build-id; without a build-id, the file whose device and inode are the
 *     mapping's), so a binary replaced on disk cannot lend its prototypes;
 *   - not a compiler clone or nested function (no '.' in the symbol: .isra,
 *     .constprop, .part, .cold, .lto_priv, inner.0), no DW_CC_nocall, no
 *     static chain, not variadic;
 *   - every parameter (a C++ parameter pack's too) and the return classified
 *     by the System V x86-64 rules
 *     (eightbytes INTEGER/SSE/SSEUP/X87/X87UP/COMPLEX_X87/MEMORY; C++ classes
 *     passed by invisible reference from DW_AT_calling_convention, or for gcc,
 *     which does not emit it, from their user-declared copy constructors,
 *     destructors, virtual functions and members; __int128, __float128,
 *     _Decimal*, _Complex, std::nullptr_t, pointers to members of 8 and 16
 *     bytes, vectors of 8 and 16 bytes).  32- and 64-byte vectors are not
 *     certain (in ymm/zmm only if the callee was built with AVX), nor are
 *     declaration-only types (clang's -fno-standalone-debug);
 *   - every parameter's DWARF location at the entry where that classification
 *     puts it, and in a local (static) function every parameter has one (gcc's
 *     ms_abi functions are found this way, as they carry no DWARF mark); and
 *     not a local function built by clang, which rewrites local functions'
 *     arguments (promotion of pointed-to values and of structs by value, dead
 *     argument elimination) without renaming them or saying so in DWARF.
 * Then the image saves exactly the argument registers used, copies exactly
 * the stack-argument area (aligned as the caller's was: 16, 32 or 64) for a
 * body it calls, and saves exactly the return registers (poketrace_fn.flags
 * has POKETRACE_FN_EXACT).  Otherwise it takes the conservative path: the
 * six integer argument registers, rax, r10 (gcc's static chain), xmm0-7 at
 * the width in use (the upper halves of ymm/zmm where the CPU has them and
 * XINUSE says they are not zero), xmm8-15, rdi and rsi across the whole call
 * for a function that is or looks ms_abi (DW_AT_calling_convention, or its
 * locations); for a body it calls a copy of the caller's stack of 4 KiB, or
 * of the DWARF prototype's named arguments if more, read safely (a move on
 * the thread's own stack up to its end, process_vm_readv elsewhere: it stops
 * at the end of the mapping instead of faulting) and congruent to the
 * caller's modulo 64; and after the body rax, rdx, xmm0-3 at full width and
 * st0/st1 when they hold a value.  Functions with no certain prototype that
 * pass more than that many bytes on the stack are not supported.  A long
 * double return (st0, st1 for complex long double) is kept off the x87
 * stack while exit handlers run; FEXIT handlers find it in ctx->fret as an
 * 80-bit value; FMOD_RET is refused on a function certain to return one
 * (-EINVAL: an override cannot set st0).  A calling convention DWARF names
 * and poketrace does not know (vectorcall, regcall, ...) is refused
 * (-ENOTSUP).  Ops trampolines, shared by many functions, always take the
 * conservative path without the ms_abi extras.  POKETRACE_DEBUG_PROTO=1 in
 * the environment prints each decision and its reason to stderr;
 * POKETRACE_VEC=sse|avx lowers the vector width images use (tests).
 *
 * A function without a patch site (its entry relocated) may have callers
 * that keep values in registers the ABI lets a call clobber: gcc's -fipa-ra,
 * on at -O2, does so for callees in the same unit that do not write them
 * (a patch site turns it off).  Its images therefore enter the body with
 * every register as the caller left it and give the caller back rax rcx rdx
 * rsi rdi r8-r11 and xmm/ymm/zmm0-15 as the body left them (a replacement:
 * as they were at entry, but the return registers — without a prototype
 * rax and xmm0 only, so a replaced function returning in rdx needs its
 * DWARF), whatever the handlers
 * wrote; an FMOD_RET override returns ctx->ret in rax and leaves the other
 * registers as they were at entry (without a prototype, xmm0-3 with their
 * upper halves zero).  zmm16-31 and the mask registers are not saved.
 *
 * Typed FENTRY handlers receive the stack arguments too (the exact area, or
 * the conservative copy).
 *
 * Detach stops new calls from reaching the handler when it returns: no call
 * enters it after, and no call returning after runs a detached FEXIT handler
 * (a call returns through the exit path current when it returns, which runs
 * the FEXIT links attached both when the call entered and now; a link that
 * stays attached runs for every call that entered while it was attached,
 * across any number of changes).  A thread already running a handler
 * finishes it: poketrace_quiesce() waits for that, after which the
 * handler's data can be freed.  A handler left by a C++ exception,
 * pthread_exit or a longjmp/siglongjmp to outside it leaves its thread able
 * to run handlers again.
 */
enum poketrace_link_kind {
	POKETRACE_FENTRY = 1,
	POKETRACE_FEXIT,
	POKETRACE_FMOD_RET,
	POKETRACE_REPLACE,
};

enum poketrace_link_flags {
	POKETRACE_LINK_TYPED = 1u << 0, /* FENTRY handler takes the function's own arguments */
	/* FENTRY or FEXIT handler void h(void *data, const void *stack): no ctx
	 * is built, the cheapest form (stack: where the caller's stack
	 * arguments begin, which identifies the call's frame). */
	POKETRACE_LINK_RAW = 1u << 1,
};

struct poketrace_link_opts {
	size_t sz;               /* sizeof(struct poketrace_link_opts) */
	void *data;              /* ctx->data */
	int priority;            /* lower runs first */
	unsigned flags;          /* enum poketrace_link_flags */
};

struct poketrace_link;

/* Attaches handler to the function named func ("name", or "module:name" when
 * several modules have one; module is a path or file name glob) or, with
 * poketrace_link_attach_addr, at a function or site address.  *out (like
 * each spec's link for poketrace_links_attach) is written before the link
 * goes live: a handler other threads run at once finds it there if out is
 * the variable it reads; NULL on failure. */
POKETRACE_API int poketrace_link_attach(enum poketrace_link_kind kind, const char *func,
					void *handler, const struct poketrace_link_opts *opts,
					struct poketrace_link **out);
POKETRACE_API int poketrace_link_attach_addr(enum poketrace_link_kind kind, uintptr_t addr,
					     void *handler, const struct poketrace_link_opts *opts,
					     struct poketrace_link **out);

struct poketrace_link_spec {
	enum poketrace_link_kind kind;
	const char *func;        /* or NULL and addr */
	uintptr_t addr;
	void *handler;
	struct poketrace_link_opts opts;
	struct poketrace_link *link; /* out */
};
/* All or nothing, one batch. */
POKETRACE_API int poketrace_links_attach(struct poketrace_link_spec *specs, size_t n);
POKETRACE_API int poketrace_links_detach(struct poketrace_link **links, size_t n);
/* Detaches links[] and attaches specs[] in one batch (a change of which
 * functions are hooked, with no window where both or neither are). */
POKETRACE_API int poketrace_links_update(struct poketrace_link **links, size_t nd,
					 struct poketrace_link_spec *specs, size_t n);
POKETRACE_API int poketrace_link_detach(struct poketrace_link *link);
/* The function's body (site+5, or the copy of a relocated entry): what a
 * REPLACE handler calls for the original.  That address stays valid while
 * the module is loaded, after the link is detached too, unlike the link: a
 * replacement that may still run when its link is detached (quiesce does
 * not wait for replacements) keeps the address, not the link. */
POKETRACE_API void *poketrace_link_original(const struct poketrace_link *link);
POKETRACE_API const struct poketrace_fn *poketrace_link_fn(const struct poketrace_link *link);

/* Waits (up to timeout_ms; -1 forever) until every retired image is
 * reclaimed: no thread runs, or can run again, a handler detached or an ops
 * callback unregistered before the call.  A thread asleep in the body of a
 * hooked function does not hold anything.  -ETIMEDOUT if some thread is
 * still in a handler (asleep in it, or in a function it called), or could
 * not be looked at (no file descriptor left).  Not seen: a thread created
 * before poketrace was loaded (or by a raw clone) and not seen running since,
 * blocked inside a handler that switched to another stack (swapcontext, or
 * a signal on a sigaltstack taken while the handler ran). */
POKETRACE_API int poketrace_quiesce(int timeout_ms);

/* ------------------------------------------------------------------- ops
 *
 * ftrace-style callbacks: one function, many sites, chosen by filters.  A
 * site with exactly one ops calls a trampoline made for that ops (shared by
 * all its sites in a module); a site with several calls the list trampoline,
 * which walks that site's list.  Lists are immutable, replaced through
 * batches and reclaimed like images: read without locks.  On a site that
 * also has links, the ops run first in its image.  Register, unregister and
 * set_filter each change exactly the sites whose state changes, in one batch.
 * ctx->args/xmm hold all six and eight argument registers.
 */
typedef void (*poketrace_ops_fn)(struct poketrace_ctx *ctx);

struct poketrace_ops_opts {
	size_t sz;               /* sizeof(struct poketrace_ops_opts) */
	void *data;              /* ctx->data */
	const char *filter;      /* comma-separated symbol globs; NULL or "": every function */
	const char *modules;     /* comma-separated module globs (path or file name); NULL: all */
	const char *notrace;     /* comma-separated symbol globs never traced */
	unsigned flags;          /* POKETRACE_OPS_*; a caller built before it passes the older sz */
};
/* The functions without a compiler site that the filter (and modules) names
 * are hooked too, their entries relocated where that is safe (the others
 * are left alone, poketrace_sites_all-style reasons aside).  A NULL filter
 * then means every function of every module: name them. */
#define POKETRACE_OPS_RELOCATE 1u

struct poketrace_ops;
POKETRACE_API int poketrace_ops_register(poketrace_ops_fn fn, const struct poketrace_ops_opts *opts,
					 struct poketrace_ops **out);
POKETRACE_API int poketrace_ops_set_filter(struct poketrace_ops *ops, const char *filter,
					   const char *modules, const char *notrace);
/* No call reaches fn after it returns; a thread already in fn finishes it:
 * poketrace_quiesce() waits for that before fn's data may be freed. */
POKETRACE_API int poketrace_ops_unregister(struct poketrace_ops *ops);
/* Sites the ops is attached to now. */
POKETRACE_API long poketrace_ops_nsites(const struct poketrace_ops *ops);

/* ----------------------------------------------------------------- tracer
 *
 * In a process traced by `poketrace record` or `poketrace attach`, code of
 * the process can drive the tracer as `poketrace live` does, with the same
 * requests: "status", "enable", "disable", "filter GLOBS", "notrace GLOBS",
 * "modules GLOBS" ("-" for none), "flush", "stop".  Each change is one batch.
 * The answer's lines (status, flush) go to answer[cap].  -ENOENT without a
 * tracer (or after stop); -EINVAL for an unknown request.  Calling "stop" or
 * "flush" from inside a traced function waits (up to 5 s / 0.2 s) for the
 * images that function holds.
 */
POKETRACE_API int poketrace_tracer_control(const char *request, char *answer, size_t cap);

/* ------------------------------------------------------------- statistics */

struct poketrace_stats {
	uint64_t batches;         /* batches committed */
	uint64_t sites_written;
	uint64_t syncs;
	uint64_t traps_emulated;  /* int3 on a site in flight, emulated */
	uint64_t traps_restarted; /* int3 already gone when handled: re-executed */
	uint64_t traps_chained;   /* not ours: passed to the program's handler */
	uint64_t recursion_misses; /* handler calls skipped: the thread was in a handler */
	uint64_t images_live;      /* trampoline images in use */
	uint64_t images_retired;   /* replaced, waiting until no thread can be in them */
	uint64_t images_reclaimed; /* retired and freed */
	unsigned sync_mode;       /* enum poketrace_sync_mode in use */
	unsigned write_mode;      /* enum poketrace_write_mode in use */
};
POKETRACE_API void poketrace_get_stats(struct poketrace_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* POKETRACE_H */
