/* cmd_stat.c - `faultline stat`: counts only. Runs CMD (or attaches to PID)
 * under the probes, correlates in memory as the events arrive and keeps no
 * trace; prints the summary, or writes the summary JSON of `report` (the
 * input of `faultline check`). With -r N, runs CMD N times and reports the
 * mean of each count, with its standard deviation in extra.stddev. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/child.h"
#include "analyze/callsites.h"
#include "cmd/cli.h"
#include "analyze/correlator.h"
#include "output/output.h"
#include "capture/session.h"

#define SUMMARY_WORDS (sizeof(struct summary) / sizeof(uint64_t))
_Static_assert(sizeof(struct summary) % sizeof(uint64_t) == 0, "struct summary is all uint64_t");

struct stat_run {
	struct correlator *corr;
	struct callsites *sites; /* --stacks */
};

static int correlate(void *ctx, const void *rec, size_t len)
{
	struct stat_run *r = ctx;

	if (r->sites)
		callsites_meta(r->sites, rec, len);
	corr_feed(r->corr, rec, len);
	return 0;
}

static const struct opt stat_options[] = {
	{ 'j', "json", "FILE", OPT_STRING, 0, 0, NULL, "write the summary JSON to FILE (- for stdout)" },
	{ 'n', "no-calls", NULL, OPT_FLAG, 0, 0, NULL,
	  "no uprobes: syscalls by kind and faults by mode only, counted\n"
	  "in the kernel (the cheapest mode; calls, callers, owners and\n"
	  "bytes are then 0, and extra.mode says so)" },
	{ 'r', "repeat", "N", OPT_UINT, 1, 10000, NULL, "run CMD N times: counts are means, extra.stddev has the spread" },
	SESSION_ROW_PID("attach to a running process (needs --duration or Ctrl-C)"),
	SESSION_ROW_DURATION("stop after SEC seconds"),
	SESSION_ROW_FOLLOW("count the processes CMD forks too"),
	SESSION_ROWS_STACKS,
	{ 'q', "quiet", NULL, OPT_FLAG, 0, 0, NULL, "no text summary" },
	SESSION_ROW_VERBOSE("attach details"),
	{ 0 },
};

static const struct cmd_spec stat_spec = {
	.name = "stat",
	.usage = "faultline stat [--json FILE] [-r N] [-f] [-q] [-v] [-n | --stacks[=all]] -- CMD [ARG...]\n"
		 "       faultline stat -p PID --duration SEC [--json FILE] [-q] [-n]",
	.about = "Counts allocator calls, memory syscalls (by kind and by the call that caused\n"
		 "them), page faults (by mode and owner) and bytes, without writing a trace.\n"
		 "The summary goes to stderr; --json writes the summary JSON (the same schema as\n"
		 "`faultline report --format json`, the input of `faultline check`).",
	.opts = stat_options,
	.after = "Exit status: CMD's own (of its last run); 125 if faultline failed; 126/127 if\n"
		 "CMD could not be executed / was not found; 2 bad usage.\n",
	.options_first = true,
};

struct stat_opts {
	const char *json;
	unsigned runs;
	bool quiet;
	struct session_opts s;
};

static int take_stat_option(void *ctx, int key, const struct opt_value *v)
{
	struct stat_opts *o = ctx;
	int rc = cli_session_option("stat", key, v, &o->s);

	if (rc)
		return rc < 0 ? -1 : 0;
	switch (key) {
	case 'j': o->json = v->s; break;
	case 'n': o->s.count_only = true; break;
	case 'r': o->runs = (unsigned)v->u; break;
	case 'q': o->quiet = true; break;
	}
	return 0;
}

static int parse_stat(int argc, char **argv, struct stat_opts *o)
{
	int first;

	o->runs = 1;
	first = opts_parse(&stat_spec, argc, argv, take_stat_option, o);
	if (first < 0)
		return first;
	if (o->s.attach_pid && o->runs > 1)
		return opts_error("stat", "-r goes with CMD, not with -p");
	return cli_session_target("stat", argc, argv, first, &o->s);
}

/* --no-calls: the syscalls and faults the kernel counted (all outside any
 * known call; owners unknown). */
