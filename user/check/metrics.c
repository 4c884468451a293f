/* metrics.c - the counts `faultline check` compares and their limits:
 * validating and flattening a faultline.summary.v1 document, parsing and
 * applying --max-increase limits, the default limits (and the measurements
 * behind them), and the row-by-row comparison of two summaries. */
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check/metrics.h"

/*
 * Default limits. Counts, not timings, so they do not depend on machine
 * load; what varies between two runs of the same program is address-space
 * layout (ASLR: where the heap and mmaps land changes how many pages a block
 * spans, and glibc's heap-top arithmetic), the environment, and for
 * interpreters hash seeds and GC timing.
 *
 * Measured on Debian 12 (glibc 2.36, x86-64), `faultline record` + `report
 * --format json`, 10 recordings of each program with ASLR on and 10 under
 * `setarch -R` (ASLR off). Programs: python3 -c (json dumps/loads of 20000
 * dicts, random hash seed), sort of a 3 MB file, gzip -9 of it, sqlite3
 * (50000 inserts + an index), mmap_threshold default 200 and zero 200.
 * Spread = max - min of a count over 10 runs (the worst a baseline/current
 * pair can differ), as absolute and as % of the minimum; the worst count of
 * each family. Counts not listed never varied (gzip, mmap_threshold and
 * sqlite3 made exactly the same syscalls every run).
 *
 *   family              program     ASLR on            ASLR off
 *   calls               python3     3 (0.7%, realloc)  5 (1.1%, realloc 452-457)
 *                       sqlite3     8 (0.01%)          8 (0.01%)
 *                       sort        1 (free 75-76)     1
 *   syscalls            python3     1 (brk 19-20)      0
 *                       sort        2 (munmap 2-4)     2 (munmap 2-4)
 *   syscalls_by_caller  sort        2 (malloc.munmap 0-2)  2
 *                       python3     1 (free.brk 2-3)   0
 *   faults              python3     261 (4.4% total; 5.7% other 4599-4859)  5 (0.1%)
 *                       sqlite3     7 (other 139-146)  3
 *                       mmap_thr.   3 (total 52-55)    0
 *                       gzip        3 (total 190-193)  0
 *                       any         kernel_mode 2-4    -
 *   bytes               sort        135168 (0.07%, peak_mmap: one mmap chunk)
 *                       python3     13472 (0.06% requested), 8192 (0.31% peak_heap)
 *                       sqlite3     39192 (0.15% requested)
 *   lost_events         all         0                  0
 *
 * The defaults are about twice the worst spread, as "P% or +A, whichever
 * is larger" (the absolute part for small counts, where one more page or
 * one more brk is a large percentage). Checked: every ordered pair of the
 * 120 summaries above of the same program (2280 pairs, ASLR on, off and
 * mixed) passes with them; the tighter calls 1%,+2 false-alarmed on 65
 * pairs and faults 3%,+8 (or 5%,+8) on 51 (python3 with ASLR). They still
 * catch a thousand more mmap calls or twice the pages touched. Recording
 * under `setarch -R` makes faults far steadier (python3: 0.1%), if a job
 * wants --max-increase faults=1%,+8.
 */
const struct default_limit fl_default_limits[] = {
	{ "calls", "3%,+8", "allocator calls; interpreters vary a little (hash seeds)" },
	{ "syscalls", "5%,+4", "memory syscalls; threads and heap-top arithmetic vary" },
	{ "syscalls_by_caller", "5%,+4", "as syscalls" },
	{ "faults", "10%,+16", "page faults; with ASLR, page alignment varies" },
	{ "bytes", "2%,+8192", "byte counts (requested, peaks)" },
	{ "*", "5%,+4", "any other count" },
};
const size_t fl_default_limits_n = sizeof(fl_default_limits) / sizeof(fl_default_limits[0]);

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- counts ---- */

static int load_count(const struct json_value *v, const char *name, struct fl_count *c,
		      char *err, size_t errlen)
{
	double x;

	if (v->type == JSON_OBJECT) {
		const struct json_value *mean = json_get(v, "mean");

		if (!mean)
			return errf(err, errlen, "%s is an object without \"mean\", not a count", name);
		v = mean;
	}
	if (v->type != JSON_NUMBER)
		return errf(err, errlen, "%s is %s, not a count", name, json_type_name(v->type));
	if (v->is_uint) {
		c->is_int = true;
		c->u = v->u64;
		c->d = (double)v->u64;
		return 0;
	}
	x = v->num;
	if (!(x >= 0) || !isfinite(x))
		return errf(err, errlen, "%s is negative (%g), not a count", name, x);
	c->d = x;
	/* 12.0 or 1e3 is still a whole count; 2^64 and up stays a double. */
	c->is_int = x < 18446744073709551616.0 && (double)(uint64_t)x == x;
	c->u = c->is_int ? (uint64_t)x : 0;
	return 0;
}

