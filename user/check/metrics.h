/* check_metrics.h - what `faultline check` compares: a summary's counts
 * flattened to dotted names (syscalls.mmap, faults.total, ...), the limits
 * on how much each may grow (10%, +50, or both), the default limits, and
 * the comparison of a current summary against a baseline. */
#ifndef FL_CHECK_METRICS_H
#define FL_CHECK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fl_schema.h"
#include "util/json_read.h"

#define FL_CHECK_MAX_METRICS 100000

/* A count: exact when it is an integer; a mean (from `stat -r N`) may not be. */
struct fl_count {
	bool is_int;
	uint64_t u;		/* is_int: the value */
	double d;		/* always: the value as a double */
};

struct metric {
	char *name;		/* "syscalls_by_caller.malloc.mmap" */
	struct fl_count v;
};

/* What check needs from one summary file. */
struct summary_doc {
	struct metric *m;	/* in document order */
	size_t n;
	struct fl_count lost_events;
	bool truncated;		/* extra.truncated: the recording was cut short */
	char *command;		/* target.command joined by spaces, or NULL */
	bool have_exit;
	int64_t exit_status;
};

/* Validates a parsed summary (schema, sections, every count a non-negative
 * number or {"mean": x, ...}) and flattens its counts into out. Returns 0,
 * or -1 with a one-line reason in err. */
int summary_load(const struct json_value *root, struct summary_doc *out, char *err, size_t errlen);
void summary_doc_free(struct summary_doc *d);

/* How much a count may grow over its baseline: a percentage of the
 * baseline, an absolute amount, or (both set) whichever is larger. With a
 * baseline of 0 a percentage allows nothing: any increase fails unless an
 * absolute amount is also allowed. */
struct limit {
	bool has_pct, has_abs;
	double pct, abs;
};

/* "10%", "+50", "50", "0%", "5%,+2" (or "+2,5%": whichever is larger).
 * Returns 0, or -1 if s is not such a limit. */
int limit_parse(const char *s, struct limit *out);
/* "10%", "+50", "+2 or 5%" */
void limit_format(const struct limit *l, char *buf, size_t len);
/* The largest current value within the limit is base + allowed. */
long double limit_allowed(const struct limit *l, const struct fl_count *base);
/* true when cur grew past base by more than the limit allows. */
bool limit_exceeded(const struct limit *l, const struct fl_count *base, const struct fl_count *cur);

/* A --max-increase PATTERN=LIMIT rule. PATTERN is a metric name
 * (syscalls.mmap), a family (syscalls: every syscalls.* count) or an
 * fnmatch(3) glob (syscalls_by_caller.*.mmap, *). */
struct limit_rule {
	char *pattern;
	struct limit lim;
	size_t matched;		/* metrics it matched in the last check_compare */
};

struct limit_rules {
	struct limit_rule *r;
	size_t n;
};

/* Parses "PATTERN=LIMIT" and appends it. Returns 0, or -1 with err. */
int limit_rules_add(struct limit_rules *rules, const char *arg, char *err, size_t errlen);
void limit_rules_free(struct limit_rules *rules);
/* How well pattern matches name: -1 not at all; else higher is more
 * specific (an exact name beats any glob or family). */
int pattern_match(const char *pattern, const char *name);

/* The built-in limits, most specific match wins (see check_metrics.c for
 * the measurements they come from). */
struct default_limit {
	const char *pattern;
	const char *limit;	/* in limit_parse syntax */
	const char *why;
};
extern const struct default_limit fl_default_limits[];
extern const size_t fl_default_limits_n;

enum row_kind {
	ROW_COUNT,		/* a count against its limit */
	ROW_LOST_EVENTS,	/* current lost_events must be 0 */
	ROW_TRUNCATED,		/* the current recording must not be cut short */
};

struct check_row {
	enum row_kind kind;
	const char *name;	/* points into a summary_doc, or a literal */
	struct fl_count base, cur;
	bool in_base, in_cur;	/* a count missing from one side counts as 0 */
	struct limit lim;
	const char *limit_from;	/* the pattern that set the limit */
	bool user_limit;	/* set by --max-increase, not a default */
	bool over;
};

struct check_result {
	struct check_row *rows;
	size_t n, failed;
};

/* Compares cur against base: every count of either, lost_events, and a
 * truncated row when cur was cut short. rules (may be NULL) override the
 * defaults. Returns 0, or -1 with err (a rule that matches no metric,
 * duplicate names, out of memory). */
int check_compare(const struct summary_doc *base, const struct summary_doc *cur,
		  struct limit_rules *rules, struct check_result *res, char *err, size_t errlen);
void check_result_free(struct check_result *res);

/* "123" or "12.50" */
void count_format(const struct fl_count *c, char *buf, size_t len);
/* "+200 (+2222.2%)", "-3 (-1.5%)", "0", "+7 (was 0)" */
void change_format(const struct fl_count *base, const struct fl_count *cur, char *buf, size_t len);

#endif
