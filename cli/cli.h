/* The poketrace command's subcommands. */
#ifndef PT_CLI_H
#define PT_CLI_H

#define EXIT_USAGE 2

#include <stddef.h>

int cmd_sites(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
/* cmd_sites.c: the patch sites of the modules process pid has loaded that
 * can be patched (0: nothing could be traced in it), or -1 (said). */
long sites_of_pid(long pid);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
