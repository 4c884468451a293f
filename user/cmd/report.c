/* report.c - `faultline report`: replays a trace file through the
 * correlator and writes the text report, the JSON summary, JSONL events,
 * folded stacks or the HTML page. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/callsites.h"
#include "cmd/cli.h"
#include "cmd/report.h"
#include "fl_schema.h"
#include "analyze/correlator.h"
#include "store/meta.h"
#include "output/output.h"
#include "output/html.h"
#include "store/tracefile.h"
#include "util/safe_file.h"

enum format { FMT_TEXT, FMT_JSON, FMT_JSONL, FMT_FOLDED, FMT_HTML };

#define HTML_MARKERS 10000 /* syscall markers on the page's timeline, at most */
#define HTML_POINTS 2000   /* timeline points taken from the recording, at most */

struct report_opts {
	const char *in, *out;
	enum format fmt;
	unsigned max_lines;
	int sites;             /* call sites listed per metric */
	enum cs_metric metric; /* --format folded */
	const char *debug_dir;
	double interval_ms;    /* the timeline's resolution, 0: about `points` points */
	unsigned points;
	bool diff;             /* --diff OLD NEW */
	const char *diff_new;
};

enum { REPORT_CALLS = OPT_LONG_ONLY, REPORT_SITES, REPORT_DEBUG_DIR, REPORT_INTERVAL, REPORT_POINTS, REPORT_DIFF };

static const struct opt report_options[] = {
	{ 'F', "format", "FMT", OPT_CHOICE, 0, 0, "text|json|jsonl|folded|html",
	  "text (default): summary, then each call that caused a syscall,\n"
	  "  then (recorded with --stacks) the top call sites\n"
	  "json: the summary object (schema " FL_SUMMARY_SCHEMA ";\n"
	  "  with stacks, extra.call_sites)\n"
	  "jsonl: one event per line, in order\n"
	  "folded: the recorded stacks as \"root;...;leaf COUNT\" lines, for\n"
	  "  flamegraph.pl and speedscope (needs record --stacks)\n"
	  "html: one self-contained page (use -o PAGE.html): the timeline with\n"
	  "  every syscall marked, flame graphs (with --stacks), the tables" },
	{ 'm', "metric", "M", OPT_CHOICE, 0, 0, "syscalls|faults|bytes",
	  "folded: what a stack counts: syscalls (default), faults\n"
	  "  (first touches) or bytes (requested)" },
	{ 'o', "output", "OUT", OPT_STRING, 0, 0, NULL, "write there instead of stdout" },
	{ REPORT_CALLS, "calls", "N", OPT_UINT, 0, 1e9, NULL, "text: list at most N calls (default 200; 0: none)" },
	{ REPORT_SITES, "sites", "N", OPT_UINT, 1, 1e6, NULL, "text, json: list the top N call sites per metric (default 10)" },
	{ REPORT_INTERVAL, "interval", "MS", OPT_DOUBLE, 0.001, 1e9, NULL,
	  "the heap timeline's resolution: one point per MS milliseconds\n"
	  "  (default: about --points points over the run)" },
	{ REPORT_POINTS, "points", "N", OPT_UINT, 2, 1e6, NULL, "the heap timeline: about N points (default 1000)" },
	{ REPORT_DIFF, "diff", NULL, OPT_FLAG, 0, 0, NULL,
	  "report --diff OLD NEW: what changed between two recordings, per call\n"
	  "  site (both recorded with --stacks) or per function and size class:\n"
	  "  calls, bytes, blocks live at the end, syscalls by kind, first touches,\n"
	  "  largest change first (text, or --format json: " FL_DIFF_SCHEMA ")" },
	{ REPORT_DEBUG_DIR, "debug-dir", "DIR", OPT_STRING, 0, 0, NULL,
	  "separate debug files are looked for in DIR/.build-id/xx/yyy.debug\n"
	  "(default /usr/lib/debug), then by .gnu_debuglink" },
	{ 0 },
};

