/* main.c - the faultline command: subcommand table, --help, --version, and
 * the check that what went to stdout was written. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cmd/cli.h"

static const struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	int output_error; /* its exit status when stdout could not be written */
} subcommands[] = {
	{ "record", cmd_record, "run a command under the probes, store its events in a file", 125 },
	{ "report", cmd_report, "print what a recording shows (text, json, jsonl; call sites, folded stacks)", 1 },
	{ "trace", cmd_trace, "live view of a running process (-p PID) or a command", 125 },
	{ "stat", cmd_stat, "counts only, no trace file; summary JSON for `check`; -r N runs", 125 },
	{ "check", cmd_check, "compare a JSON summary with a baseline (CI regression gate)", 2 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: faultline [--version] [--help] SUBCOMMAND [ARGS]\n"
		"\n"
		"faultline joins each allocator call (malloc, free, ...) to the memory syscalls\n"
		"it caused (brk, mmap, munmap, mremap, mprotect, madvise) and to the page faults\n"
		"that first touched its memory, measured with eBPF.\n"
		"\n"
		"subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'faultline SUBCOMMAND --help' describes each one.\n"
		"\n"
		"environment:\n"
		"  FAULTLINE_BUILDID_DIR        build-id cache of --stacks (default ~/.cache/faultline/build-id)\n"
		"  FAULTLINE_NO_UPROBE_MULTI=1  perf-event uprobes instead of uprobe-multi links (Linux 6.10+)\n");
}

/* What a subcommand printed on stdout must have been written: a full disk or
 * a closed pipe is an error even when the subcommand itself did not see it
 * (the last buffer is flushed only now). */
static int stdout_checked(int rc, int output_error)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	fprintf(stderr, "faultline: writing stdout: %s\n", strerror(errno ? errno : EIO));
	return rc ? rc : output_error;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("faultline %s\n", FL_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return stdout_checked(subcommands[i].run(argc - 1, argv + 1), subcommands[i].output_error);
	fprintf(stderr, "faultline: '%s' is not a subcommand (see: faultline --help)\n", argv[1]);
	return 2;
}
