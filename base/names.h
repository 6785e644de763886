/* Function names in three forms: as in the binary (mangled), demangled in
 * full, and simple (C++ without parameter lists and template arguments:
 * "std::vector::push_back").  Readers show one (--demangle) and every place
 * that takes a name accepts any of the three. */
#ifndef PT_BASE_NAMES_H
#define PT_BASE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

enum { NAME_MANGLED = 0, NAME_FULL = 1, NAME_SIMPLE = 2 };

/* The three forms of sym into name[] (malloc'ed; equal strings shared). */
void names_make(const char *sym, char *name[3]);
void names_free(char *name[3]);
/* --demangle's argument: NAME_* or -1. */
int names_form(const char *arg);
/* Whether glob (fnmatch) matches any of the forms. */
bool names_match(char *const name[3], const char *glob);
/* "MODULE:FUNC" (the first ':' that is not part of a "::"): FUNC, with
 * MODULE copied into mod (cut at cap), or glob itself and "" in mod. */
const char *names_split_module(const char *glob, char *mod, size_t cap);
/* Whether a module glob matches a module's path or its file name ("" does). */
bool names_module_match(const char *modglob, const char *module);
/* names_match with an optional "MODULE:" before the function glob. */
bool names_match_in(char *const name[3], const char *module, const char *glob);

#endif
