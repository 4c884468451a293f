/* cmd_report.c - `faultline report`: replays a trace file through the
 * correlator and writes the text report, the JSON summary or JSONL events. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "correlator.h"
#include "report.h"
#include "tracefile.h"

enum format { FMT_TEXT, FMT_JSON, FMT_JSONL };

struct report_opts {
	const char *in, *out;
	enum format fmt;
	unsigned max_lines;
};

static void usage_report(FILE *out)
{
	fprintf(out,
		"usage: faultline report [FILE] [--format text|json|jsonl] [-o OUT] [--calls N]\n"
		"\n"
		"Replays a recording (default: faultline.data) through the correlator and\n"
		"prints what it shows.\n"
		"\n"
		"  -F, --format FMT   text (default): summary, then each call that caused a syscall\n"
		"                     json: the summary object (schema faultline.summary.v1)\n"
		"                     jsonl: one event per line, in order\n"
		"  -o, --output OUT   write there instead of stdout\n"
		"      --calls N      text: list at most N calls (default 200)\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 done; 1 bad usage or output error; 2 the file is not a\n"
		"faultline recording, is corrupt, or was cut short (then the report covers\n"
		"its whole blocks and says so).\n");
}

static int parse_report(int argc, char **argv, struct report_opts *o)
{
	static const struct option longopts[] = {
		{ "format", required_argument, 0, 'F' }, { "output", required_argument, 0, 'o' },
		{ "calls", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' }, { 0 } };
	int c;

	o->in = "faultline.data";
	o->max_lines = 200;
	while ((c = getopt_long(argc, argv, "F:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (!strcmp(optarg, "text")) o->fmt = FMT_TEXT;
			else if (!strcmp(optarg, "json")) o->fmt = FMT_JSON;
			else if (!strcmp(optarg, "jsonl")) o->fmt = FMT_JSONL;
			else return cli_usage_error("report", "--format takes text, json or jsonl");
			break;
		case 'o': o->out = optarg; break;
		case 'c': o->max_lines = strtoul(optarg, NULL, 10); break;
		case 'h': usage_report(stdout); exit(0);
		default: usage_report(stderr); return -1;
		}
	}
	if (optind < argc)
		o->in = argv[optind++];
	if (optind < argc)
		return cli_usage_error("report", "more than one input file");
	return 0;
}

/* Feeds every record (tf_reader_next returns them 8-byte aligned, as the
 * correlator reads them); returns the reader's final status. */
static enum tf_status replay(struct tf_reader *r, struct correlator *c)
{
	enum tf_status st;
	const void *rec;
	uint32_t len;

	while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD)
		corr_feed(c, rec, len);
	corr_finish(c);
	return st;
}

static int write_report(FILE *out, const struct report_opts *o, struct correlator *c,
			struct text_report *tr, bool truncated)
{
	if (o->fmt == FMT_JSON)
		summary_write_json(out, corr_summary(c), corr_run_info(c), truncated);
	else if (o->fmt == FMT_TEXT)
		text_report_write(tr, out, corr_summary(c), corr_run_info(c), truncated);
	if (fflush(out) || ferror(out))
		return fprintf(stderr, "faultline: writing %s: %s\n", o->out ? o->out : "stdout",
			       strerror(errno)), 1;
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = { 0 };
	struct text_report *tr = NULL;
	struct correlator *c;
	struct tf_reader *r;
	FILE *out = stdout;
	enum tf_status st;
	uint32_t abi;
	char err[1024];
	int rc;

	if (parse_report(argc, argv, &o))
		return 1;
	r = tf_reader_open(o.in, &abi, err, sizeof(err));
	if (!r)
		return fprintf(stderr, "faultline: %s\n", err), 2;
	if (abi != FL_EVENT_ABI) {
		fprintf(stderr, "faultline: %s: event layout %u is not supported (this faultline reads %u)\n",
			o.in, abi, FL_EVENT_ABI);
		tf_reader_close(r);
		return 2;
	}
	if (o.out && !(out = fopen(o.out, "we"))) {
		fprintf(stderr, "faultline: cannot create %s: %s\n", o.out, strerror(errno));
		tf_reader_close(r);
		return 1;
	}
	c = corr_new(16);
	if (o.fmt == FMT_JSONL) {
		struct corr_sink s = jsonl_sink(out);

		corr_add_sink(c, &s);
	} else if (o.fmt == FMT_TEXT) {
		struct corr_sink s;

		tr = text_report_new(o.max_lines);
		s = text_report_sink(tr);
		corr_add_sink(c, &s);
	}
	st = replay(r, c);
	if (st == TF_CORRUPT) {
		fprintf(stderr, "faultline: %s\n", tf_reader_error(r));
		rc = 2;
	} else {
		rc = write_report(out, &o, c, tr, st == TF_TRUNCATED);
		if (st == TF_TRUNCATED) {
			fprintf(stderr, "faultline: %s was cut short (the recording did not finish): "
				"the report covers its %llu whole blocks\n", o.in,
				(unsigned long long)tf_reader_blocks(r));
			rc = 2;
		}
	}
	if (corr_bad_records(c))
		fprintf(stderr, "faultline: %llu records could not be read and were skipped\n",
			(unsigned long long)corr_bad_records(c));
	if (out != stdout && fclose(out) && !rc) {
		fprintf(stderr, "faultline: writing %s: %s\n", o.out, strerror(errno));
		rc = 1;
	}
	text_report_free(tr);
	corr_free(c);
	tf_reader_close(r);
	return rc;
}
