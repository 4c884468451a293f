/* cli.h - the subcommands, and what they share on the command line: the
 * options of a tracing session (rows for their option tables and the one
 * handler of their values) and the target that follows them. */
#ifndef FL_CLI_H
#define FL_CLI_H

#include <stdbool.h>
#include "cmd/options.h"

#define FL_VERSION "0.1.0"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_stat(int argc, char **argv);
/* `faultline check`: 0 every count within its limit; 1 some count grew past
 * its limit, or the current run lost events; 2 bad usage or bad input. */
int cmd_check(int argc, char **argv);

struct session_opts;

/* Keys of the session options that have no short letter. */
enum { SO_STACKS = OPT_LONG_ONLY, SO_SAMPLE, SO_STACK_SIZE, SO_BUFFER, SO_USER, SO_ON_ERROR, SO_PROBES, SO_LOSSY, SO_NEXT };

/* Table rows of the session options; the help text of some is the subcommand's. */
#define SESSION_ROW_PID(help) { 'p', "pid", "PID", OPT_UINT, 1, 2147483647, NULL, help }
#define SESSION_ROW_DURATION(help) { 'd', "duration", "SEC", OPT_DOUBLE, 0.001, 1e9, NULL, help }
#define SESSION_ROW_FOLLOW(help) { 'f', "follow-forks", NULL, OPT_FLAG, 0, 0, NULL, help }
#define SESSION_ROW_VERBOSE(help) { 'v', "verbose", NULL, OPT_FLAG, 0, 0, NULL, help }
#define SESSION_ROW_BUFFER \
	{ SO_BUFFER, "buffer-size", "MIB", OPT_UINT, 1, 4096, NULL, "kernel ring buffer size (default 64, power of 2)" }
#define SESSION_ROWS_STACKS                                                                            \
	{ SO_STACKS, "stacks", "[=all]", OPT_OPTIONAL, 0, 0, "events|all",                              \
	  "capture user stacks: of every memory syscall and first-touch\n"                             \
	  "fault (the kernel copies them), with =all of every allocator call\n"                        \
	  "too (the preload library unwinds them; on uprobes the kernel\n"                             \
	  "copies them); report symbolizes them (see faultline report --help)" },                       \
	{ SO_SAMPLE, "sample", "N", OPT_UINT, 1, 1000000, NULL,                                         \
	  "with --stacks=all: the stacks of one call in N per thread (counts\n"                         \
	  "stay exact; bytes per call site are scaled by N)" },                                         \
	{ SO_STACK_SIZE, "stack-size", "B", OPT_UINT, 512, 16384, NULL,                                 \
	  "user stack bytes copied per stack (512-16384, default 8192)" }
/* How the command runs and what happens to it when faultline must stop. */
#define SESSION_ROWS_COMMAND                                                                           \
	{ SO_USER, "user", "NAME|UID", OPT_STRING, 0, 0, NULL,                                          \
	  "run CMD as this user (default: the user behind sudo, from\n"                                 \
	  "SUDO_UID/SUDO_GID; --user root keeps root)" },                                               \
	{ SO_ON_ERROR, "on-error", "ACTION", OPT_CHOICE, 0, 0, "kill|detach",                           \
	  "when faultline itself must stop (its disk is full): kill CMD\n"                              \
	  "(default) or detach, leaving it running untraced; the error says which" }, \
	{ SO_PROBES, "probes", "PATH", OPT_CHOICE, 0, 0, "auto|preload|uprobes",                        \
	  "how allocator calls are recorded: preload (a library in CMD,\n"                            \
	  "tens of times cheaper per call), uprobes, or auto (default: preload\n"                      \
	  "for a dynamically linked CMD, uprobes for a static or set-user-ID\n"                        \
	  "one; -p always uprobes)" },                                                                  \
	{ SO_LOSSY, "lossy", NULL, OPT_FLAG, 0, 0, NULL,                                                \
	  "preload path: a thread whose ring is full drops the call and counts\n"                      \
	  "it lost, instead of waiting for faultline (default: it waits,\n"                            \
	  "nothing is lost)" }

/* A session option's value (keys p d f v and SO_*): 1 taken, 0 not one of
 * them, -1 a usage error (printed). */
int cli_session_option(const char *sub, int key, const struct opt_value *v, struct session_opts *s);
/* After the options: the command from argv[first], or the pid; -1 on a usage error. */
int cli_session_target(const char *sub, int argc, char **argv, int first, struct session_opts *s);

#endif