static void add_kernel_counts(struct summary *s, const struct session_result *res)
{
	for (int k = 0; k < FL_NSYS; k++) {
		s->syscalls[k] += res->counters[FL_CNT_SYSCALL + k];
		s->by_caller[FL_CALLER_NONE][k] += res->counters[FL_CNT_SYSCALL + k];
	}
	s->faults_total += res->counters[FL_CNT_FAULTS];
	s->faults_kernel += res->counters[FL_CNT_FAULTS_KERNEL];
	s->faults_user += res->counters[FL_CNT_FAULTS] - res->counters[FL_CNT_FAULTS_KERNEL];
	s->first_touch += res->counters[FL_CNT_FIRST_TOUCH];
	s->kernel_counted = 1;
}

/* Mean and standard deviation of every count over the runs. */
static void summarize_runs(const struct summary *runs, unsigned n, struct summary *mean, struct summary *sd)
{
	const uint64_t (*v)[SUMMARY_WORDS] = (const void *)runs;
	uint64_t *m = (uint64_t *)mean, *d = (uint64_t *)sd;

	for (size_t w = 0; w < SUMMARY_WORDS; w++) {
		double sum = 0, sq = 0, mu;

		for (unsigned i = 0; i < n; i++)
			sum += (double)v[i][w];
		mu = sum / n;
		for (unsigned i = 0; i < n; i++)
			sq += ((double)v[i][w] - mu) * ((double)v[i][w] - mu);
		m[w] = (uint64_t)llround(mu);
		d[w] = (uint64_t)llround(n > 1 ? sqrt(sq / (n - 1)) : 0);
	}
}

static int write_json(const char *path, const struct summary *mean, const struct run_info *ri,
		      unsigned runs, const struct summary *sd)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "we") : stdout;

	if (!f)
		return fprintf(stderr, "faultline: cannot create %s: %s\n", path, strerror(errno)), -1;
	summary_write_json_runs(f, mean, ri, false, runs, sd);
	if (f != stdout && (fflush(f) || ferror(f) || fclose(f))) /* stdout: checked at exit (main.c) */
		return fprintf(stderr, "faultline: writing %s: %s\n", path, strerror(errno)), -1;
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	struct stat_opts o = { 0 };
	struct summary *runs, mean, sd;
	struct stat_run run = { 0 };
	struct session_result res = { 0 };
	int rc = 0;

	rc = parse_stat(argc, argv, &o);
	if (rc == OPT_HELP)
		return 0;
	if (rc)
		return FL_EXIT_USAGE;
	runs = calloc(o.runs, sizeof(*runs));
	if (!runs)
		return fprintf(stderr, "faultline: out of memory\n"), FL_EXIT_FAILED;
	for (unsigned i = 0; i < o.runs && rc == 0; i++) {
		corr_free(run.corr);
		callsites_free(run.sites);
		run.corr = corr_new(16);
		run.sites = NULL;
		if (o.s.stack_mode && (run.sites = callsites_new()) != NULL)
			callsites_attach(run.sites, run.corr);
		o.s.consume = correlate;
		o.s.ctx = &run;
		rc = session_run(&o.s, &res);
		corr_finish(run.corr);
		runs[i] = *corr_summary(run.corr);
		if (o.s.count_only)
			add_kernel_counts(&runs[i], &res);
		if (o.runs > 1 && !o.quiet)
			fprintf(stderr, "faultline stat: run %u of %u done\n", i + 1, o.runs);
	}
	if (rc == 0) {
		summarize_runs(runs, o.runs, &mean, &sd);
		if (!o.quiet) {
			text_summary_write(stderr, &mean, corr_run_info(run.corr), false);
			if (o.runs > 1)
				fprintf(stderr, "(means of %u runs; the standard deviations are in the JSON)\n", o.runs);
			if (run.sites) {
				callsites_write_text(run.sites, stderr);
				if (o.runs > 1)
					fprintf(stderr, "(call sites: the last run)\n");
			}
		}
		if (run.sites)
			summary_json_add_extra("call_sites", callsites_write_json, run.sites);
		if (o.json && write_json(o.json, &mean, corr_run_info(run.corr), o.runs, &sd))
			rc = FL_EXIT_FAILED;
		else if (!o.s.attach_pid && res.have_status)
			rc = child_exit_code(res.wait_status);
	}
	corr_free(run.corr);
	callsites_free(run.sites);
	free(runs);
	return rc;
}
