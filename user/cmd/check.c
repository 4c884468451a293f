/* check.c - `faultline check`: the CI regression gate. Loads a baseline
 * and a current JSON summary, compares every count against its limit
 * (check/metrics.c) and writes the verdict as text, markdown (a CI job
 * summary) or JUnit XML (CI test-report viewers); --update-baseline accepts
 * a new baseline. Exit 0 pass, 1 a count over its limit, 2 bad input. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check/metrics.h"
#include "check/sites.h"
#include "cmd/cli.h"
#include "util/escape.h"
#include "util/io.h"
#include "util/json_read.h"
#include "util/safe_file.h"

enum check_format { CF_TEXT, CF_MARKDOWN, CF_JUNIT };

struct check_opts {
	const char *base, *cur, *out;
	enum check_format fmt;
	bool update;
	struct limit_rules rules;
	const char *sites; /* --sites LIMIT: each call site's syscalls may grow this much */
};

/* Exit statuses. */
enum { CHECK_PASS = 0, CHECK_FAIL = 1, CHECK_BAD = 2 };

enum { CHECK_UPDATE = OPT_LONG_ONLY, CHECK_SITES };

static const struct opt check_options[] = {
	{ 'b', "baseline", "FILE", OPT_STRING, 0, 0, NULL, "the accepted summary to compare against" },
	{ 'm', "max-increase", "M=LIMIT", OPT_STRING, 0, 0, NULL,
	  "how much metric M may grow (repeatable); LIMIT is\n"
	  "10%    a percentage of the baseline\n"
	  "+50    an absolute amount (50 means the same)\n"
	  "5%,+2  whichever of the two is larger\n"
	  "0      no increase at all\n"
	  "M is a metric (syscalls.mmap), a family (syscalls,\n"
	  "faults, syscalls_by_caller.malloc) or a glob\n"
	  "(syscalls_by_caller.*.mmap, '*'); the most specific\n"
	  "match wins, and any --max-increase beats a default" },
	{ 'F', "format", "FMT", OPT_CHOICE, 0, 0, "text|markdown|md|junit",
	  "text (default), markdown (a table, for a CI job\n"
	  "summary) or junit (XML, one test case per metric)" },
	{ 'o', "output", "OUT", OPT_STRING, 0, 0, NULL, "write there instead of stdout" },
	{ CHECK_SITES, "sites", "LIMIT", OPT_STRING, 0, 0, NULL,
	  "also compare each call site's memory syscalls\n"
	  "(summaries of recordings made with --stacks:\n"
	  "extra.call_sites.syscalls) and fail when one grew\n"
	  "past LIMIT (as --max-increase: 10%, +50, 5%,+2);\n"
	  "the counts are named sites.SITE, SITE without\n"
	  "file:line (lines move between builds)" },
	{ CHECK_UPDATE, "update-baseline", NULL, OPT_FLAG, 0, 0, NULL,
	  "validate CURRENT.json and copy it over BASE.json:\n"
	  "the way to accept a new baseline (refused, exit 2,\n"
	  "if that run lost events or was cut short)" },
	{ 0 },
};

/* The metrics and the default limits, after the options in --help. */
static void check_help_after(FILE *out)
{
	fprintf(out,
		"Metrics: every count under calls.*, syscalls.*, syscalls_by_caller.CALLER.*,\n"
		"faults.* and bytes.*, e.g. calls.malloc, syscalls.mmap,\n"
		"syscalls_by_caller.free.munmap, faults.total, bytes.peak_heap. Not\n"
		"duration_ns (a time, not a count) nor target.pid. A count given as\n"
		"{\"mean\": x, ...} is compared by its mean.\n"
		"lost_events: the current run must have lost none, whatever the limits (a\n"
		"gate must not pass on incomplete data); a recording cut short fails too.\n"
		"\n"
		"A baseline of 0 with a percentage limit allows no increase at all: any\n"
		"count that was 0 and is not now fails, unless an absolute amount is allowed\n"
		"too, as every default below has (syscalls: +4 or 5%%, so 0 to 4 passes).\n"
		"\n"
		"Default limits (from the run-to-run spread of real programs, ASLR on and off):\n");
	for (size_t i = 0; i < fl_default_limits_n; i++) {
		struct limit l;
		char lb[64];

		limit_parse(fl_default_limits[i].limit, &l);
		limit_format(&l, lb, sizeof(lb));
		fprintf(out, "  %-20s %-14s %s\n", fl_default_limits[i].pattern, lb, fl_default_limits[i].why);
	}
	fprintf(out,
		"\n"
		"Exit status: 0 every count within its limit; 1 a count grew past its limit,\n"
		"or the current run lost events; 2 bad usage or bad input (a missing file,\n"
		"bad JSON, a summary of another schema), with one line on stderr.\n");
}

