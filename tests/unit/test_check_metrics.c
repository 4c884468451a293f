/* test_check_metrics.c - what `faultline check` compares: flattening and
 * validating summaries, parsing limits (10%, +50, 50, 0%, 5%,+2, invalid),
 * over/under decisions (zero baselines, exact big counts, means), rule
 * precedence, and whole comparisons. Links json_read.o. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "check/metrics.h"
#include "util/json_read.h"

/* A faultline.summary.v1 document as `faultline report --format json`
 * writes it; %s slots: schema, syscalls.mmap, lost_events, extra. */
static const char doc_fmt[] =
	"{\"schema\":\"%s\",\"target\":{\"command\":[\"./prog\",\"a b\"],\"pid\":42,\"exit_status\":0},"
	"\"duration_ns\":123456,\"lost_events\":%s,"
	"\"calls\":{\"malloc\":200,\"calloc\":0,\"realloc\":0,\"reallocarray\":0,\"free\":200,"
	"\"posix_memalign\":0,\"aligned_alloc\":0,\"memalign\":0,\"valloc\":0,\"pvalloc\":0},"
	"\"syscalls\":{\"brk\":3,\"mmap\":%s,\"munmap\":1,\"mremap\":0,\"mprotect\":4,\"madvise\":0},"
	"\"syscalls_by_caller\":{"
	"\"malloc\":{\"brk\":2,\"mmap\":0,\"munmap\":0,\"mremap\":0,\"mprotect\":0,\"madvise\":0},"
	"\"free\":{\"brk\":0,\"mmap\":0,\"munmap\":0,\"mremap\":0,\"mprotect\":0,\"madvise\":0},"
	"\"none\":{\"brk\":1,\"mmap\":8,\"munmap\":1,\"mremap\":0,\"mprotect\":4,\"madvise\":0}},"
	"\"faults\":{\"total\":53,\"user_mode\":50,\"kernel_mode\":3,\"allocation\":0,\"allocator\":2,\"other\":51},"
	"\"bytes\":{\"requested\":819200,\"peak_live\":4096,\"peak_heap\":135168,\"peak_mmap\":0},"
	"\"extra\":{%s}}";
#define DOC_METRICS (10 + 6 + 3 * 6 + 6 + 4)

static struct json_value *parse_or_die(const char *text)
{
	char err[256];
	struct json_value *v = json_parse(text, strlen(text), NULL, err, sizeof(err));

	if (!v)
		fail_msg("test document does not parse: %s", err);
	return v;
}

/* Loads a summary from doc_fmt; returns summary_load's result, err set. */
static int load_doc(struct summary_doc *d, const char *schema, const char *mmap, const char *lost,
		    const char *extra, char *err, size_t errlen)
{
	char text[4096];
	struct json_value *v;
	int rc;

	snprintf(text, sizeof(text), doc_fmt, schema, lost, mmap, extra);
	v = parse_or_die(text);
	rc = summary_load(v, d, err, errlen);
	json_free(v);
	return rc;
}

static void load_ok(struct summary_doc *d, const char *mmap, const char *lost, const char *extra)
{
	char err[256];

	if (load_doc(d, FL_SUMMARY_SCHEMA, mmap, lost, extra, err, sizeof(err)))
		fail_msg("summary_load: %s", err);
}

/* summary_load on raw text must fail with a message containing want. */
static void load_bad(const char *text, const char *want)
{
	struct summary_doc d;
	char err[256] = "";
	struct json_value *v = parse_or_die(text);

	if (summary_load(v, &d, err, sizeof(err)) == 0) {
		summary_doc_free(&d);
		json_free(v);
		fail_msg("accepted: %s", text);
	}
	json_free(v);
	if (!strstr(err, want))
		fail_msg("message '%s' lacks '%s'", err, want);
}

static const struct metric *find(const struct summary_doc *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->m[i].name, name))
			return &d->m[i];
	return NULL;
}

static struct fl_count I(uint64_t u)
{
	return (struct fl_count){ .is_int = true, .u = u, .d = (double)u };
}

static struct fl_count D(double x)
{
	return (struct fl_count){ .is_int = false, .d = x };
}

