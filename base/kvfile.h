/* "key=value" line files: the record configuration and the trace's info. */
#ifndef PT_BASE_KVFILE_H
#define PT_BASE_KVFILE_H

/* Calls cb for each "key=value" line of path (value without its newline).
 * 0, or -errno if the file cannot be read. */
int kvfile_read(const char *path, void (*cb)(const char *key, const char *value, void *ctx), void *ctx);

#endif
