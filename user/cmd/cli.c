/* cli.c - what the subcommands share for options and errors: the usage
 * error line, and the options of a tracing session (-p -d -f -v
 * --buffer-size, then the command or the pid). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cli.h"
#include "capture/session.h"

int cli_usage_error(const char *sub, const char *msg)
{
	fprintf(stderr, "faultline %s: %s (see: faultline %s --help)\n", sub, msg, sub);
	return -1;
}

int cli_session_option(const char *sub, int c, const char *arg, struct session_opts *s)
{
	char *end;

	switch (c) {
	case 'f': s->follow_forks = true; return 1;
	case 'v': s->verbose++; return 1;
	case 'p':
		s->attach_pid = strtol(arg, &end, 10);
		if (*end || s->attach_pid <= 0)
			return cli_usage_error(sub, "--pid takes a process id");
		return 1;
	case 'd':
		s->duration_s = strtod(arg, &end);
		if (*end || s->duration_s <= 0)
			return cli_usage_error(sub, "--duration takes a number of seconds > 0");
		return 1;
	case CLI_OPT_STACKS:
		if (!arg)
			s->stack_mode = FL_STACKS_EVENTS;
		else if (!strcmp(arg, "all"))
			s->stack_mode = FL_STACKS_ALL;
		else if (!strcmp(arg, "events"))
			s->stack_mode = FL_STACKS_EVENTS;
		else
			return cli_usage_error(sub, "--stacks takes no value, =events or =all");
		return 1;
	case CLI_OPT_SAMPLE: {
		unsigned long n = strtoul(arg, &end, 10);

		if (*end || n == 0 || n > 1000000)
			return cli_usage_error(sub, "--sample takes a number from 1 to 1000000");
		s->stack_sample = n;
		return 1;
	}
	case CLI_OPT_STACK_SIZE: {
		unsigned long n = strtoul(arg, &end, 10);

		if (*end || n < 512 || n > FL_STACK_MAX)
			return cli_usage_error(sub, "--stack-size takes a number of bytes from 512 to 16384");
		s->stack_bytes = n;
		return 1;
	}
	case CLI_OPT_USER:
		if (!*arg)
			return cli_usage_error(sub, "--user takes a user name or id");
		s->user = arg;
		return 1;
	case CLI_OPT_ON_ERROR:
		if (strcmp(arg, "kill") && strcmp(arg, "detach"))
			return cli_usage_error(sub, "--on-error takes kill or detach");
		s->on_error = strcmp(arg, "kill") ? FL_ON_ERROR_DETACH : FL_ON_ERROR_KILL;
		return 1;
	case 'b': {
		unsigned long mib = strtoul(arg, &end, 10);

		if (*end || mib == 0 || (mib & (mib - 1)) || mib > 4096)
			return cli_usage_error(sub, "--buffer-size takes a power of 2 from 1 to 4096 (MiB)");
		s->ringbuf_bytes = mib << 20;
		return 1;
	}
	default:
		return 0;
	}
}

int cli_session_target(const char *sub, int argc, char **argv, int first, struct session_opts *s)
{
	if (s->attach_pid && first < argc)
		return cli_usage_error(sub, "give either -p PID or -- CMD, not both");
	if (s->attach_pid && s->follow_forks)
		return cli_usage_error(sub, "-f goes with CMD, not with -p");
	if (!s->attach_pid && first >= argc)
		return cli_usage_error(sub, "no command given: give -- CMD [ARG...], or -p PID");
	if (s->stack_sample > 1 && s->stack_mode != FL_STACKS_ALL)
		return cli_usage_error(sub, "--sample goes with --stacks=all (syscall and fault stacks are never sampled)");
	if (s->stack_mode && s->count_only)
		return cli_usage_error(sub, "--stacks needs the calls: it does not go with --no-calls");
	s->argv = s->attach_pid ? NULL : argv + first;
	return 0;
}

/* Options shared by record and trace. Returns 0, 1 if handled here (help), -1 on error. */
int cli_parse_session(const char *sub, int argc, char **argv, struct session_opts *s,
		      const char **out, bool *quiet, bool *json, void (*usage)(FILE *))
{
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' }, { "follow-forks", no_argument, 0, 'f' },
		{ "pid", required_argument, 0, 'p' }, { "duration", required_argument, 0, 'd' },
		{ "buffer-size", required_argument, 0, 'b' }, { "quiet", no_argument, 0, 'q' },
		{ "json", no_argument, 0, 'j' }, { "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' }, CLI_STACK_OPTIONS, { 0 } };
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:fp:d:qvh", longopts, NULL)) != -1) {
		if ((rc = cli_session_option(sub, c, optarg, s)) != 0) {
			if (rc < 0)
				return -1;
			continue;
		}
		switch (c) {
		case 'o': *out = optarg; break;
		case 'q': *quiet = true; break;
		case 'j':
			if (!json)
				return cli_usage_error(sub, "--json is an option of trace");
			*json = true;
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	return cli_session_target(sub, argc, argv, optind, s);
}