static const struct cmd_spec check_spec = {
	.name = "check",
	.usage = "faultline check --baseline BASE.json CURRENT.json\n"
		 "                       [--max-increase METRIC=LIMIT]... [--format text|markdown|junit] [-o OUT]\n"
		 "       faultline check --update-baseline --baseline BASE.json CURRENT.json",
	.about = "A CI regression gate. Compares each count of CURRENT.json, a summary from\n"
		 "`faultline report --format json` (schema " FL_SUMMARY_SCHEMA "), with the\n"
		 "same count in BASE.json, and fails when one grew past its limit: a change\n"
		 "that makes a program call mmap a thousand more times, or touch twice as\n"
		 "many pages. A decrease always passes.",
	.opts = check_options,
	.after = "",
	.after_fn = check_help_after,
};

static int take_check_option(void *ctx, int key, const struct opt_value *v)
{
	static const enum check_format formats[] = { CF_TEXT, CF_MARKDOWN, CF_MARKDOWN, CF_JUNIT };
	struct check_opts *o = ctx;
	char err[512];

	switch (key) {
	case 'b': o->base = v->s; break;
	case 'm':
		if (limit_rules_add(&o->rules, v->s, err, sizeof(err)))
			return opts_error("check", "%s", err);
		break;
	case 'F': o->fmt = formats[v->choice]; break;
	case 'o': o->out = v->s; break;
	case CHECK_UPDATE: o->update = true; break;
	case CHECK_SITES: {
		struct limit l;

		if (limit_parse(v->s, &l))
			return opts_error("check", "--sites %s: not a limit (10%%, +50, 5%%,+2)", v->s);
		o->sites = v->s;
		break;
	}
	}
	return 0;
}

/* 0, OPT_HELP, or -1 after a usage error. */
static int parse_check(int argc, char **argv, struct check_opts *o)
{
	int first = opts_parse(&check_spec, argc, argv, take_check_option, o);

	if (first < 0)
		return first;
	if (first < argc)
		o->cur = argv[first++];
	if (first < argc)
		return opts_error("check", "more than one current summary ('%s')", argv[first]);
	if (!o->base)
		return opts_error("check", "--baseline BASE.json is required");
	if (!o->cur)
		return opts_error("check", "no current summary (CURRENT.json) given");
	return 0;
}

/* Reads, parses and validates a summary; 0, or -1 after one line on stderr.
 * With sites, its call sites too (sites_load: *sites gets how many it lists). */
static int load_summary(const char *path, char **text, size_t *len, struct summary_doc *d, long *sites)
{
	struct json_value *root;
	char err[768], perr[512];
	size_t n;
	char *buf = json_slurp(path, 0, &n, err, sizeof(err));

	if (!buf) {
		fprintf(stderr, "faultline check: %s\n", err);
		return -1;
	}
	root = json_parse(buf, n, NULL, perr, sizeof(perr));
	if (!root) {
		fprintf(stderr, "faultline check: %s: not valid JSON: %s\n", path, perr);
		free(buf);
		return -1;
	}
	if (summary_load(root, d, perr, sizeof(perr)) ||
	    (sites && (*sites = sites_load(root, d, perr, sizeof(perr))) < 0)) {
		fprintf(stderr, "faultline check: %s: %s\n", path, perr);
		if (sites && *sites < 0)
			summary_doc_free(d);
		json_free(root);
		free(buf);
		return -1;
	}
	json_free(root);
	if (text) {
		*text = buf;
		*len = n;
	} else {
		free(buf);
	}
	return 0;
}

