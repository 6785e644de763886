/* The SIGTRAP handler that emulates the instruction being written at a site. */
#ifndef PT_ARCH_TRAP_H
#define PT_ARCH_TRAP_H

/* Installs the handler and the signal hygiene (done when the library loads;
 * calling it again is harmless).  0 or -errno. */
int trap_install(void);

#endif
