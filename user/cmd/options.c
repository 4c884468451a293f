/* options.c - owns option parsing and --help for every subcommand (see
 * options.h): a getopt_long table and short-option string made from the
 * subcommand's rows, each value checked against its row, the help text
 * laid out from the same rows. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/options.h"

#define MAX_OPTS 40
#define HELP_KEY 'h'

static const struct opt help_row = { HELP_KEY, "help", NULL, OPT_FLAG, 0, 0, NULL, "this text" };

int opts_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "faultline %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see: faultline %s --help)\n", sub);
	return -1;
}

static size_t count_rows(const struct opt *o)
{
	size_t n = 0;

	while (o[n].key)
		n++;
	return n;
}

/* The index of s among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s)
{
	size_t len = strlen(s);
	int i = 0;

	for (const char *p = choices; *p; i++) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		if (n == len && !strncmp(p, s, n))
			return i;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

/* "a, b or c" from "a|b|c", for messages. */
static void choices_text(const char *choices, char *buf, size_t len)
{
	size_t off = 0;
	const char *last = strrchr(choices, '|');

	for (const char *p = choices; *p && off + 1 < len; p++) {
		if (*p == '|')
			off += snprintf(buf + off, len - off, "%s", p == last ? " or " : ", ");
		else
			buf[off++] = *p;
	}
	buf[off < len ? off : len - 1] = '\0';
}

static int check_value(const char *sub, const struct opt *o, const char *arg, struct opt_value *v)
{
	char *end, list[256];

	memset(v, 0, sizeof(*v));
	v->s = arg;
	v->choice = -1;
	switch (o->kind) {
	case OPT_FLAG:
	case OPT_STRING:
		return 0;
	case OPT_UINT:
		errno = 0;
		v->u = strtoull(arg, &end, 10);
		if (!*arg || *end || errno || arg[0] == '-' || v->u < o->min || v->u > o->max)
			return opts_error(sub, "--%s takes a whole number from %.0f to %.0f, not '%s'", o->name,
					  o->min, o->max, arg);
		v->d = (double)v->u;
		return 0;
	case OPT_DOUBLE:
		errno = 0;
		v->d = strtod(arg, &end);
		if (!*arg || *end || errno || !isfinite(v->d) || v->d < o->min || v->d > o->max)
			return opts_error(sub, "--%s takes a number from %g to %g, not '%s'", o->name, o->min,
					  o->max, arg);
		return 0;
	case OPT_CHOICE:
	case OPT_OPTIONAL:
		if (!arg)
			return 0;
		v->choice = choice_index(o->choices, arg);
		if (v->choice < 0) {
			choices_text(o->choices, list, sizeof(list));
			return opts_error(sub, "--%s takes %s, not '%s'", o->name, list, arg);
		}
		return 0;
	}
	return 0;
}

static const struct opt *row_of(const struct opt *rows, size_t n, int key)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].key == key)
			return &rows[i];
	return key == HELP_KEY ? &help_row : NULL;
}

int opts_parse(const struct cmd_spec *spec, int argc, char **argv, opt_take_fn take, void *ctx)
{
	struct option longopts[MAX_OPTS + 2];
	char shorts[3 * MAX_OPTS + 4], *sp = shorts;
	size_t n = count_rows(spec->opts);
	int c;

	if (n > MAX_OPTS)
		return opts_error(spec->name, "internal: too many options");
	if (spec->options_first)
		*sp++ = '+';
	*sp++ = ':'; /* a missing value is told apart from an unknown option */
	for (size_t i = 0; i <= n; i++) {
		const struct opt *o = i < n ? &spec->opts[i] : &help_row;
		int has = o->kind == OPT_FLAG ? no_argument : o->kind == OPT_OPTIONAL ? optional_argument
							   : required_argument;

		longopts[i] = (struct option){ o->name, has, NULL, o->key };
		if (o->key < OPT_LONG_ONLY) {
			*sp++ = (char)o->key;
			if (has == required_argument)
				*sp++ = ':';
		}
	}
	longopts[n + 1] = (struct option){ 0 };
	*sp = '\0';
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const struct opt *o = row_of(spec->opts, n, c);
		struct opt_value v;

		if (c == ':')
			return opts_error(spec->name, "%s needs a value", argv[optind - 1]);
		if (!o)
			return opts_error(spec->name, "unknown option '%s'", argv[optind - 1]);
		if (o == &help_row) {
			opts_help(spec, stdout);
			return OPT_HELP;
		}
		if (check_value(spec->name, o, optarg, &v) || take(ctx, c, &v))
			return OPT_ERROR;
	}
	return optind;
}

/* "  -o, --output FILE" */
static int left_column(const struct opt *o, char *buf, size_t len)
{
	char sh[8] = "    ";
	const char *val = o->value ? o->value : "";

	if (o->key < OPT_LONG_ONLY)
		snprintf(sh, sizeof(sh), "-%c, ", o->key);
	return snprintf(buf, len, "  %s--%s%s%s", sh, o->name, o->value && o->kind != OPT_OPTIONAL ? " " : "", val);
}

static void help_row_write(FILE *out, const struct opt *o, int col)
{
	char left[128];
	int w = left_column(o, left, sizeof(left));
	const char *h = o->help;

	fputs(left, out);
	if (w + 1 > col) { /* too wide: the help starts on the next line */
		fputc('\n', out);
		w = 0;
	}
	for (bool first = true; *h; first = false) {
		const char *nl = strchr(h, '\n');
		int n = nl ? (int)(nl - h) : (int)strlen(h);

		fprintf(out, "%*s%.*s\n", first ? col - w : col, "", n, h);
		h += n + (nl ? 1 : 0);
	}
}

void opts_help(const struct cmd_spec *spec, FILE *out)
{
	size_t n = count_rows(spec->opts);
	int col = 0;
	char left[128];

	for (size_t i = 0; i < n; i++) {
		int w = left_column(&spec->opts[i], left, sizeof(left)) + 2;

		if (w > col && w <= 33)
			col = w;
	}
	if (col < 25)
		col = 25;
	fprintf(out, "usage: %s\n\n%s\n\n", spec->usage, spec->about);
	for (size_t i = 0; i < n; i++)
		help_row_write(out, &spec->opts[i], col);
	help_row_write(out, &help_row, col);
	if (spec->after)
		fprintf(out, "\n%s", spec->after);
	if (spec->after_fn)
		spec->after_fn(out);
}
