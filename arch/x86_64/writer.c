/* x86-64 instruction encodings used by trampolines (see writer.h).
 * Register numbers 8-15 need a REX prefix bit: REX.R for the ModRM reg
 * field, REX.B for rm/base or an opcode-embedded register. */
#include "arch/x86_64/writer.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/insn.h"

enum { REX = 0x40, REX_W = 0x08, REX_R = 0x04, REX_B = 0x01 };

void xw_init(struct xw *w, uint8_t *buf, size_t cap, uintptr_t pc0)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->pc0 = pc0;
	for (int i = 0; i < XW_MAX_LABELS; i++)
		w->label[i] = -1;
}

uintptr_t xw_pc(const struct xw *w)
{
	return w->pc0 + w->len;
}

void xw_bytes(struct xw *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put1(struct xw *w, uint8_t b)
{
	xw_bytes(w, &b, 1);
}

static void put4(struct xw *w, int32_t v)
{
	xw_bytes(w, &v, 4);
}

static void put8(struct xw *w, uint64_t v)
{
	xw_bytes(w, &v, 8);
}

/* ModRM (+ SIB) + disp8 or disp32 for [base + disp] with reg in the reg field. */
static void modrm_mem(struct xw *w, int reg, enum xreg base, int32_t disp)
{
	bool d8 = disp >= -128 && disp <= 127;

	put1(w, (uint8_t)((d8 ? 0x40 : 0x80) | ((reg & 7) << 3) | (base & 7)));
	if ((base & 7) == XREG_RSP)
		put1(w, 0x24); /* SIB: no index, base rsp/r12 */
	if (d8)
		put1(w, (uint8_t)(int8_t)disp);
	else
		put4(w, disp);
}

static void rex_mem(struct xw *w, bool wide, int reg, enum xreg base)
{
	uint8_t rex = REX | (wide ? REX_W : 0) | (reg & 8 ? REX_R : 0) | (base & 8 ? REX_B : 0);

	if (rex != REX)
		put1(w, rex);
}

int xw_new_label(struct xw *w)
{
	for (int i = 0; i < XW_MAX_LABELS; i++) {
		if (w->label[i] == -1) {
			w->label[i] = -2; /* allocated, unbound */
			return i;
		}
	}
	w->overflow = true;
	return 0;
}

void xw_bind(struct xw *w, int label)
{
	w->label[label] = (long)w->len;
}

static void fixup_rel32(struct xw *w, int label)
{
	if (w->nfixups == XW_MAX_FIXUPS) {
		w->overflow = true;
		return;
	}
	w->fixup[w->nfixups].at = w->len;
	w->fixup[w->nfixups].label = label;
	w->nfixups++;
	put4(w, 0);
}

bool xw_finish(struct xw *w)
{
	for (int i = 0; i < w->nfixups && !w->overflow; i++) {
		long to = w->label[w->fixup[i].label];
		int32_t rel;

		if (to < 0)
			return false;
		rel = (int32_t)(to - (long)(w->fixup[i].at + 4));
		memcpy(w->buf + w->fixup[i].at, &rel, 4);
	}
	return !w->overflow;
}

void xw_endbr64(struct xw *w)
{
	static const uint8_t b[] = { 0xf3, 0x0f, 0x1e, 0xfa };

	xw_bytes(w, b, sizeof(b));
}

void xw_nop5(struct xw *w)
{
	xw_bytes(w, insn_nop5, INSN_SITE_LEN);
}

void xw_push(struct xw *w, enum xreg r)
{
	if (r & 8)
		put1(w, REX | REX_B);
	put1(w, (uint8_t)(0x50 | (r & 7)));
}

void xw_pop(struct xw *w, enum xreg r)
{
	if (r & 8)
		put1(w, REX | REX_B);
	put1(w, (uint8_t)(0x58 | (r & 7)));
}

void xw_mov_rr(struct xw *w, enum xreg dst, enum xreg src)
{
	put1(w, (uint8_t)(REX | REX_W | (src & 8 ? REX_R : 0) | (dst & 8 ? REX_B : 0)));
	put1(w, 0x89);
	put1(w, (uint8_t)(0xc0 | ((src & 7) << 3) | (dst & 7)));
}

void xw_mov_imm64(struct xw *w, enum xreg dst, uint64_t imm)
{
	put1(w, (uint8_t)(REX | REX_W | (dst & 8 ? REX_B : 0)));
	put1(w, (uint8_t)(0xb8 | (dst & 7)));
	put8(w, imm);
}

void xw_store(struct xw *w, enum xreg base, int32_t disp, enum xreg src)
{
	rex_mem(w, true, src, base);
	put1(w, 0x89);
	modrm_mem(w, src, base, disp);
}

void xw_load(struct xw *w, enum xreg dst, enum xreg base, int32_t disp)
{
	rex_mem(w, true, dst, base);
	put1(w, 0x8b);
	modrm_mem(w, dst, base, disp);
}

void xw_lea(struct xw *w, enum xreg dst, enum xreg base, int32_t disp)
{
	rex_mem(w, true, dst, base);
	put1(w, 0x8d);
	modrm_mem(w, dst, base, disp);
}

void xw_lea_rip(struct xw *w, enum xreg dst, uintptr_t target)
{
	put1(w, (uint8_t)(REX | REX_W | (dst & 8 ? REX_R : 0)));
	put1(w, 0x8d);
	put1(w, (uint8_t)(((dst & 7) << 3) | 5)); /* mod 00, rm 101: rip+disp32 */
	put4(w, (int32_t)(target - (xw_pc(w) + 4)));
}

/* ---------------------------------------------------------------- CPU */

static struct {
	int width;   /* enum xw_vec */
	bool xinuse; /* xgetbv ecx=1 */
} cpu;

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
	__asm__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static void cpu_probe(void)
{
	unsigned r[4], max;
	uint32_t xcr0 = 0, hi;
	const char *env = getenv("POKETRACE_VEC");

	cpu.width = XW_VEC_SSE;
	cpuid(0, 0, r);
	max = r[0];
	cpuid(1, 0, r);
	/* OSXSAVE: the kernel manages the extended state; XCR0 says which */
	if (r[2] & (1u << 27))
		__asm__("xgetbv" : "=a"(xcr0), "=d"(hi) : "c"(0));
	(void)hi;
	if ((r[2] & (1u << 28)) && (xcr0 & 6) == 6)
		cpu.width = XW_VEC_AVX;
	if (cpu.width == XW_VEC_AVX && max >= 7) {
		cpuid(7, 0, r);
		if ((r[1] & (1u << 16)) && (xcr0 & 0xe0) == 0xe0) /* AVX-512F, opmask and zmm state */
			cpu.width = XW_VEC_AVX512;
	}
	if (max >= 0xd && cpu.width > XW_VEC_SSE) {
		cpuid(0xd, 1, r);
		cpu.xinuse = (r[0] & (1u << 2)) != 0;
	}
	if (env && !strcmp(env, "sse"))
		cpu.width = XW_VEC_SSE;
	else if (env && !strcmp(env, "avx") && cpu.width > XW_VEC_AVX)
		cpu.width = XW_VEC_AVX;
}

int xw_vec_width(void)
{
	if (!cpu.width)
		cpu_probe();
	return cpu.width;
}

bool xw_has_xinuse(void)
{
	return xw_vec_width() > XW_VEC_SSE && cpu.xinuse;
}

/* ModRM + (SIB) + disp32 always: EVEX scales disp8, so zmm moves use this. */
static void modrm_mem32(struct xw *w, int reg, enum xreg base, int32_t disp)
{
	put1(w, (uint8_t)(0x80 | ((reg & 7) << 3) | (base & 7)));
	if ((base & 7) == XREG_RSP)
		put1(w, 0x24);
	put4(w, disp);
}

/* With AVX, the VEX form: legacy SSE instructions are slow while the upper
 * halves of the vector registers are dirty (measured here: 12 ns for saving
 * and restoring xmm0-7), VEX.128 ones are not.  VEX.128 loads zero the
 * upper half: callers use them only where that half is known to be zero or
 * free to clobber. */
static void movups(struct xw *w, uint8_t op, int xmm, enum xreg base, int32_t disp)
{
	if (xw_vec_width() > XW_VEC_SSE && xmm < 8 && base < 8) {
		put1(w, 0xc5); /* 2-byte VEX: R=1 (xmm0-7), vvvv=1111, L=0 (128), pp=none */
		put1(w, 0xf8);
	} else if (xw_vec_width() > XW_VEC_SSE) {
		put1(w, 0xc4); /* 3-byte VEX: inverted R and B, map 0F; W=0 vvvv=1111 L=0 pp=none */
		put1(w, (uint8_t)((xmm & 8 ? 0 : 0x80) | 0x40 | (base & 8 ? 0 : 0x20) | 0x01));
		put1(w, 0x78);
	} else {
		rex_mem(w, false, xmm, base);
		put1(w, 0x0f);
	}
	put1(w, op);
	modrm_mem(w, xmm, base, disp);
}

void xw_store_xmm(struct xw *w, enum xreg base, int32_t disp, int xmm)
{
	movups(w, 0x11, xmm, base, disp);
}

void xw_load_xmm(struct xw *w, int xmm, enum xreg base, int32_t disp)
{
	movups(w, 0x10, xmm, base, disp);
}

/* vmovdqu ymmN: VEX.256.F3.0F 7F (store) / 6F (load); ymm0-15, base 0-7. */
static void vmovdqu256(struct xw *w, uint8_t op, int ymm, enum xreg base, int32_t disp)
{
	put1(w, 0xc5);
	put1(w, ymm & 8 ? 0x7e : 0xfe); /* R (inverted), vvvv=1111, L=1, pp=F3 */
	put1(w, op);
	modrm_mem(w, ymm & 7, base, disp);
}

void xw_store_ymm(struct xw *w, enum xreg base, int32_t disp, int ymm)
{
	vmovdqu256(w, 0x7f, ymm, base, disp);
}

void xw_load_ymm(struct xw *w, int ymm, enum xreg base, int32_t disp)
{
	vmovdqu256(w, 0x6f, ymm, base, disp);
}

/* vmovdqu64 zmmN: EVEX.512.F3.0F.W1 7F / 6F; zmm0-15, base 0-7. */
static void vmovdqu512(struct xw *w, uint8_t op, int zmm, enum xreg base, int32_t disp)
{
	put1(w, 0x62);
	put1(w, zmm & 8 ? 0x71 : 0xf1); /* R X B R' inverted (R: zmm8-15), map 0F */
	put1(w, 0xfe); /* W=1, vvvv=1111, 1, pp=F3 */
	put1(w, 0x48); /* z=0, L'L=10 (512), b=0, V'=1, aaa=0 */
	put1(w, op);
	modrm_mem32(w, zmm & 7, base, disp);
}

void xw_store_zmm(struct xw *w, enum xreg base, int32_t disp, int zmm)
{
	vmovdqu512(w, 0x7f, zmm, base, disp);
}

void xw_load_zmm(struct xw *w, int zmm, enum xreg base, int32_t disp)
{
	vmovdqu512(w, 0x6f, zmm, base, disp);
}

void xw_fxam(struct xw *w)
{
	put1(w, 0xd9);
	put1(w, 0xe5);
}

void xw_fnstsw_ax(struct xw *w)
{
	put1(w, 0xdf);
	put1(w, 0xe0);
}

void xw_fnstsw_mem(struct xw *w, enum xreg base, int32_t disp)
{
	rex_mem(w, false, 0, base);
	put1(w, 0xdd);
	modrm_mem(w, 7, base, disp);
}

void xw_xor_ax_mem16(struct xw *w, enum xreg base, int32_t disp)
{
	put1(w, 0x66); /* operand size 16 */
	rex_mem(w, false, 0, base);
	put1(w, 0x33);
	modrm_mem(w, XREG_RAX, base, disp);
}

void xw_fstp_tword(struct xw *w, enum xreg base, int32_t disp)
{
	rex_mem(w, false, 0, base);
	put1(w, 0xdb);
	modrm_mem(w, 7, base, disp);
}

void xw_fld_tword(struct xw *w, enum xreg base, int32_t disp)
{
	rex_mem(w, false, 0, base);
	put1(w, 0xdb);
	modrm_mem(w, 5, base, disp);
}

void xw_mov_imm32(struct xw *w, enum xreg dst, uint32_t imm)
{
	if (dst & 8)
		put1(w, REX | REX_B);
	put1(w, (uint8_t)(0xb8 | (dst & 7)));
	put4(w, (int32_t)imm);
}

void xw_xgetbv_inuse(struct xw *w)
{
	static const uint8_t op[] = { 0x0f, 0x01, 0xd0 };

	xw_mov_imm32(w, XREG_RCX, 1);
	xw_bytes(w, op, sizeof(op));
}

void xw_and_eax(struct xw *w, uint32_t imm)
{
	put1(w, 0x25);
	put4(w, (int32_t)imm);
}

void xw_cmp_eax(struct xw *w, uint32_t imm)
{
	put1(w, 0x3d);
	put4(w, (int32_t)imm);
}

void xw_test_eax_imm(struct xw *w, uint32_t imm)
{
	put1(w, 0xa9);
	put4(w, (int32_t)imm);
}

void xw_and_imm8(struct xw *w, enum xreg r, int8_t imm)
{
	put1(w, (uint8_t)(REX | REX_W | (r & 8 ? REX_B : 0)));
	put1(w, 0x83);
	put1(w, (uint8_t)(0xe0 | (r & 7))); /* /4 */
	put1(w, (uint8_t)imm);
}

void xw_add_rr(struct xw *w, enum xreg dst, enum xreg src)
{
	put1(w, (uint8_t)(REX | REX_W | (src & 8 ? REX_R : 0) | (dst & 8 ? REX_B : 0)));
	put1(w, 0x01);
	put1(w, (uint8_t)(0xc0 | ((src & 7) << 3) | (dst & 7)));
}

void xw_store_imm8(struct xw *w, enum xreg base, int32_t disp, uint8_t v)
{
	rex_mem(w, false, 0, base);
	put1(w, 0xc6);
	modrm_mem(w, 0, base, disp);
	put1(w, v);
}

void xw_cmp_imm8(struct xw *w, enum xreg base, int32_t disp, uint8_t v)
{
	rex_mem(w, false, 0, base);
	put1(w, 0x80);
	modrm_mem(w, 7, base, disp);
	put1(w, v);
}

void xw_sub_rsp(struct xw *w, int32_t n)
{
	static const uint8_t op[] = { 0x48, 0x81, 0xec };

	xw_bytes(w, op, sizeof(op));
	put4(w, n);
}

void xw_add_rsp(struct xw *w, int32_t n)
{
	static const uint8_t op[] = { 0x48, 0x81, 0xc4 };

	xw_bytes(w, op, sizeof(op));
	put4(w, n);
}

void xw_or_load(struct xw *w, enum xreg dst, enum xreg base, int32_t disp)
{
	rex_mem(w, true, dst, base);
	put1(w, 0x0b);
	modrm_mem(w, dst, base, disp);
}

void xw_test_rr(struct xw *w, enum xreg a, enum xreg b)
{
	put1(w, (uint8_t)(REX | REX_W | (b & 8 ? REX_R : 0) | (a & 8 ? REX_B : 0)));
	put1(w, 0x85);
	put1(w, (uint8_t)(0xc0 | ((b & 7) << 3) | (a & 7)));
}

void xw_vptest_ymm_r11(struct xw *w, int ymm)
{
	put1(w, 0xc4);
	put1(w, (uint8_t)((ymm & 8 ? 0 : 0x80) | 0x40 | 0x02)); /* R X (inverted), B=1: r11, map 0F38 */
	put1(w, 0x7d);                                          /* W0, vvvv unused, L=1, pp=66 */
	put1(w, 0x17);
	put1(w, (uint8_t)(((ymm & 7) << 3) | (XREG_R11 & 7)));  /* [r11] */
}

void xw_vzeroupper(struct xw *w)
{
	static const uint8_t op[] = { 0xc5, 0xf8, 0x77 };

	xw_bytes(w, op, sizeof(op));
}

void xw_test_eax(struct xw *w)
{
	static const uint8_t op[] = { 0x85, 0xc0 };

	xw_bytes(w, op, sizeof(op));
}

static bool near(const struct xw *w, uintptr_t target)
{
	return !w->far && insn_rel32_reach(xw_pc(w) + 5, target);
}

static void branch(struct xw *w, uint8_t rel32_op, uint8_t r11_modrm, uintptr_t target)
{
	if (near(w, target)) {
		put1(w, rel32_op);
		put4(w, (int32_t)(target - (xw_pc(w) + 4)));
		return;
	}
	/* Out of reach: through r11, which no calling convention passes
	 * anything in at a function's entry. */
	xw_mov_imm64(w, XREG_R11, target);
	put1(w, REX | REX_B);
	put1(w, 0xff);
	put1(w, r11_modrm);
}

void xw_call(struct xw *w, uintptr_t target)
{
	branch(w, 0xe8, 0xd3, target);
}

void xw_jmp(struct xw *w, uintptr_t target)
{
	branch(w, 0xe9, 0xe3, target);
}

void xw_jmp_keep_regs(struct xw *w, uintptr_t target)
{
	static const uint8_t op[] = { 0xff, 0x25, 0, 0, 0, 0 }; /* jmp [rip+0] */

	if (near(w, target)) {
		xw_jmp(w, target);
		return;
	}
	xw_bytes(w, op, sizeof(op));
	put8(w, target);
}

void xw_call_keep_regs(struct xw *w, uintptr_t target)
{
	/* the return lands on the short jmp over the address */
	static const uint8_t op[] = { 0xff, 0x15, 2, 0, 0, 0, 0xeb, 8 };

	if (near(w, target)) {
		put1(w, 0xe8);
		put4(w, (int32_t)(target - (xw_pc(w) + 4)));
		return;
	}
	xw_bytes(w, op, sizeof(op));
	put8(w, target);
}

void xw_jmp_label(struct xw *w, int label)
{
	put1(w, 0xe9);
	fixup_rel32(w, label);
}

void xw_jnz_label(struct xw *w, int label)
{
	xw_jcc_label(w, XCC_NE, label);
}

void xw_jcc_label(struct xw *w, enum xcc cc, int label)
{
	put1(w, 0x0f);
	put1(w, (uint8_t)(0x80 | cc));
	fixup_rel32(w, label);
}

/* fs:[disp32] operands: modrm 00 reg 100 (SIB), SIB 0x25 (no base, no index). */
static void fs_mem(struct xw *w, bool rexr, uint8_t op, int reg, int32_t tpoff)
{
	put1(w, 0x64);
	put1(w, (uint8_t)(REX | REX_W | (rexr ? REX_R : 0)));
	put1(w, op);
	put1(w, (uint8_t)(((reg & 7) << 3) | 4));
	put1(w, 0x25);
	put4(w, tpoff);
}

void xw_fs_cmp_q0(struct xw *w, int32_t tpoff)
{
	fs_mem(w, false, 0x83, 7, tpoff);
	put1(w, 0);
}

void xw_fs_store_imm32(struct xw *w, int32_t tpoff, uint32_t v)
{
	fs_mem(w, false, 0xc7, 0, tpoff);
	put4(w, v);
}

void xw_fs_store(struct xw *w, int32_t tpoff, enum xreg src)
{
	fs_mem(w, src & 8, 0x89, src, tpoff);
}

void xw_cmp_mem(struct xw *w, enum xreg base, int32_t disp, enum xreg r)
{
	rex_mem(w, true, r, base);
	put1(w, 0x39);
	modrm_mem(w, r, base, disp);
}

void xw_jmp_mem_r11(struct xw *w)
{
	static const uint8_t op[] = { 0x41, 0xff, 0x23 };

	xw_bytes(w, op, sizeof(op));
}

void xw_lock_inc_abs(struct xw *w, uintptr_t addr)
{
	static const uint8_t op[] = { 0xf0, 0x49, 0xff, 0x03 }; /* lock inc qword [r11] */

	xw_mov_imm64(w, XREG_R11, addr);
	xw_bytes(w, op, sizeof(op));
}

void xw_leave(struct xw *w)
{
	put1(w, 0xc9);
}

void xw_ret(struct xw *w)
{
	put1(w, 0xc3);
}