/* A count's name: letters, digits, '_' and '-', maybe ending in "[]" (the
 * C++ array forms: new[], delete[]). */
static bool valid_key(const char *k, size_t len)
{
	if (len == 0 || len > 64 || strlen(k) != len)
		return false;
	if (len > 2 && k[len - 2] == '[' && k[len - 1] == ']')
		len -= 2;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Shows a key in a message: printable ASCII as is, the rest as '?'. */
static const char *show_key(const char *k, char *buf, size_t len)
{
	size_t i;

	for (i = 0; k[i] && i + 1 < len && i < 40; i++)
		buf[i] = k[i] >= 0x20 && k[i] < 0x7f ? k[i] : '?';
	buf[i] = '\0';
	return buf;
}

static int add_metric(struct summary_doc *d, size_t *cap, const char *name,
		      const struct json_value *v, char *err, size_t errlen)
{
	struct metric *m;

	if (d->n >= FL_CHECK_MAX_METRICS)
		return errf(err, errlen, "more than %d counts", FL_CHECK_MAX_METRICS);
	if (d->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 128;
		struct metric *nm = realloc(d->m, ncap * sizeof(*nm));

		if (!nm)
			return errf(err, errlen, "out of memory");
		d->m = nm;
		*cap = ncap;
	}
	m = &d->m[d->n];
	memset(m, 0, sizeof(*m));
	if (load_count(v, name, &m->v, err, errlen))
		return -1;
	m->name = strdup(name);
	if (!m->name)
		return errf(err, errlen, "out of memory");
	d->n++;
	return 0;
}

/* Every member of obj is a count named PREFIX.KEY. */
static int flatten(struct summary_doc *d, size_t *cap, const char *prefix,
		   const struct json_value *obj, char *err, size_t errlen)
{
	char name[200], kb[48];

	if (obj->type != JSON_OBJECT)
		return errf(err, errlen, "%s is %s, not an object of counts", prefix,
			    json_type_name(obj->type));
	for (size_t i = 0; i < obj->n; i++) {
		const struct json_value *m = &obj->items[i];

		if (!valid_key(m->key, m->key_len))
			return errf(err, errlen, "%s has a key \"%s\" that is not a count name", prefix,
				    show_key(m->key, kb, sizeof(kb)));
		snprintf(name, sizeof(name), "%s.%s", prefix, m->key);
		if (add_metric(d, cap, name, m, err, errlen))
			return -1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct metric *const *)a)->name, (*(const struct metric *const *)b)->name);
}