static struct limit L(const char *s)
{
	struct limit l;

	if (limit_parse(s, &l))
		fail_msg("limit_parse(\"%s\") failed", s);
	return l;
}

static bool over(const char *lim, struct fl_count base, struct fl_count cur)
{
	struct limit l = L(lim);

	return limit_exceeded(&l, &base, &cur);
}

/* ---- flattening ---- */

static void test_flatten(void **state)
{
	struct summary_doc d;
	const struct metric *m;

	(void)state;
	load_ok(&d, "9", "0", "\"truncated\":false");
	assert_int_equal(d.n, DOC_METRICS);
	assert_string_equal(d.m[0].name, "calls.malloc");	/* document order */
	m = find(&d, "syscalls.mmap");
	assert_non_null(m);
	assert_true(m->v.is_int && m->v.u == 9);
	m = find(&d, "syscalls_by_caller.none.mmap");
	assert_true(m && m->v.u == 8);
	assert_non_null(find(&d, "faults.kernel_mode"));
	assert_non_null(find(&d, "bytes.peak_heap"));
	assert_null(find(&d, "duration_ns"));	/* a time, not a count */
	assert_null(find(&d, "target.pid"));
	assert_null(find(&d, "lost_events"));	/* a row of its own, not a count */
	assert_true(d.lost_events.is_int && d.lost_events.u == 0);
	assert_false(d.truncated);
	assert_string_equal(d.command, "./prog a b");
	assert_true(d.have_exit && d.exit_status == 0);
	summary_doc_free(&d);
}

static void test_flatten_means_and_big(void **state)
{
	struct summary_doc d;
	const struct metric *m;

	(void)state;
	/* `stat -r N` may give {"mean":x,"stddev":y}: the mean counts. */
	load_ok(&d, "{\"mean\":12.5,\"stddev\":0.5}", "{\"mean\":0,\"stddev\":0}", "\"truncated\":true");
	m = find(&d, "syscalls.mmap");
	assert_false(m->v.is_int);
	assert_true(m->v.d == 12.5);
	assert_true(d.truncated);
	summary_doc_free(&d);
	load_ok(&d, "18446744073709551615", "0", "");
	m = find(&d, "syscalls.mmap");
	assert_true(m->v.is_int && m->v.u == UINT64_MAX);
	summary_doc_free(&d);
	load_ok(&d, "12.0", "0", "");	/* a whole number written as a float */
	m = find(&d, "syscalls.mmap");
	assert_true(m->v.is_int && m->v.u == 12);
	summary_doc_free(&d);
}

