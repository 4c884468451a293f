/* cli.h - the subcommands and the helpers they share for options and errors. */
#ifndef FL_CLI_H
#define FL_CLI_H

#define FL_VERSION "0.1.0"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_check(int argc, char **argv);

#include <stdbool.h>
#include <stdio.h>
struct session_opts;
/* Options shared by record and trace (-o -p -d -f -q -v --json --buffer-size).
 * Returns 0, 1 when --help was printed, -1 on a usage error (printed). */
int cli_parse_session(const char *sub, int argc, char **argv, struct session_opts *s,
		      const char **out, bool *quiet, bool *json, void (*usage)(FILE *));
/* One option of a session (-f -v -p -d --buffer-size): 1 taken, 0 not one of
 * them, -1 a usage error (printed). */
int cli_session_option(const char *sub, int c, const char *arg, struct session_opts *s);
/* After the options: the command from argv[first], or the pid; -1 on a usage error. */
int cli_session_target(const char *sub, int argc, char **argv, int first, struct session_opts *s);

/* Prints "faultline SUB: MSG" and a hint to --help on stderr; returns -1. */
int cli_usage_error(const char *sub, const char *msg);

#endif
