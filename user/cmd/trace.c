/* cmd_trace.c - `faultline trace`: the live view. Attaches to a running
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
	for (int i = 0; i < FL_NFUNC; i++)
		calls += s->calls[i];
	for (int i = 0; i < FL_NSYS; i++)
		sys += s->syscalls[i];
	fprintf(stderr, "\r\033[K[faultline] %llu calls, %llu memory syscalls, %llu faults (%llu first touch)",
		(unsigned long long)calls, (unsigned long long)sys, (unsigned long long)s->faults_total,
		(unsigned long long)s->first_touch);
	l->line_shown = true;
}

static void usage_trace(FILE *out)
{
	fprintf(out,
		"usage: faultline trace -p PID [--duration SEC] [--json] [-v] [--stacks[=all]]\n"
		"       faultline trace [-f] [--json] [-v] [--stacks[=all]] -- CMD [ARG...]\n"
		"\n"
		"Live view: attaches to every thread of PID (threads created later included),\n"
		"or starts CMD, and prints one line per allocator call that caused a memory\n"
		"syscall or a first-touch fault inside the call. Ctrl-C, --duration or the\n"
		"target's exit ends it with the full summary.\n"
		"\n"
		"  -p, --pid PID          attach to a running process (its PID as the host sees it)\n"
		"  -d, --duration SEC     stop after SEC seconds\n"
		"  -f, --follow-forks     with CMD: trace the processes it forks too\n"
		"      --json             end with the JSON summary on stdout instead of the text one\n"
		"      --buffer-size MIB  kernel ring buffer size (default 64, power of 2)\n"
		CLI_STACK_HELP
		"  -v, --verbose          every call, every first touch by the program, attach time\n"
		"  -h, --help             this text\n"
		"\n"
		"Blocks allocated before the attach are not known: frees of them are counted as\n"
		"unknown pointers, and faults in them are attributed to the allocator.\n"
		"\n"
		"Exit status: 0 (with -p), or CMD's own; 125 if faultline failed; 126/127 if\n"
		"CMD could not be executed / was not found; 2 bad usage.\n");
}

int cmd_trace(int argc, char **argv)
{
	struct session_opts so = { 0 };
	struct session_result res;
	struct live l = { 0 };
	const char *unused_out = NULL;
	bool quiet = false, json = false;
	struct corr_sink sink;
	int rc;

	rc = cli_parse_session("trace", argc, argv, &so, &unused_out, &quiet, &json, usage_trace);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (unused_out)
		return cli_usage_error("trace", "-o is an option of record"), 2;
	l.corr = corr_new(16);
	if (!json || so.verbose) {
		l.lp = live_printer_new(json ? stderr : stdout, so.verbose);
		sink = live_printer_sink(l.lp);
		corr_add_sink(l.corr, &sink);
	}
	if (so.stack_mode && (l.sites = callsites_new()) != NULL) {
		callsites_attach(l.sites, l.corr);
		summary_json_add_extra("call_sites", callsites_write_json, l.sites);
	}
	l.status_line = isatty(2) && !quiet;
	so.consume = correlate_record;
	so.tick = live_tick;
	so.ctx = &l;
	rc = session_run(&so, &res);
	if (rc == 0) {
		corr_finish(l.corr);
		if (l.lp)
			live_printer_flush(l.lp);
		if (so.verbose)
			fprintf(stderr, "faultline: probes were live %.1f ms after start\n", res.attach_ms);
		if (json) {
			summary_write_json(stdout, corr_summary(l.corr), corr_run_info(l.corr), false);
		} else {
			fputc('\n', stdout);
			text_summary_write(stdout, corr_summary(l.corr), corr_run_info(l.corr), false);
			if (l.sites)
				callsites_write_text(l.sites, stdout);
			if (so.attach_pid)
				fprintf(stdout, "\n(attached to a running process: blocks allocated before the attach "
					"are not known)\n");
		}
		if (!so.attach_pid && res.have_status)
			rc = child_exit_code(res.wait_status);
	}
	live_printer_free(l.lp);
	callsites_free(l.sites);
	corr_free(l.corr);
	return rc;
}
