/* libmathx: integer functions the calc language calls as builtins. */
#ifndef MATHX_H
#define MATHX_H

#include <stdint.h>

typedef int64_t (*mathx_fn)(const int64_t *args, int nargs);

struct mathx_builtin {
	const char *name;
	int nargs;
	mathx_fn fn;
};

/* The builtins, terminated by a NULL name. */
extern const struct mathx_builtin mathx_builtins[];

#endif