static void test_flatten_errors(void **state)
{
	struct summary_doc d;
	char err[256];

	(void)state;
	assert_int_equal(load_doc(&d, "faultline.summary.v2", "9", "0", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "faultline.summary.v2"));
	assert_non_null(strstr(err, FL_SUMMARY_SCHEMA));
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "\"9\"", "0", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "syscalls.mmap is a string"));
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "-1", "0", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "negative"));
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "null", "0", "", err, sizeof(err)), -1);
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "[1]", "0", "", err, sizeof(err)), -1);
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "{\"stddev\":1}", "0", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mean"));
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "{\"mean\":\"x\"}", "0", "", err, sizeof(err)), -1);
	assert_int_equal(load_doc(&d, FL_SUMMARY_SCHEMA, "1", "true", "", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lost_events"));

	load_bad("[]", "not a faultline summary");
	load_bad("42", "not a faultline summary");
	load_bad("{}", "no \"schema\"");
	load_bad("{\"schema\":1}", "no \"schema\"");
	load_bad("{\"schema\":\"faultline.summary.v1\\u0000x\"}", "schema is");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"calls\":{}}", "without");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":[],\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "calls is an array");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"a.b\":1},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "not a count name");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"a[\":1},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "not a count name");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"[]\":1},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "not a count name");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"\":1},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "not a count name");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"a\\u0000\":1},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}", "not a count name");
	{
		/* a key given twice: the JSON reader rejects it before summary_load */
		const char *twice = "{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"a\":1,\"a\":2},"
				    "\"syscalls\":{},\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}";
		char perr[256];

		assert_null(json_parse(twice, strlen(twice), NULL, perr, sizeof(perr)));
		assert_non_null(strstr(perr, "duplicate key \"a\""));
	}
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{\"x\":1},\"faults\":{},\"bytes\":{}}", "syscalls_by_caller.x is a number");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{},\"syscalls\":{},"
		 "\"syscalls_by_caller\":[],\"faults\":{},\"bytes\":{}}", "syscalls_by_caller is an array");
	load_bad("{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{},\"syscalls\":{},"
		 "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{},\"target\":7}", "target is a number");
	/* The C++ array forms are count names: new[], delete[]. */
	{
		struct json_value *v = parse_or_die(
			"{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{\"new[]\":3,\"delete[]\":2},"
			"\"syscalls\":{},\"syscalls_by_caller\":{\"new[]\":{\"brk\":1}},\"faults\":{},\"bytes\":{}}");
		struct summary_doc d;

		assert_int_equal(summary_load(v, &d, err, sizeof(err)), 0);
		assert_true(find(&d, "calls.new[]") && find(&d, "calls.new[]")->v.u == 3);
		assert_true(find(&d, "syscalls_by_caller.new[].brk") != NULL);
		summary_doc_free(&d);
		json_free(v);
	}
	/* Empty sections are a valid (if odd) summary. */
	{
		struct json_value *v = parse_or_die(
			"{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"calls\":{},\"syscalls\":{},"
			"\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{}}");

		assert_int_equal(summary_load(v, &d, err, sizeof(err)), 0);
		assert_int_equal(d.n, 0);
		assert_null(d.command);
		summary_doc_free(&d);
		json_free(v);
	}
	assert_int_equal(summary_load(NULL, &d, err, sizeof(err)), -1);
}

/* ---- limits ---- */

static void test_limit_parse(void **state)
{
	struct limit l;
	char buf[64];

	(void)state;
	l = L("10%");
	assert_true(l.has_pct && !l.has_abs && l.pct == 10);
	l = L("+50");
	assert_true(!l.has_pct && l.has_abs && l.abs == 50);
	l = L("50");
	assert_true(!l.has_pct && l.has_abs && l.abs == 50);
	l = L("0%");
	assert_true(l.has_pct && l.pct == 0);
	l = L("0");
	assert_true(l.has_abs && l.abs == 0);
	l = L("2.5%");
	assert_true(l.pct == 2.5);
	l = L("+10%");
	assert_true(l.has_pct && l.pct == 10);
	l = L("5%,+2");
	assert_true(l.has_pct && l.has_abs && l.pct == 5 && l.abs == 2);
	l = L("+2,5%");
	assert_true(l.has_pct && l.has_abs && l.pct == 5 && l.abs == 2);

	static const char *const bad[] = { "", "%", "+", "-5", "-5%", "10%%", "abc", "1e3", "5%,5%", "+1,+2",
					   "10 %", " 10%", "nan", "inf", ".5", "5.", "5%,", ",5", "5,,5%", "0x10",
					   "++5", "5+", "1234567890123456789012345678901234567890" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (limit_parse(bad[i], &l) == 0)
			fail_msg("limit_parse accepted \"%s\"", bad[i]);
	assert_int_equal(limit_parse(NULL, &l), -1);

	l = L("10%");
	limit_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "10%");
	l = L("50");
	limit_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "+50");
	l = L("5%,+2");
	limit_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "+2 or 5%");
	l = L("2.5%");
	limit_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "2.5%");
}