static const struct cmd_spec report_spec = {
	.name = "report",
	.usage = "faultline report [FILE] [--format text|json|jsonl|folded|html] [-o OUT] [--calls N]\n"
		 "                        [--metric syscalls|faults|bytes] [--sites N] [--debug-dir DIR]\n"
		 "                        [--interval MS | --points N]\n"
		 "       faultline report --diff OLD NEW [--format text|json] [-o OUT] [--calls N]",
	.about = "Replays a recording (default: faultline.data) through the correlator and\n"
		 "prints what it shows.",
	.opts = report_options,
	.after = "Stacks are unwound here, from the stack bytes the kernel copied, with each\n"
		 "object's DWARF CFI (.eh_frame), and frame pointers where there is none; so\n"
		 "code built without frame pointers unwinds too. Symbols come from .symtab,\n"
		 ".dynsym or the debug file, file:line from DWARF. The objects are read from\n"
		 "the paths in the recorded memory maps when the report runs.\n"
		 "\n"
		 "Exit status: 0 done; 1 the output could not be written; 2 bad usage, or the\n"
		 "file is missing, not a faultline recording, corrupt, or was cut short (then\n"
		 "the report covers its whole blocks and says so).\n",
};

static int take_report_option(void *ctx, int key, const struct opt_value *v)
{
	struct report_opts *o = ctx;

	switch (key) {
	case 'F': o->fmt = (enum format)v->choice; break;
	case 'm': o->metric = (enum cs_metric)v->choice; break;
	case 'o': o->out = v->s; break;
	case REPORT_CALLS: o->max_lines = (unsigned)v->u; break;
	case REPORT_SITES: o->sites = (int)v->u; break;
	case REPORT_DEBUG_DIR: o->debug_dir = v->s; break;
	case REPORT_INTERVAL: o->interval_ms = v->d; break;
	case REPORT_POINTS: o->points = (unsigned)v->u; break;
	case REPORT_DIFF: o->diff = true; break;
	}
	return 0;
}

/* 0, OPT_HELP, or -1 after a usage error. */
static int parse_report(int argc, char **argv, struct report_opts *o)
{
	int first;

	o->in = "faultline.data";
	o->max_lines = 200;
	o->sites = 10;
	o->points = 1000;
	first = opts_parse(&report_spec, argc, argv, take_report_option, o);
	if (first < 0)
		return first;
	if (first < argc)
		o->in = argv[first++];
	if (o->diff && first < argc)
		o->diff_new = argv[first++];
	if (o->diff && !o->diff_new)
		return opts_error("report", "--diff needs two recordings: OLD NEW");
	if (o->diff && o->fmt != FMT_TEXT && o->fmt != FMT_JSON)
		return opts_error("report", "--diff writes text or json");
	if (first < argc)
		return opts_error("report", o->diff ? "--diff takes two recordings" : "more than one input file");
	return 0;
}

/* Feeds every record (tf_reader_next returns them 8-byte aligned, as the
 * correlator reads them); returns the reader's final status. */
enum tf_status report_replay(struct tf_reader *r, struct correlator *c)
{
	enum tf_status st = TF_CORRUPT; /* until the replay says otherwise */
	const void *rec;
	uint32_t len;

	while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD)
		corr_feed(c, rec, len);
	corr_finish(c);
	return st;
}

/* A recording made with --stacks: its memory maps, all of them, go to the
 * call-site table before the replay (a stack is unwound with the code the
 * process had mapped at any time, libraries loaded late included). Returns
 * 1 with stacks, 0 without, -1 on a file that cannot be read. */
