/* Between the reader's two files: the streams (reader.c) and the small
 * files and process images (reader_files.c). */
#ifndef PT_CLI_READER_FILES_H
#define PT_CLI_READER_FILES_H

#include "cli/reader.h"

/* A damaged part, said on stderr (and counted in t->problems). */
void rd_problem(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