static void test_limit_decisions(void **state)
{
	(void)state;
	/* percentages: the limit itself still passes */
	assert_false(over("10%", I(100), I(110)));
	assert_true(over("10%", I(100), I(111)));
	assert_false(over("10%", I(30), I(33)));
	assert_true(over("10%", I(30), I(34)));
	/* absolute, with or without '+' */
	assert_false(over("+50", I(100), I(150)));
	assert_true(over("+50", I(100), I(151)));
	assert_false(over("50", I(100), I(150)));
	assert_true(over("50", I(100), I(151)));
	/* 0% and 0: no increase at all */
	assert_false(over("0%", I(100), I(100)));
	assert_true(over("0%", I(100), I(101)));
	assert_true(over("0", I(100), I(101)));
	/* a decrease always passes */
	assert_false(over("0", I(100), I(0)));
	assert_false(over("0%", I(UINT64_MAX), I(0)));
	/* both: whichever allows more */
	assert_false(over("5%,+2", I(10), I(12)));	/* 5% of 10 is 0.5; +2 wins */
	assert_true(over("5%,+2", I(10), I(13)));
	assert_false(over("5%,+2", I(1000), I(1050)));	/* 5% wins */
	assert_true(over("5%,+2", I(1000), I(1051)));
}

static void test_zero_baseline(void **state)
{
	(void)state;
	/* A percentage of 0 is 0: any increase fails... */
	assert_true(over("10%", I(0), I(1)));
	assert_true(over("1000%", I(0), I(1)));
	assert_false(over("10%", I(0), I(0)));
	/* ...unless an absolute amount is allowed too. */
	assert_false(over("10%,+2", I(0), I(2)));
	assert_true(over("10%,+2", I(0), I(3)));
	assert_false(over("+5", I(0), I(5)));
}

static void test_limit_exact_and_means(void **state)
{
	(void)state;
	/* Near 2^64 a double cannot tell these apart; the check can. */
	assert_false(over("+10", I(UINT64_MAX - 10), I(UINT64_MAX)));
	assert_true(over("+9", I(UINT64_MAX - 10), I(UINT64_MAX)));
	assert_true(over("0", I(9007199254740992ull), I(9007199254740993ull)));
	/* means */
	assert_false(over("+0.5", D(10.25), D(10.75)));
	assert_true(over("+0.5", D(10.25), D(10.80)));
	assert_true(over("10%", D(0.0), D(0.1)));
	assert_false(over("10%", I(10), D(11.0)));
	assert_true(over("10%", I(10), D(11.01)));
}

static void test_formats(void **state)
{
	struct fl_count a = I(9), b = I(209), z = I(0);
	char buf[96];

	(void)state;
	count_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "9");
	a = D(12.5);
	count_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "12.50");
	a = I(9);
	change_format(&a, &b, buf, sizeof(buf));
	assert_string_equal(buf, "+200 (+2222.2%)");
	change_format(&b, &a, buf, sizeof(buf));
	assert_string_equal(buf, "-200 (-95.7%)");
	change_format(&a, &a, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	change_format(&z, &a, buf, sizeof(buf));
	assert_string_equal(buf, "+9 (was 0)");
	b = I(UINT64_MAX);
	change_format(&z, &b, buf, sizeof(buf));
	assert_string_equal(buf, "+18446744073709551615 (was 0)");
}

/* ---- patterns and rules ---- */

static void test_patterns(void **state)
{
	(void)state;
	assert_true(pattern_match("syscalls.mmap", "syscalls.mmap") > pattern_match("syscalls.*", "syscalls.mmap"));
	assert_true(pattern_match("syscalls", "syscalls.mmap") >= 0);
	assert_int_equal(pattern_match("syscalls", "syscalls_by_caller.malloc.mmap"), -1);
	assert_int_equal(pattern_match("syscalls.mmap", "syscalls.munmap"), -1);
	assert_int_equal(pattern_match("syscalls.mm", "syscalls.mmap"), -1);
	assert_true(pattern_match("syscalls_by_caller.*.mmap", "syscalls_by_caller.free.mmap") >
		    pattern_match("syscalls_by_caller", "syscalls_by_caller.free.mmap"));
	assert_true(pattern_match("syscalls_by_caller.malloc", "syscalls_by_caller.malloc.brk") >
		    pattern_match("syscalls_by_caller", "syscalls_by_caller.malloc.brk"));
	assert_int_equal(pattern_match("*", "faults.total"), 0);
	assert_int_equal(pattern_match("faults.[ku]*", "faults.total"), -1);
	assert_true(pattern_match("faults.[ku]*", "faults.user_mode") >= 0);
}