/* Writes CURRENT's bytes over BASE through a temporary file and rename(2),
 * so BASE is never half written. */
static int update_baseline(const struct check_opts *o)
{
	struct summary_doc d;
	char *text, *tmp = NULL;
	size_t len, done = 0;
	struct stat st;
	int fd;

	if (load_summary(o->cur, &text, &len, &d, NULL))
		return CHECK_BAD;
	if (d.lost_events.d > 0 || d.truncated) {
		fprintf(stderr, "faultline check: %s: not accepted as a baseline: the recording %s; record it again\n",
			o->cur, d.truncated ? "was cut short" : "lost events");
		goto bad;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", o->base) < 0) {
		tmp = NULL;
		fprintf(stderr, "faultline check: out of memory\n");
		goto bad;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "faultline check: writing %s: %s\n", o->base, strerror(errno));
		goto bad;
	}
	/* Keep the old baseline's mode; a new one gets the usual 0644. */
	fchmod(fd, stat(o->base, &st) == 0 ? (st.st_mode & 07777) : 0644);
	errno = 0;
	if (io_write_all(fd, text, len) == 0)
		done = len;
	if (close(fd) && done == len)
		done = 0;	/* a failed close is a failed write */
	if (done < len || rename(tmp, o->base)) {
		fprintf(stderr, "faultline check: writing %s: %s\n", o->base, strerror(errno ? errno : EIO));
		unlink(tmp);
		goto bad;
	}
	printf("faultline check: %s is the new baseline (copied from %s, %zu counts)\n", o->base, o->cur, d.n);
	free(tmp);
	free(text);
	summary_doc_free(&d);
	return CHECK_PASS;
bad:
	free(tmp);
	free(text);
	summary_doc_free(&d);
	return CHECK_BAD;
}

/* ---- the verdict, three ways ---- */

struct view {
	const struct check_opts *o;
	const struct summary_doc *base, *cur;
	const struct check_result *res;
};

struct row_text {
	char base[48], cur[48], change[96], limit[64];
};

static void row_strings(const struct check_row *r, struct row_text *t)
{
	count_format(&r->base, t->base, sizeof(t->base));
	count_format(&r->cur, t->cur, sizeof(t->cur));
	if (!r->in_base)
		snprintf(t->base, sizeof(t->base), "-");
	if (!r->in_cur)
		snprintf(t->cur, sizeof(t->cur), "-");
	change_format(&r->base, &r->cur, t->change, sizeof(t->change));
	if (r->kind == ROW_LOST_EVENTS) {
		snprintf(t->limit, sizeof(t->limit), "must be 0");
	} else if (r->kind == ROW_TRUNCATED) {
		snprintf(t->base, sizeof(t->base), "%s", r->base.u ? "yes" : "no");
		snprintf(t->cur, sizeof(t->cur), "yes");
		snprintf(t->change, sizeof(t->change), "cut short");
		snprintf(t->limit, sizeof(t->limit), "must be no");
	} else {
		limit_format(&r->lim, t->limit, sizeof(t->limit));
	}
}

static bool row_changed(const struct check_row *r)
{
	return r->over || r->in_base != r->in_cur || r->base.d != r->cur.d ||
	       (r->base.is_int && r->cur.is_int && r->base.u != r->cur.u);
}

