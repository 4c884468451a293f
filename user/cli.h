/* cli.h - the subcommands and the helpers they share for options and errors. */
#ifndef FL_CLI_H
#define FL_CLI_H

#define FL_VERSION "0.1.0"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Prints "faultline SUB: MSG" and a hint to --help on stderr; returns -1. */
int cli_usage_error(const char *sub, const char *msg);

#endif
