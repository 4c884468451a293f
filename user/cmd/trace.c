/* trace.c - `faultline trace`: the live view. Attaches to a running
 * process (-p PID) or starts a command, correlates as the events arrive,
 * prints a line per call that caused a syscall or a first-touch fault, a
 * running count on a terminal, and the full summary at the end. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "capture/child.h"
#include "analyze/callsites.h"
#include "cmd/cli.h"
#include "analyze/correlator.h"
#include "output/output.h"
#include "capture/session.h"

struct live {
	struct correlator *corr;
	struct live_printer *lp;
	struct callsites *sites; /* --stacks */
	bool status_line;   /* stderr is a terminal */
	bool line_shown;
};

static int correlate_record(void *ctx, const void *rec, size_t len)
{
	struct live *l = ctx;

	if (l->line_shown) {
		fputs("\r\033[K", stderr);
		l->line_shown = false;
	}
	if (l->sites)
		callsites_meta(l->sites, rec, len);
	corr_feed(l->corr, rec, len);
	return 0;
}

/* Every second: pending call line out, and a running count on a terminal. */
static void live_tick(void *ctx, bool final)
{
	struct live *l = ctx;
	const struct summary *s = corr_summary(l->corr);
	uint64_t calls = 0, sys = 0;

	if (l->lp)
		live_printer_flush(l->lp);
	if (!l->status_line || final)
		return;
	for (int i = 0; i < FL_NCALLS; i++)
		calls += s->calls[i];
	for (int i = 0; i < FL_NSYS; i++)
		sys += s->syscalls[i];
	fprintf(stderr, "\r\033[K[faultline] %llu calls, %llu memory syscalls, %llu faults (%llu first touch)",
		(unsigned long long)calls, (unsigned long long)sys, (unsigned long long)s->faults_total,
		(unsigned long long)s->first_touch);
	l->line_shown = true;
}

enum { TRACE_JSON = SO_NEXT };

static const struct opt trace_options[] = {
	SESSION_ROW_PID("attach to a running process (its PID as the host sees it)"),
	SESSION_ROW_DURATION("stop after SEC seconds"),
	SESSION_ROW_FOLLOW("with CMD: trace the processes it forks too"),
	{ TRACE_JSON, "json", NULL, OPT_FLAG, 0, 0, NULL, "end with the JSON summary on stdout instead of the text one" },
	SESSION_ROW_BUFFER,
	SESSION_ROWS_STACKS,
	SESSION_ROWS_COMMAND,
	{ 'q', "quiet", NULL, OPT_FLAG, 0, 0, NULL, "no running count on stderr" },
	SESSION_ROW_VERBOSE("every call, every first touch by the program, attach time"),
	{ 0 },
};

static const struct cmd_spec trace_spec = {
	.name = "trace",
	.usage = "faultline trace -p PID [--duration SEC] [--json] [-q] [-v] [--stacks[=all]]\n"
		 "       faultline trace [-f] [--json] [-q] [-v] [--stacks[=all]] -- CMD [ARG...]",
	.about = "Live view: attaches to every thread of PID (threads created later included),\n"
		 "or starts CMD, and prints one line per allocator call that caused a memory\n"
		 "syscall or a first-touch fault inside the call. Ctrl-C, --duration or the\n"
		 "target's exit ends it with the full summary.",
	.opts = trace_options,
	.after = "Blocks allocated before the attach are not known: frees of them are counted as\n"
		 "unknown pointers, and faults in them are attributed to the allocator.\n"
		 "\n"
		 "Exit status: 0 (with -p), or CMD's own; 125 if faultline failed; 126/127 if\n"
		 "CMD could not be executed / was not found; 2 bad usage.\n",
	.options_first = true,
};

struct trace_opts {
	bool quiet, json;
	struct session_opts s;
};

static int take_trace_option(void *ctx, int key, const struct opt_value *v)
{
	struct trace_opts *o = ctx;
	int rc = cli_session_option("trace", key, v, &o->s);

	if (rc)
		return rc < 0 ? -1 : 0;
	if (key == TRACE_JSON)
		o->json = true;
	else if (key == 'q')
		o->quiet = true;
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { 0 };
	struct session_opts *so = &o.s;
	struct session_result res;
	struct live l = { 0 };
	struct corr_sink sink;
	struct processes *ps;
	int rc;

	rc = opts_parse(&trace_spec, argc, argv, take_trace_option, &o);
	if (rc == OPT_HELP)
		return 0;
	if (rc < 0 || cli_session_target("trace", argc, argv, rc, so))
		return FL_EXIT_USAGE;
	l.corr = corr_new(16);
	if (!o.json || so->verbose) {
		l.lp = live_printer_new(o.json ? stderr : stdout, so->verbose);
		sink = live_printer_sink(l.lp);
		corr_add_sink(l.corr, &sink);
	}
	if (so->stack_mode && (l.sites = callsites_new()) != NULL) {
		callsites_attach(l.sites, l.corr);
		summary_json_add_extra("call_sites", sites_write_json, l.sites);
	}
	if ((ps = processes_new()) != NULL) {
		processes_attach(ps, l.corr);
		summary_json_add_extra("processes", processes_write_json, ps);
	}
	l.status_line = isatty(2) && !o.quiet;
	so->consume = correlate_record;
	so->tick = live_tick;
	so->ctx = &l;
	rc = session_run(so, &res);
	if (rc == 0) {
		corr_finish(l.corr);
		if (l.lp)
			live_printer_flush(l.lp);
		if (so->verbose)
			fprintf(stderr, "faultline: probes were live %.1f ms after start\n", res.attach_ms);
		if (o.json) {
			summary_write_json(stdout, corr_summary(l.corr), corr_run_info(l.corr), false);
		} else {
			fputc('\n', stdout);
			text_summary_write(stdout, corr_summary(l.corr), corr_run_info(l.corr), false);
			if (ps)
				processes_write_text(ps, stdout);
			if (l.sites)
				sites_write_text(l.sites, stdout);
			if (so->attach_pid)
				fprintf(stdout, "\n(attached to a running process: blocks allocated before the attach "
					"are not known)\n");
		}
		if (!so->attach_pid && res.have_status)
			rc = child_exit_code(res.wait_status);
	}
	live_printer_free(l.lp);
	callsites_free(l.sites);
	processes_free(ps);
	corr_free(l.corr);
	return rc;
}