static void test_rules_add(void **state)
{
	struct limit_rules r = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap=+5", err, sizeof(err)), 0);
	assert_int_equal(limit_rules_add(&r, "faults=10%", err, sizeof(err)), 0);
	assert_int_equal(limit_rules_add(&r, "*=5%,+2", err, sizeof(err)), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.r[0].pattern, "syscalls.mmap");
	assert_true(r.r[0].lim.has_abs && r.r[0].lim.abs == 5);
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "METRIC=LIMIT"));
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap=lots", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'lots' is not a limit"));
	assert_int_equal(limit_rules_add(&r, "=5", err, sizeof(err)), -1);
	assert_int_equal(limit_rules_add(&r, "a b=5", err, sizeof(err)), -1);
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap=", err, sizeof(err)), -1);
	assert_int_equal(limit_rules_add(&r, "lost_events=5", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lost_events"));
	assert_int_equal(r.n, 3);
	limit_rules_free(&r);
	assert_int_equal(r.n, 0);
}

/* ---- whole comparisons ---- */

static const struct check_row *row(const struct check_result *res, const char *name)
{
	for (size_t i = 0; i < res->n; i++)
		if (!strcmp(res->rows[i].name, name))
			return &res->rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_compare_same(void **state)
{
	struct summary_doc a, b;
	struct check_result res;
	char err[256];

	(void)state;
	load_ok(&a, "9", "0", "");
	load_ok(&b, "9", "0", "");
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.n, DOC_METRICS + 1);	/* + lost_events */
	assert_int_equal(res.failed, 0);
	assert_int_equal(row(&res, "lost_events")->kind, ROW_LOST_EVENTS);
	assert_string_equal(row(&res, "syscalls.mmap")->limit_from, "syscalls");
	assert_string_equal(row(&res, "syscalls_by_caller.none.mmap")->limit_from, "syscalls_by_caller");
	assert_false(row(&res, "faults.total")->user_limit);
	check_result_free(&res);
	summary_doc_free(&a);
	summary_doc_free(&b);
}

static void test_compare_regression(void **state)
{
	struct summary_doc a, b;
	struct check_result res;
	char err[256];

	(void)state;
	load_ok(&a, "9", "0", "");
	load_ok(&b, "209", "0", "");	/* 200 more mmap */
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 1);
	assert_true(row(&res, "syscalls.mmap")->over);
	check_result_free(&res);
	/* a small change stays within the default */
	summary_doc_free(&b);
	load_ok(&b, "11", "0", "");
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 0);
	check_result_free(&res);
	/* going the other way is an improvement */
	assert_int_equal(check_compare(&b, &a, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 0);
	check_result_free(&res);
	summary_doc_free(&a);
	summary_doc_free(&b);
}

