/* Interposition after a late load: the program's GOT slots of the signal
 * calls poketrace interposes point at the interposers (see gotpatch.c). */
#ifndef PT_CORE_GOTPATCH_H
#define PT_CORE_GOTPATCH_H

/* Every loaded module's slots (again after modules were loaded); nothing
 * when poketrace was loaded at start.  0 or -errno. */
int gotpatch_apply(void);

#endif
