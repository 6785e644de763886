/* Where the control socket of a traced process lives (agent and CLI). */
#ifndef PT_BASE_CTLPATH_H
#define PT_BASE_CTLPATH_H

#include <stdbool.h>
#include <stddef.h>

/* $XDG_RUNTIME_DIR/poketrace/PID.sock, else /tmp/poketrace-UID/PID.sock; the
 * directory (created 0700 if create_dir) must be ours and closed to
 * others.  0, or -errno (-EPERM: the directory is not safe). */
int control_socket_path(long pid, char *out, size_t cap, bool create_dir);

/* Where poketrace attach leaves its request for the agent it makes PID load:
 * a fixed path, since the target's environment is not ours to know. */
int attach_request_path(long pid, char *out, size_t cap);

#endif
