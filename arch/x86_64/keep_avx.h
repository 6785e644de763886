/* keep_all images' vector save and load on AVX machines (keep_avx.c). */
#ifndef PT_ARCH_KEEP_AVX_H
#define PT_ARCH_KEEP_AVX_H

/* Not C functions: r11 = the area (xmm slots, then ymm slots at +256, the
 * tier byte at -8); only the flags are clobbered besides what they load. */
void pt_keep_save_avx(void);
void pt_keep_load_avx(void);

#define KEEP_AVX_YMM 256 /* the ymm slots, from the xmm slots */
#define KEEP_AVX_TIER (-8)

#endif