/* Pointers to d's metrics sorted by name, for lookups; NULL if out of memory. */
static const struct metric **sorted_index(const struct summary_doc *d)
{
	const struct metric **ix = malloc((d->n ? d->n : 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		ix[i] = &d->m[i];
	qsort(ix, d->n, sizeof(*ix), by_name);
	return ix;
}

static const struct metric *lookup(const struct metric **ix, size_t n, const char *name)
{
	struct metric key = { .name = (char *)name };
	const struct metric *kp = &key, **r;

	r = bsearch(&kp, ix, n, sizeof(*ix), by_name);
	return r ? *r : NULL;
}

static int load_target(const struct json_value *t, struct summary_doc *d, char *err, size_t errlen)
{
	const struct json_value *cmd = json_get(t, "command"), *es = json_get(t, "exit_status");
	size_t len = 0;

	if (t->type != JSON_OBJECT)
		return errf(err, errlen, "target is %s, not an object", json_type_name(t->type));
	if (es && es->type == JSON_NUMBER && es->num >= -1e15 && es->num <= 1e15) {
		d->have_exit = true;
		d->exit_status = (int64_t)es->num;
	}
	if (!cmd || cmd->type != JSON_ARRAY)
		return 0;
	for (size_t i = 0; i < cmd->n; i++)
		if (cmd->items[i].type == JSON_STRING)
			len += cmd->items[i].len + 1;
	d->command = calloc(1, len + 1);
	if (!d->command)
		return errf(err, errlen, "out of memory");
	for (size_t i = 0, o = 0; i < cmd->n; i++) {
		const struct json_value *a = &cmd->items[i];

		if (a->type != JSON_STRING)
			continue;
		if (o)
			d->command[o++] = ' ';
		for (size_t k = 0; k < a->len; k++)	/* a \u0000 would end the string early */
			d->command[o++] = a->str[k] ? a->str[k] : ' ';
	}
	return 0;
}

int summary_load(const struct json_value *root, struct summary_doc *d, char *err, size_t errlen)
{
	static const char *const required[] = { "calls", "syscalls", "syscalls_by_caller", "faults", "bytes",
						"lost_events" };
	const struct json_value *schema, *v, *extra;
	const struct metric **ix = NULL;
	size_t cap = 0;
	char name[200], kb[48];

	memset(d, 0, sizeof(*d));
	if (!root || root->type != JSON_OBJECT)
		return errf(err, errlen, "not a faultline summary (the document is %s, not an object)",
			    root ? json_type_name(root->type) : "empty");
	schema = json_get(root, "schema");
	if (!schema || schema->type != JSON_STRING)
		return errf(err, errlen, "not a faultline summary (no \"schema\" string)");
	if (strcmp(schema->str, FL_SUMMARY_SCHEMA) || schema->len != strlen(FL_SUMMARY_SCHEMA))
		return errf(err, errlen, "schema is \"%s\"; this faultline reads %s",
			    show_key(schema->str, kb, sizeof(kb)), FL_SUMMARY_SCHEMA);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!json_get(root, required[i]))
			return errf(err, errlen, "a %s summary without \"%s\"", FL_SUMMARY_SCHEMA, required[i]);
	/* In document order; a section given twice shows up as duplicate names. */
	for (size_t i = 0; i < root->n; i++) {
		const struct json_value *sec = &root->items[i];
		const char *k = sec->key;

		if (!strcmp(k, "calls") || !strcmp(k, "syscalls") || !strcmp(k, "faults") || !strcmp(k, "bytes")) {
			if (flatten(d, &cap, k, sec, err, errlen))
				goto bad;
		} else if (!strcmp(k, "syscalls_by_caller")) {
			if (sec->type != JSON_OBJECT) {
				errf(err, errlen, "syscalls_by_caller is %s, not an object", json_type_name(sec->type));
				goto bad;
			}
			for (size_t j = 0; j < sec->n; j++) {
				const struct json_value *caller = &sec->items[j];

				if (!valid_key(caller->key, caller->key_len)) {
					errf(err, errlen, "syscalls_by_caller has a key \"%s\" that is not a function name",
					     show_key(caller->key, kb, sizeof(kb)));
					goto bad;
				}
				snprintf(name, sizeof(name), "syscalls_by_caller.%s", caller->key);
				if (flatten(d, &cap, name, caller, err, errlen))
					goto bad;
			}
		}
	}
	v = json_get(root, "lost_events");
	if (load_count(v, "lost_events", &d->lost_events, err, errlen))
		goto bad;
	extra = json_get(root, "extra");
	v = extra ? json_get(extra, "truncated") : NULL;
	d->truncated = v && v->type == JSON_BOOL && v->boolean;
	v = json_get(root, "target");
	if (v && load_target(v, d, err, errlen))
		goto bad;
	ix = sorted_index(d);
	if (!ix) {
		errf(err, errlen, "out of memory");
		goto bad;
	}
	for (size_t i = 1; i < d->n; i++)
		if (!strcmp(ix[i - 1]->name, ix[i]->name)) {
			errf(err, errlen, "%s is given twice", ix[i]->name);
			goto bad;
		}
	free(ix);
	return 0;
bad:
	free(ix);
	summary_doc_free(d);
	return -1;
}

void summary_doc_free(struct summary_doc *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->m[i].name);
	free(d->m);
	free(d->command);
	memset(d, 0, sizeof(*d));
}

void count_format(const struct fl_count *c, char *buf, size_t len)
{
	if (c->is_int)
		snprintf(buf, len, "%" PRIu64, c->u);
	else
		snprintf(buf, len, "%.2f", c->d);
}

static long double count_ld(const struct fl_count *c)
{
	return c->is_int ? (long double)c->u : (long double)c->d;
}

void change_format(const struct fl_count *base, const struct fl_count *cur, char *buf, size_t len)
{
	long double b = count_ld(base), c = count_ld(cur);
	char d[48];

	if ((base->is_int && cur->is_int && cur->u == base->u) || c == b) {
		snprintf(buf, len, "0");
		return;
	}
	if (base->is_int && cur->is_int) {
		if (cur->u > base->u)
			snprintf(d, sizeof(d), "+%" PRIu64, cur->u - base->u);
		else
			snprintf(d, sizeof(d), "-%" PRIu64, base->u - cur->u);
	} else {
		snprintf(d, sizeof(d), "%+.2Lf", c - b);
	}
	if (b > 0)
		snprintf(buf, len, "%s (%+.1Lf%%)", d, (c - b) * 100 / b);
	else
		snprintf(buf, len, "%s (was 0)", d);
}