int report_read_stack_maps(const char *path, struct callsites *cs)
{
	char err[256];
	uint32_t abi;
	struct tf_reader *r = tf_reader_open(path, &abi, err, sizeof(err));
	bool stacks = false;
	const void *rec;
	uint32_t len;

	if (!r)
		return -1;
	while (tf_reader_next(r, &rec, &len) == TF_RECORD) {
		const struct fl_meta *m = rec;

		if (len < sizeof(*m) || m->type != FL_REC_META) {
			if (!stacks)
				break; /* the stack mode is stored before the first event: none */
			continue;
		}
		stacks |= m->kind == FL_META_STACKS;
		callsites_meta(cs, rec, len);
	}
	tf_reader_close(r);
	return stacks;
}

static int write_report(FILE *out, const struct report_opts *o, struct correlator *c,
			struct text_report *tr, struct html_events *he, struct callsites *cs, struct analyses *ha,
			const struct processes *ps, bool truncated)
{
	uint64_t res = corr_run_info(c)->call_time_res;

	if (ha && o->interval_ms > 0 && (double)res > o->interval_ms * 1e6)
		fprintf(stderr, "faultline: note: the recording's allocator calls' times are to %.3f ms (record "
			"--call-times): intervals of %g ms put them at the start of theirs\n", (double)res / 1e6,
			o->interval_ms);
	if (o->fmt == FMT_HTML && html_write(out, he, cs, corr_summary(c), corr_run_info(c), truncated))
		return fprintf(stderr, "faultline: writing %s: %s\n", o->out ? o->out : "stdout",
			       errno ? strerror(errno) : "out of memory"), 1;
	if (o->fmt == FMT_JSON)
		summary_write_json(out, corr_summary(c), corr_run_info(c), truncated);
	else if (o->fmt == FMT_TEXT)
		text_report_write(tr, out, corr_summary(c), corr_run_info(c), truncated);
	if (ha && o->fmt == FMT_TEXT)
		analyses_write_text(ha, out);
	if (o->fmt == FMT_TEXT)
		processes_write_text(ps, out);
	if (cs && o->fmt == FMT_TEXT)
		sites_write_text(cs, out);
	if (cs && o->fmt == FMT_FOLDED)
		folded_write(cs, o->metric, out);
	if (out != stdout && (fflush(out) || ferror(out))) /* stdout: checked at exit (main.c) */
		return fprintf(stderr, "faultline: writing %s: %s\n", o->out, strerror(errno)), 1;
	return 0;
}

/* The call-site table, when the recording has stacks (NULL without). 0, or
 * the exit status of a failure (printed). */
static int open_call_sites(const struct report_opts *o, struct callsites **out)
{
	struct callsites *cs = callsites_new();
	int has;

	*out = NULL;
	if (!cs || (o->debug_dir && callsites_set_debug_dir(cs, o->debug_dir)))
		return fprintf(stderr, "faultline: out of memory\n"), 1;
	callsites_set_top(cs, o->sites);
	has = report_read_stack_maps(o->in, cs);
	if (has <= 0) {
		callsites_free(cs);
		if (o->fmt == FMT_FOLDED)
			return fprintf(stderr, "faultline: %s has no stacks: record it with --stacks for "
				       "--format folded\n", o->in), 2;
		return 0;
	}
	*out = cs;
	return 0;
}

