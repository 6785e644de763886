/* Per-thread "last error" text behind poketrace_last_error(). */
#ifndef PT_BASE_ERROR_H
#define PT_BASE_ERROR_H

/* Records a message for the calling thread and returns -err (err > 0). */
int pt_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "what: " context to the current message, returns ret unchanged. */
int pt_error_ctx(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *pt_error_msg(void);
void pt_error_clear(void);

#endif
