/* libe2e.so: a shared library with sites, linked at start. */
__attribute__((noinline)) long lib_scale(long x) { __asm__ volatile(""); return x * 3; }
__attribute__((noinline)) long lib_twice(long x) { return lib_scale(x) + lib_scale(x + 1); }