static void test_compare_rules(void **state)
{
	struct limit_rules r = { 0 };
	struct summary_doc a, b;
	struct check_result res;
	char err[256];

	(void)state;
	load_ok(&a, "9", "0", "");
	load_ok(&b, "209", "0", "");
	/* a family limit lets it through, an exact one (even earlier) is stricter */
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap=+199", err, sizeof(err)), 0);
	assert_int_equal(limit_rules_add(&r, "syscalls=5000%", err, sizeof(err)), 0);
	assert_int_equal(check_compare(&a, &b, &r, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 1);
	assert_true(row(&res, "syscalls.mmap")->user_limit);
	assert_string_equal(row(&res, "syscalls.mmap")->limit_from, "syscalls.mmap");
	assert_string_equal(row(&res, "syscalls.brk")->limit_from, "syscalls");
	assert_int_equal(r.r[0].matched, 1);
	assert_int_equal(r.r[1].matched, 6);
	check_result_free(&res);
	/* the same pattern twice: the later one wins */
	assert_int_equal(limit_rules_add(&r, "syscalls.mmap=+200", err, sizeof(err)), 0);
	assert_int_equal(check_compare(&a, &b, &r, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 0);
	check_result_free(&res);
	/* a pattern that matches nothing is an error (a typo must not pass) */
	assert_int_equal(limit_rules_add(&r, "sycalls.mmap=0", err, sizeof(err)), 0);
	assert_int_equal(check_compare(&a, &b, &r, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "sycalls.mmap"));
	assert_null(res.rows);
	limit_rules_free(&r);
	/* '*' beats no default, even one more specific */
	assert_int_equal(limit_rules_add(&r, "*=0", err, sizeof(err)), 0);
	summary_doc_free(&b);
	load_ok(&b, "10", "0", "");
	assert_int_equal(check_compare(&a, &b, &r, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 1);
	check_result_free(&res);
	limit_rules_free(&r);
	summary_doc_free(&a);
	summary_doc_free(&b);
}

static void test_compare_incomplete(void **state)
{
	struct summary_doc a, b;
	struct check_result res;
	char err[256];

	(void)state;
	load_ok(&a, "9", "0", "");
	load_ok(&b, "9", "3", "");	/* the current run lost 3 events */
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 1);
	assert_true(row(&res, "lost_events")->over);
	check_result_free(&res);
	/* lost events in the baseline only: not the current run's fault */
	assert_int_equal(check_compare(&b, &a, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 0);
	check_result_free(&res);
	summary_doc_free(&b);
	load_ok(&b, "9", "0", "\"truncated\":true");
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.failed, 1);
	assert_int_equal(row(&res, "truncated")->kind, ROW_TRUNCATED);
	check_result_free(&res);
	summary_doc_free(&a);
	summary_doc_free(&b);
}

static void test_compare_missing_counts(void **state)
{
	static const char head[] = "{\"schema\":\"faultline.summary.v1\",\"lost_events\":0,\"syscalls\":{},"
				   "\"syscalls_by_caller\":{},\"faults\":{},\"bytes\":{},";
	struct summary_doc a, b;
	struct check_result res;
	struct json_value *v;
	char err[256], text[512];

	(void)state;
	snprintf(text, sizeof(text), "%s\"calls\":{\"malloc\":5,\"old\":7}}", head);
	v = parse_or_die(text);
	assert_int_equal(summary_load(v, &a, err, sizeof(err)), 0);
	json_free(v);
	snprintf(text, sizeof(text), "%s\"calls\":{\"malloc\":5,\"new\":9}}", head);
	v = parse_or_die(text);
	assert_int_equal(summary_load(v, &b, err, sizeof(err)), 0);
	json_free(v);
	assert_int_equal(check_compare(&a, &b, NULL, &res, err, sizeof(err)), 0);
	assert_int_equal(res.n, 4);
	/* gone from current: counts as 0, passes; new in current: from 0, fails */
	assert_false(row(&res, "calls.old")->over);
	assert_false(row(&res, "calls.old")->in_cur);
	assert_true(row(&res, "calls.new")->over);
	assert_false(row(&res, "calls.new")->in_base);
	assert_int_equal(res.failed, 1);
	check_result_free(&res);
	summary_doc_free(&a);
	summary_doc_free(&b);
}

static void test_defaults_table(void **state)
{
	struct limit l;

	(void)state;
	assert_true(fl_default_limits_n > 0);
	for (size_t i = 0; i < fl_default_limits_n; i++)
		assert_int_equal(limit_parse(fl_default_limits[i].limit, &l), 0);
	/* the last is the catch-all */
	assert_string_equal(fl_default_limits[fl_default_limits_n - 1].pattern, "*");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flatten),
		cmocka_unit_test(test_flatten_means_and_big),
		cmocka_unit_test(test_flatten_errors),
		cmocka_unit_test(test_limit_parse),
		cmocka_unit_test(test_limit_decisions),
		cmocka_unit_test(test_zero_baseline),
		cmocka_unit_test(test_limit_exact_and_means),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_rules_add),
		cmocka_unit_test(test_compare_same),
		cmocka_unit_test(test_compare_regression),
		cmocka_unit_test(test_compare_rules),
		cmocka_unit_test(test_compare_incomplete),
		cmocka_unit_test(test_compare_missing_counts),
		cmocka_unit_test(test_defaults_table),
	};

	return cmocka_run_group_tests_name("check_metrics", tests, NULL, NULL);
}