/* ---- limits ---- */

/* A non-negative decimal: digits, optionally '.' digits; nothing else. */
static int parse_amount(const char *s, size_t len, double *out)
{
	char buf[32];
	size_t i = 0, digits = 0;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < len && s[i] == '.') {
		size_t frac = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
		if (!frac)
			return -1;
	}
	if (i != len || !digits)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out) ? 0 : -1;
}

int limit_parse(const char *s, struct limit *out)
{
	struct limit l = { 0 };

	if (!s || !*s)
		return -1;
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		bool plus = false, pct = false;
		double x;

		if (len && *s == '+')
			plus = true, s++, len--;
		if (len && s[len - 1] == '%')
			pct = true, len--;
		(void)plus;
		if (parse_amount(s, len, &x))
			return -1;
		if (pct) {
			if (l.has_pct)
				return -1;
			l.has_pct = true;
			l.pct = x;
		} else {
			if (l.has_abs)
				return -1;
			l.has_abs = true;
			l.abs = x;
		}
		if (!end)
			break;
		s = end + 1;
	}
	*out = l;
	return 0;
}

static void amount_format(double x, char *buf, size_t len)
{
	if (x < 1e15 && (double)(uint64_t)x == x)
		snprintf(buf, len, "%" PRIu64, (uint64_t)x);
	else
		snprintf(buf, len, "%g", x);
}

void limit_format(const struct limit *l, char *buf, size_t len)
{
	char a[40], p[40];

	amount_format(l->abs, a, sizeof(a));
	amount_format(l->pct, p, sizeof(p));
	if (l->has_abs && l->has_pct)
		snprintf(buf, len, "+%s or %s%%", a, p);
	else if (l->has_abs)
		snprintf(buf, len, "+%s", a);
	else
		snprintf(buf, len, "%s%%", p);
}

long double limit_allowed(const struct limit *l, const struct fl_count *base)
{
	long double by_pct = l->has_pct ? count_ld(base) * l->pct / 100 : 0;
	long double by_abs = l->has_abs ? l->abs : 0;

	return by_pct > by_abs ? by_pct : by_abs;
}

bool limit_exceeded(const struct limit *l, const struct fl_count *base, const struct fl_count *cur)
{
	if (base->is_int && cur->is_int && cur->u <= base->u)
		return false;
	return count_ld(cur) - count_ld(base) > limit_allowed(l, base);
}

static bool pattern_chars_ok(const char *p, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_-.*?[]!", c)))
			return false;
	}
	return true;
}

int limit_rules_add(struct limit_rules *rules, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	struct limit_rule *nr;
	struct limit l;

	if (!eq)
		return errf(err, errlen, "--max-increase takes METRIC=LIMIT, not '%s'", arg);
	if (!pattern_chars_ok(arg, (size_t)(eq - arg)))
		return errf(err, errlen, "--max-increase: '%.*s' is not a metric name or pattern",
			    (int)(eq - arg), arg);
	if (limit_parse(eq + 1, &l))
		return errf(err, errlen, "--max-increase: '%s' is not a limit (give 10%%, +50, 50 or 5%%,+2)",
			    eq + 1);
	if ((size_t)(eq - arg) == strlen("lost_events") && !strncmp(arg, "lost_events", eq - arg))
		return errf(err, errlen, "--max-increase: lost_events has no limit: any lost event fails the check");
	nr = realloc(rules->r, (rules->n + 1) * sizeof(*nr));
	if (!nr)
		return errf(err, errlen, "out of memory");
	rules->r = nr;
	nr = &rules->r[rules->n];
	memset(nr, 0, sizeof(*nr));
	nr->pattern = strndup(arg, eq - arg);
	if (!nr->pattern)
		return errf(err, errlen, "out of memory");
	nr->lim = l;
	rules->n++;
	return 0;
}

void limit_rules_free(struct limit_rules *rules)
{
	for (size_t i = 0; i < rules->n; i++)
		free(rules->r[i].pattern);
	free(rules->r);
	rules->r = NULL;
	rules->n = 0;
}

int pattern_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), fixed = 0;

	if (!strcmp(pattern, name))
		return 1 << 20;
	if (!strpbrk(pattern, "*?[")) {	/* a family: syscalls -> syscalls.* */
		if (!strncmp(name, pattern, pl) && name[pl] == '.')
			return (int)(pl < 100000 ? pl : 100000);
		return -1;
	}
	if (fnmatch(pattern, name, 0) != 0)
		return -1;
	for (size_t i = 0; i < pl; i++)
		if (!strchr("*?[]!", pattern[i]))
			fixed++;
	return (int)(fixed < 100000 ? fixed : 100000);
}

