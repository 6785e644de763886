/* The last error of each thread: what was wrong and what to do. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char msg[512];

int pt_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return -err;
}

int pt_error_ctx(int ret, const char *fmt, ...)
{
	char prefix[128], old[sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, msg, sizeof(old));
	/* Truncation is fine: the message is for people. */
	snprintf(msg, sizeof(msg), "%.127s: %.380s", prefix, old);
	return ret;
}

const char *pt_error_msg(void)
{
	return msg;
}

void pt_error_clear(void)
{
	msg[0] = '\0';
}