/* Notes on the runs themselves, as plain sentences (one per call of emit). */
static void notes(const struct view *v, void (*emit)(FILE *, const char *, int), FILE *out)
{
	char b[1024], n1[48], n2[48];
	int k = 0;

	if (v->cur->lost_events.d > 0) {
		count_format(&v->cur->lost_events, n1, sizeof(n1));
		snprintf(b, sizeof(b), "The current run lost %s events (the ring buffer was full), so its counts "
			 "are incomplete and the check fails whatever the limits: record it again, with a larger "
			 "`faultline record --buffer-size`.", n1);
		emit(out, b, k++);
	}
	if (v->cur->truncated) {
		emit(out, "The current recording was cut short, so its counts are incomplete and the check fails: "
			  "record it again.", k++);
	}
	if (v->base->lost_events.d > 0) {
		count_format(&v->base->lost_events, n1, sizeof(n1));
		snprintf(b, sizeof(b), "The baseline lost %s events: its counts are too low, which makes this "
			 "check stricter than it should be; accept a complete run with --update-baseline.", n1);
		emit(out, b, k++);
	}
	if (v->base->command && v->cur->command && strcmp(v->base->command, v->cur->command)) {
		snprintf(b, sizeof(b), "The runs differ: the baseline ran `%.400s`, the current run `%.400s`.",
			 v->base->command, v->cur->command);
		emit(out, b, k++);
	}
	if (v->base->have_exit && v->cur->have_exit && v->base->exit_status != v->cur->exit_status) {
		snprintf(n1, sizeof(n1), "%" PRId64, v->base->exit_status);
		snprintf(n2, sizeof(n2), "%" PRId64, v->cur->exit_status);
		snprintf(b, sizeof(b), "The program's exit status changed from %s to %s.", n1, n2);
		emit(out, b, k++);
	}
}

static size_t fail_list(const struct view *v, char *buf, size_t len)
{
	size_t o = 0, shown = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < v->res->n && o < len; i++) {
		if (!v->res->rows[i].over)
			continue;
		if (shown == 8) {
			snprintf(buf + o, len - o, ", ...");
			break;
		}
		o += snprintf(buf + o, len - o, "%s%s", shown ? ", " : "", v->res->rows[i].name);
		shown++;
	}
	return shown;
}

static void text_note(FILE *out, const char *s, int k)
{
	fprintf(out, "%snote: ", k ? "" : "\n");
	esc_puts(out, s, ESC_TEXT); /* it may quote the target's command */
	fputc('\n', out);
}

static void write_text(FILE *out, const struct view *v)
{
	const struct check_result *res = v->res;
	size_t w = strlen("metric");
	char fails[600];

	for (size_t i = 0; i < res->n; i++)
		if (strlen(res->rows[i].name) > w)
			w = strlen(res->rows[i].name);
	fail_list(v, fails, sizeof(fails));
	if (res->failed)
		fprintf(out, "faultline check: FAIL: %zu of %zu checks failed: %s\n",
			res->failed, res->n, fails);
	else
		fprintf(out, "faultline check: pass: all %zu checks within their limits\n", res->n);
	fprintf(out, "baseline: %s\ncurrent:  %s\n\n", v->o->base, v->o->cur);
	fprintf(out, "%-*s %14s %14s  %-24s %-16s %s\n", (int)w, "metric", "baseline", "current", "change",
		"limit", "result");
	for (size_t i = 0; i < res->n; i++) {
		const struct check_row *r = &res->rows[i];
		struct row_text t;

		row_strings(r, &t);
		fprintf(out, "%-*s %14s %14s  %-24s %-16s %s\n", (int)w, r->name, t.base, t.cur, t.change,
			t.limit, r->over ? "FAIL" : "ok");
	}
	notes(v, text_note, out);
}

/* Markdown-safe text: escapes what would start markup, flattens newlines. */
static void md_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\`*_[]<>|#&!", *s))
			fprintf(out, "\\%c", *s);
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

/* A command as a markdown code span: no escapes inside, so no backticks. */
static void md_code(FILE *out, const char *s)
{
	fputc('`', out);
	for (; *s; s++)
		fputc(*s == '`' ? '\'' : (*s == '\n' || *s == '\r') ? ' ' : *s, out);
	fputc('`', out);
}

