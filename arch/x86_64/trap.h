/* The SIGTRAP handler that emulates the instruction being written at a site. */
#ifndef PT_ARCH_TRAP_H
#define PT_ARCH_TRAP_H

/* Installs the handler and the signal hygiene (done when the library loads;
 * calling it again is harmless).  0 or -errno. */
int trap_install(void);

/* Tests: called in the handler between a lookup that found no batch and the
 * read of the site's byte (to widen the window a late trap races in). */
extern void (*trap_test_window)(void);

#endif
