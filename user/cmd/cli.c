/* cli.c - what the subcommands share on the command line: the values of a
 * tracing session's options (-p -d -f -v --buffer-size --stacks ...; the
 * table has checked their form, this checks what they mean together), then
 * the command or the pid. */
#include <stdio.h>
#include <string.h>
#include "cmd/cli.h"
#include "capture/session.h"

int cli_session_option(const char *sub, int key, const struct opt_value *v, struct session_opts *s)
{
	switch (key) {
	case 'f': s->follow_forks = true; return 1;
	case 'v': s->verbose++; return 1;
	case 'p': s->attach_pid = (pid_t)v->u; return 1;
	case 'd': s->duration_s = v->d; return 1;
	case SO_STACKS: s->stack_mode = v->choice == 1 ? FL_STACKS_ALL : FL_STACKS_EVENTS; return 1;
	case SO_SAMPLE: s->stack_sample = (unsigned)v->u; return 1;
	case SO_STACK_SIZE: s->stack_bytes = (unsigned)v->u; return 1;
	case SO_USER:
		if (!*v->s)
			return opts_error(sub, "--user takes a user name or id");
		s->user = v->s;
		return 1;
	case SO_PROBES: s->probes = v->choice; return 1;
	case SO_LOSSY: s->lossy = true; return 1;
	case SO_ON_ERROR: s->on_error = v->choice == 1 ? FL_ON_ERROR_DETACH : FL_ON_ERROR_KILL; return 1;
	case SO_BUFFER:
		if (v->u & (v->u - 1))
			return opts_error(sub, "--buffer-size takes a power of 2 from 1 to 4096 (MiB), not %llu", v->u);
		s->ringbuf_bytes = (size_t)v->u << 20;
		return 1;
	default:
		return 0;
	}
}

int cli_session_target(const char *sub, int argc, char **argv, int first, struct session_opts *s)
{
	if (s->attach_pid && first < argc)
		return opts_error(sub, "give either -p PID or -- CMD, not both");
	if (s->attach_pid && s->probes == 1)
		return opts_error(sub, "--probes preload goes with CMD: -p PID is traced with uprobes");
	if (s->attach_pid && s->follow_forks)
		return opts_error(sub, "-f goes with CMD, not with -p");
	if (!s->attach_pid && first >= argc)
		return opts_error(sub, "no command given: give -- CMD [ARG...], or -p PID");
	if (s->stack_sample > 1 && s->stack_mode != FL_STACKS_ALL)
		return opts_error(sub, "--sample goes with --stacks=all (syscall and fault stacks are never sampled)");
	if (s->stack_mode && s->count_only)
		return opts_error(sub, "--stacks needs the calls: it does not go with --no-calls");
	s->argv = s->attach_pid ? NULL : argv + first;
	return 0;
}