static void md_note(FILE *out, const char *s, int k)
{
	/* Notes quote commands as `code`: raw inside a span, escaped outside. */
	bool code = false;

	(void)k;
	fprintf(out, "> **Note:** ");
	for (; *s; s++) {
		if (*s == '`')
			code = !code;
		if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else if (!code && strchr("\\*_[]<>|#&!", *s))
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
	fprintf(out, "\n\n");
}

static void md_rows(FILE *out, const struct check_result *res, bool changed)
{
	fprintf(out, "| metric | baseline | current | change | limit | result |\n"
		     "|:--|--:|--:|--:|--:|:--|\n");
	for (size_t i = 0; i < res->n; i++) {
		const struct check_row *r = &res->rows[i];
		struct row_text t;

		if (row_changed(r) != changed)
			continue;
		row_strings(r, &t);
		fprintf(out, "| `%s` | %s | %s | %s | %s | %s |\n", r->name, t.base, t.cur, t.change, t.limit,
			r->over ? "**FAIL**" : "ok");
	}
}

static void write_markdown(FILE *out, const struct view *v)
{
	const struct check_result *res = v->res;
	size_t changed = 0;

	for (size_t i = 0; i < res->n; i++)
		changed += row_changed(&res->rows[i]);
	if (res->failed)
		fprintf(out, "### :x: faultline check: %zu of %zu checks failed\n\n", res->failed,
			res->n);
	else
		fprintf(out, "### :white_check_mark: faultline check: all %zu checks within their limits\n\n",
			res->n);
	fprintf(out, "Baseline ");
	md_text(out, v->o->base);
	fprintf(out, ", current ");
	md_text(out, v->o->cur);
	if (v->cur->command) {
		fprintf(out, ": ");
		md_code(out, v->cur->command);
	}
	fprintf(out, ".\n\n");
	notes(v, md_note, out);
	if (changed)
		md_rows(out, res, true);
	else
		fprintf(out, "No count changed.\n");
	if (changed < res->n) {
		fprintf(out, "\n<details><summary>%zu unchanged counts</summary>\n\n", res->n - changed);
		md_rows(out, res, false);
		fprintf(out, "\n</details>\n");
	}
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* XML-escaped text for an attribute or element; bytes XML 1.0 cannot hold
 * (control characters, broken UTF-8) become '?'. */
static void xml_text(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		int n;

		switch (*s) {
		case '&': fputs("&amp;", out); s++; continue;
		case '<': fputs("&lt;", out); s++; continue;
		case '>': fputs("&gt;", out); s++; continue;
		case '"': fputs("&quot;", out); s++; continue;
		case '\'': fputs("&apos;", out); s++; continue;
		case '\n': fputs("&#10;", out); s++; continue;
		case '\t': fputs("&#9;", out); s++; continue;
		}
		n = utf8_len(s);
		if (n == 0 || (n == 1 && *s < 0x20)) {
			fputc('?', out);
			s++;
			continue;
		}
		fwrite(s, 1, (size_t)n, out);
		s += n;
	}
}

static void junit_note(FILE *out, const char *s, int k)
{
	(void)k;
	xml_text(out, s);
	fputs("&#10;", out);
}

static void write_junit(FILE *out, const struct view *v)
{
	const struct check_result *res = v->res;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(out, "<testsuite name=\"faultline check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n",
		res->n, res->failed);
	fprintf(out, "  <properties>\n    <property name=\"baseline\" value=\"");
	xml_text(out, v->o->base);
	fprintf(out, "\"/>\n    <property name=\"current\" value=\"");
	xml_text(out, v->o->cur);
	fprintf(out, "\"/>\n");
	if (v->cur->command) {
		fprintf(out, "    <property name=\"command\" value=\"");
		xml_text(out, v->cur->command);
		fprintf(out, "\"/>\n");
	}
	fprintf(out, "  </properties>\n");
	for (size_t i = 0; i < res->n; i++) {
		const struct check_row *r = &res->rows[i];
		char msg[512];
		struct row_text t;

		row_strings(r, &t);
		fprintf(out, "  <testcase classname=\"faultline.check\" name=\"%s\" time=\"0\"", r->name);
		if (!r->over) {
			fprintf(out, "/>\n");
			continue;
		}
		if (r->kind == ROW_LOST_EVENTS)
			snprintf(msg, sizeof(msg), "the current run lost %s events: its counts are incomplete", t.cur);
		else if (r->kind == ROW_TRUNCATED)
			snprintf(msg, sizeof(msg), "the current recording was cut short: its counts are incomplete");
		else
			snprintf(msg, sizeof(msg), "%s grew from %s to %s, %s, past its limit of %s", r->name, t.base,
				 t.cur, t.change, t.limit);
		fprintf(out, ">\n    <failure type=\"%s\" message=\"", r->kind == ROW_COUNT ? "limit" : "incomplete");
		xml_text(out, msg);
		fprintf(out, "\">baseline %s, current %s, change %s, limit %s (%s %s)</failure>\n  </testcase>\n",
			t.base, t.cur, t.change, t.limit, r->user_limit ? "--max-increase" : "default for",
			r->limit_from);
	}
	fprintf(out, "  <system-out>");
	notes(v, junit_note, out);
	fprintf(out, "</system-out>\n</testsuite>\n");
}

/* --sites: the limit on every sites.* count; 0, or an exit status after its message. */
static int sites_rule(const struct check_opts *o, struct limit_rules *rules, struct summary_doc *base,
		      long base_sites, const struct summary_doc *cur, long cur_sites)
{
	char arg[128], err[512];

	if (!cur_sites && !base_sites) {
		fprintf(stderr, "faultline check: --sites: neither summary lists call sites (make them from "
			"recordings made with --stacks)\n");
		return CHECK_BAD;
	}
	if (sites_fill_unlisted(base, base_sites, cur, cur_sites)) {
		fprintf(stderr, "faultline check: out of memory\n");
		return CHECK_BAD;
	}
	snprintf(arg, sizeof(arg), FL_SITES_PREFIX "*=%s", o->sites);
	if (limit_rules_add(rules, arg, err, sizeof(err))) {
		fprintf(stderr, "faultline check: --sites: %s\n", err);
		return CHECK_BAD;
	}
	return 0;
}

static int compare(const struct check_opts *o, struct limit_rules *rules)
{
	struct summary_doc base, cur;
	struct check_result res;
	FILE *out = stdout;
	struct sf_out outfile;
	char err[512];
	struct view v;
	bool bad;
	int rc;

	long base_sites = 0, cur_sites = 0;

	if (load_summary(o->base, NULL, NULL, &base, o->sites ? &base_sites : NULL))
		return CHECK_BAD;
	if (load_summary(o->cur, NULL, NULL, &cur, o->sites ? &cur_sites : NULL)) {
		summary_doc_free(&base);
		return CHECK_BAD;
	}
	if (o->sites && (rc = sites_rule(o, rules, &base, base_sites, &cur, cur_sites)) != 0)
		goto done;
	if (check_compare(&base, &cur, rules, &res, err, sizeof(err))) {
		fprintf(stderr, "faultline check: %s\n", err);
		rc = CHECK_BAD;
		goto done;
	}
	if (o->out && strcmp(o->out, "-") && !(out = sf_fopen_out(o->out, &outfile))) {
		fprintf(stderr, "faultline check: %s: %s\n", o->out, sf_strerror(errno));
		rc = CHECK_BAD;
		goto free_res;
	}
	v = (struct view){ .o = o, .base = &base, .cur = &cur, .res = &res };
	if (o->fmt == CF_MARKDOWN)
		write_markdown(out, &v);
	else if (o->fmt == CF_JUNIT)
		write_junit(out, &v);
	else
		write_text(out, &v);
	rc = res.failed ? CHECK_FAIL : CHECK_PASS;
	errno = 0; /* stdout is checked once, at exit (main.c) */
	bad = out != stdout && sf_fclose(out, &outfile, true) != 0;
	if (bad) {
		fprintf(stderr, "faultline check: writing %s: %s\n", o->out, strerror(errno ? errno : EIO));
		rc = CHECK_BAD;
	}
free_res:
	check_result_free(&res);
done:
	summary_doc_free(&base);
	summary_doc_free(&cur);
	return rc;
}

int cmd_check(int argc, char **argv)
{
	struct check_opts o = { 0 };
	int rc;

	rc = parse_check(argc, argv, &o);
	if (rc) {
		limit_rules_free(&o.rules);
		return rc == OPT_HELP ? CHECK_PASS : FL_EXIT_USAGE;
	}
	rc = o.update ? update_baseline(&o) : compare(&o, &o.rules);
	limit_rules_free(&o.rules);
	return rc;
}
