/* The DWARF of a loaded module, from the file that is really mapped: the
 * build-id in memory must equal the file's (or a separate debug file's,
 * /usr/lib/debug/.build-id/NN/REST.debug); without a build-id, the file's
 * device and inode must be the mapping's.  Cached by build-id. */
#ifndef PT_CORE_DEBUGINFO_H
#define PT_CORE_DEBUGINFO_H

#include <elfutils/libdw.h>

struct pt_module;

/* The module's DWARF, or NULL with *why set (a static string).  Called
 * under the engine lock. */
Dwarf *debuginfo_get(const struct pt_module *m, const char **why);
/* Closes what was opened for the module file path (it was unloaded). */
void debuginfo_forget(const char *path);

#endif
