/* The poketrace command's subcommands. */
#ifndef PT_CLI_H
#define PT_CLI_H

#define EXIT_USAGE 2

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
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
