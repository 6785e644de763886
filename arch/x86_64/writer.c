/* x86-64 instruction encodings used by trampolines (see writer.h).
 * Register numbers 8-15 need a REX prefix bit: REX.R for the ModRM reg
 * field, REX.B for rm/base or an opcode-embedded register. */
#include "arch/x86_64/writer.h"

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

/* With AVX, the VEX form: legacy SSE instructions are slow while the upper
 * halves of the vector registers are dirty (measured here: 12 ns for saving
 * and restoring xmm0-7), VEX.128 ones are not. */
static bool use_vex(void)
{
	static int avx = -1;

	if (avx < 0) {
		unsigned a = 1, b, c = 0, d;

		__asm__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		/* AVX and OSXSAVE (the OS saves the AVX state) */
		avx = (c & (1u << 28)) && (c & (1u << 27));
	}
	return avx;
}

static void movups(struct xw *w, uint8_t op, int xmm, enum xreg base, int32_t disp)
{
	if (use_vex() && xmm < 8 && base < 8) {
		put1(w, 0xc5); /* 2-byte VEX: R=1 (xmm0-7), vvvv=1111, L=0 (128), pp=none */
		put1(w, 0xf8);
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

void xw_test_eax(struct xw *w)
{
	static const uint8_t op[] = { 0x85, 0xc0 };

	xw_bytes(w, op, sizeof(op));
}

static void branch(struct xw *w, uint8_t rel32_op, uint8_t r11_modrm, uintptr_t target)
{
	if (insn_rel32_reach(xw_pc(w) + 5, target)) {
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

	if (insn_rel32_reach(xw_pc(w) + 5, target)) {
		xw_jmp(w, target);
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
	put1(w, 0x0f);
	put1(w, 0x85);
	fixup_rel32(w, label);
}

void xw_fs_cmp_byte0(struct xw *w, int32_t tpoff)
{
	static const uint8_t op[] = { 0x64, 0x80, 0x3c, 0x25 };

	xw_bytes(w, op, sizeof(op));
	put4(w, tpoff);
	put1(w, 0);
}

void xw_fs_store_byte(struct xw *w, int32_t tpoff, uint8_t v)
{
	static const uint8_t op[] = { 0x64, 0xc6, 0x04, 0x25 };

	xw_bytes(w, op, sizeof(op));
	put4(w, tpoff);
	put1(w, v);
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
