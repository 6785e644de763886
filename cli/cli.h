/* The poketrace command's subcommands. */
#ifndef PT_CLI_H
#define PT_CLI_H

#define EXIT_USAGE 2

int cmd_sites(int argc, char **argv);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
