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
/* The stack options every session subcommand takes (codes past any char),
 * with --user and --on-error. */
enum { CLI_OPT_STACKS = 0x100, CLI_OPT_SAMPLE, CLI_OPT_STACK_SIZE, CLI_OPT_USER, CLI_OPT_ON_ERROR };
#define CLI_STACK_OPTIONS                                                                 \
	{ "stacks", optional_argument, 0, CLI_OPT_STACKS },                               \
	{ "sample", required_argument, 0, CLI_OPT_SAMPLE },                               \
	{ "stack-size", required_argument, 0, CLI_OPT_STACK_SIZE },                       \
	{ "user", required_argument, 0, CLI_OPT_USER },                                   \
	{ "on-error", required_argument, 0, CLI_OPT_ON_ERROR }
/* Help text of those options. */
#define CLI_STACK_HELP                                                                            \
	"      --stacks[=all]     capture user stacks in the kernel: of every memory syscall and\n"    \
	"                         first-touch fault, with =all of every allocator call too; report\n" \
	"                         unwinds and symbolizes them (see faultline report --help)\n"        \
	"      --sample N         with --stacks=all: the stacks of one call in N per thread (counts\n" \
	"                         stay exact; bytes per call site are scaled by N)\n"                \
	"      --stack-size B     user stack bytes copied per stack (512-16384, default 8192)\n"    \
	"      --user NAME|UID    run CMD as this user (default: the user behind sudo, from\n"      \
	"                         SUDO_UID/SUDO_GID; --user root keeps root)\n"                    \
	"      --on-error kill|detach  when faultline itself must stop (its disk is full): kill\n" \
	"                         CMD (default) or leave it running untraced; the error says which\n"

/* One option of a session (-f -v -p -d --buffer-size): 1 taken, 0 not one of
 * them, -1 a usage error (printed). */
int cli_session_option(const char *sub, int c, const char *arg, struct session_opts *s);
/* After the options: the command from argv[first], or the pid; -1 on a usage error. */
int cli_session_target(const char *sub, int argc, char **argv, int first, struct session_opts *s);

/* Prints "faultline SUB: MSG" and a hint to --help on stderr; returns -1. */
int cli_usage_error(const char *sub, const char *msg);

#endif