/* The report of an opened recording: its exit status, after any message. */
static int report_file(const struct report_opts *o, struct tf_reader *r, uint32_t abi)
{
	struct text_report *tr = NULL;
	struct html_events *he = NULL;
	struct callsites *cs = NULL;
	struct analyses *ha = NULL;
	struct processes *ps = NULL;
	struct correlator *c;
	FILE *out = stdout;
	struct sf_out outfile;
	enum tf_status st = TF_CORRUPT; /* until the replay says otherwise */
	int rc;

	if (abi != FL_EVENT_ABI)
		return fprintf(stderr, "faultline: %s: event layout %u is not supported (this faultline reads %u)\n",
			       o->in, abi, FL_EVENT_ABI), 2;
	/* blocks are decoded ahead from now on, while the call-site pre-pass
	 * runs too (without the thread: the same records, more slowly) */
	tf_reader_read_ahead(r);
	if (o->fmt != FMT_JSONL && (rc = open_call_sites(o, &cs)) != 0)
		return rc;
	if (o->out && !(out = sf_fopen_out(o->out, &outfile))) {
		fprintf(stderr, "faultline: cannot create %s: %s\n", o->out, sf_strerror(errno));
		callsites_free(cs);
		return 1;
	}
	c = corr_new(16);
	if (o->fmt == FMT_TEXT)
		tr = text_report_new(o->max_lines);
	ps = processes_new();
	if (o->fmt == FMT_HTML)
		he = html_events_new(HTML_MARKERS, HTML_POINTS);
	if (!c || !ps || (o->fmt == FMT_TEXT && (!tr || text_report_attach(tr, c))) || (cs && callsites_attach(cs, c)) ||
	    (o->fmt == FMT_HTML && (!he || html_events_attach(he, c)))) {
		fprintf(stderr, "faultline: out of memory\n");
		rc = 1;
		goto out;
	}
	if (cs)
		summary_json_add_extra("call_sites", sites_write_json, cs);
	if ((o->fmt == FMT_TEXT || o->fmt == FMT_JSON || o->fmt == FMT_HTML) &&
	    (!(ha = analyses_new((uint64_t)(o->interval_ms * 1e6), o->points)) || analyses_attach(ha, c))) {
		fprintf(stderr, "faultline: out of memory\n");
		rc = 1;
		goto out;
	}
	if (ha && cs)
		analyses_use_callsites(ha, cs);
	if (ha)
		summary_json_add_top("analyses", analyses_write_json, ha);
	processes_attach(ps, c);
	summary_json_add_extra("processes", processes_write_json, ps);
	if (o->fmt == FMT_JSONL) {
		struct corr_sink s = jsonl_sink(out);

		corr_add_sink(c, &s);
	}
	st = report_replay(r, c);
	if (ha)
		analyses_finish(ha);
	if (st == TF_CORRUPT) {
		fprintf(stderr, "faultline: %s\n", tf_reader_error(r));
		rc = 2;
	} else {
		rc = write_report(out, o, c, tr, he, cs, ha, ps, st == TF_TRUNCATED);
		if (st == TF_TRUNCATED) {
			fprintf(stderr, "faultline: %s was cut short (the recording did not finish): "
				"the report covers its %llu whole blocks\n", o->in,
				(unsigned long long)tf_reader_blocks(r));
			rc = 2;
		}
	}
	if (corr_bad_records(c))
		fprintf(stderr, "faultline: %llu records could not be read and were skipped\n",
			(unsigned long long)corr_bad_records(c));
out:
	/* a report of a recording cut short is whole for what it covers; none of a corrupt one */
	if (out != stdout && sf_fclose(out, &outfile, st != TF_CORRUPT) && st != TF_CORRUPT && !rc) {
		fprintf(stderr, "faultline: writing %s: %s\n", o->out, strerror(errno));
		rc = 1;
	}
	text_report_free(tr);
	html_events_free(he);
	callsites_free(cs);
	analyses_free(ha);
	processes_free(ps);
	corr_free(c);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = { 0 };
	struct tf_reader *r;
	uint32_t abi;
	char err[1024];
	int rc;

	rc = parse_report(argc, argv, &o);
	if (rc)
		return rc == OPT_HELP ? 0 : FL_EXIT_USAGE;
	if (o.diff) {
		struct diff_opts d = { .old_path = o.in, .new_path = o.diff_new, .out = o.out,
				       .debug_dir = o.debug_dir, .json = o.fmt == FMT_JSON, .max_rows = o.max_lines };

		return report_diff(&d);
	}
	r = tf_reader_open(o.in, &abi, err, sizeof(err));
	if (!r)
		return fprintf(stderr, "faultline: %s\n", err), 2;
	rc = report_file(&o, r, abi);
	tf_reader_close(r); /* the one place the reader is closed */
	return rc;
}