/* ---- comparison ---- */

static void decide(struct check_row *row, struct limit_rules *rules)
{
	int best = -1, s;
	size_t pick = 0;

	for (size_t i = 0; rules && i < rules->n; i++) {
		s = pattern_match(rules->r[i].pattern, row->name);
		if (s >= 0)
			rules->r[i].matched++;
		if (s >= 0 && s >= best)	/* ties: the later option wins */
			best = s, pick = i;
	}
	if (best >= 0) {
		row->lim = rules->r[pick].lim;
		row->limit_from = rules->r[pick].pattern;
		row->user_limit = true;
	} else {
		for (size_t i = 0; i < fl_default_limits_n; i++) {
			s = pattern_match(fl_default_limits[i].pattern, row->name);
			if (s > best)
				best = s, pick = i;
		}
		/* The table ends with "*", so there is always a match. */
		limit_parse(fl_default_limits[pick].limit, &row->lim);
		row->limit_from = fl_default_limits[pick].pattern;
	}
	row->over = limit_exceeded(&row->lim, &row->base, &row->cur);
}

static struct check_row *new_row(struct check_result *res, size_t *cap)
{
	if (res->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 128;
		struct check_row *nr = realloc(res->rows, ncap * sizeof(*nr));

		if (!nr)
			return NULL;
		res->rows = nr;
		*cap = ncap;
	}
	memset(&res->rows[res->n], 0, sizeof(res->rows[0]));
	return &res->rows[res->n++];
}

int check_compare(const struct summary_doc *base, const struct summary_doc *cur,
		  struct limit_rules *rules, struct check_result *res, char *err, size_t errlen)
{
	const struct metric **bix = sorted_index(base), **cix = sorted_index(cur);
	static const struct fl_count zero = { .is_int = true };
	struct check_row *row;
	size_t cap = 0;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; rules && i < rules->n; i++)
		rules->r[i].matched = 0;
	if (!bix || !cix)
		goto oom;
	for (size_t i = 0; i < base->n; i++) {
		const struct metric *c = lookup(cix, cur->n, base->m[i].name);

		if (!(row = new_row(res, &cap)))
			goto oom;
		row->name = base->m[i].name;
		row->base = base->m[i].v;
		row->in_base = true;
		row->cur = c ? c->v : zero;
		row->in_cur = c != NULL;
		decide(row, rules);
	}
	for (size_t i = 0; i < cur->n; i++) {
		if (lookup(bix, base->n, cur->m[i].name))
			continue;
		if (!(row = new_row(res, &cap)))
			goto oom;
		row->name = cur->m[i].name;
		row->base = zero;
		row->cur = cur->m[i].v;
		row->in_cur = true;
		decide(row, rules);
	}
	for (size_t i = 0; rules && i < rules->n; i++)
		if (!rules->r[i].matched) {
			errf(err, errlen, "--max-increase: '%s' matches no metric (see: faultline check --help)",
			     rules->r[i].pattern);
			goto bad;
		}
	/* Incomplete data must not pass the gate, whatever the limits. */
	if (!(row = new_row(res, &cap)))
		goto oom;
	row->kind = ROW_LOST_EVENTS;
	row->name = "lost_events";
	row->base = base->lost_events;
	row->cur = cur->lost_events;
	row->in_base = row->in_cur = true;
	row->lim.has_abs = true;	/* shown as "must be 0" */
	row->limit_from = "lost_events";
	row->over = cur->lost_events.d > 0;
	if (cur->truncated) {
		if (!(row = new_row(res, &cap)))
			goto oom;
		row->kind = ROW_TRUNCATED;
		row->name = "truncated";
		row->base.is_int = row->cur.is_int = true;
		row->base.u = base->truncated;
		row->base.d = base->truncated;
		row->cur.u = 1;
		row->cur.d = 1;
		row->in_base = row->in_cur = true;
		row->lim.has_abs = true;
		row->limit_from = "truncated";
		row->over = true;
	}
	for (size_t i = 0; i < res->n; i++)
		res->failed += res->rows[i].over;
	free(bix);
	free(cix);
	return 0;
oom:
	errf(err, errlen, "out of memory");
bad:
	free(bix);
	free(cix);
	check_result_free(res);
	return -1;
}

void check_result_free(struct check_result *res)
{
	free(res->rows);
	memset(res, 0, sizeof(*res));
}
