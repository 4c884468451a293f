/* options.h - a subcommand's options from one table: parsing (getopt_long
 * underneath), the values checked against the table (ranges, choices) before
 * the subcommand sees them, and --help written from the same rows, so the
 * two cannot disagree. Every subcommand gets -h/--help from here, and every
 * usage error is one line on stderr and exit status FL_EXIT_USAGE. */
#ifndef FL_OPTIONS_H
#define FL_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

/* Exit status of a usage error, in every subcommand. */
#define FL_EXIT_USAGE 2

/* Keys of options without a short letter start here. */
#define OPT_LONG_ONLY 0x100

enum opt_kind {
	OPT_FLAG,     /* no value */
	OPT_STRING,   /* any value */
	OPT_UINT,     /* a whole number in [min, max] */
	OPT_DOUBLE,   /* a number in [min, max] */
	OPT_CHOICE,   /* one of choices */
	OPT_OPTIONAL, /* no value, or =one of choices */
};

struct opt {
	int key;             /* the short letter, or OPT_LONG_ONLY + n */
	const char *name;    /* the long name */
	const char *value;   /* the value's name in --help ("FILE"); OPT_OPTIONAL: its suffix ("[=all]") */
	enum opt_kind kind;
	double min, max;     /* OPT_UINT, OPT_DOUBLE */
	const char *choices; /* OPT_CHOICE, OPT_OPTIONAL: "text|json|jsonl" */
	const char *help;    /* one line, or several separated by '\n' */
};

/* A value, checked: s is the text; u, d and choice what it means. */
struct opt_value {
	const char *s;          /* NULL for a flag, or an OPT_OPTIONAL given without value */
	unsigned long long u;   /* OPT_UINT */
	double d;               /* OPT_UINT, OPT_DOUBLE */
	int choice;             /* OPT_CHOICE, OPT_OPTIONAL: the index in choices, -1 without value */
};

struct cmd_spec {
	const char *name;       /* "record" */
	const char *usage;      /* the synopsis lines after "usage: " */
	const char *about;      /* what it does, before the options */
	const struct opt *opts; /* ends with a row whose key is 0; -h/--help is added */
	const char *after;      /* after the options (exit status, notes) */
	void (*after_fn)(FILE *out); /* more of it, written by the subcommand (may be NULL) */
	bool options_first;     /* options end at the first other argument (a command follows) */
};

enum { OPT_HELP = -2, OPT_ERROR = -1 };

/* Called for each option in order; returns 0, or -1 after opts_error. */
typedef int (*opt_take_fn)(void *ctx, int key, const struct opt_value *v);

/* Parses argv[1..]: the index of the first argument that is no option, or
 * OPT_HELP (the help went to stdout), or OPT_ERROR (one line on stderr). */
int opts_parse(const struct cmd_spec *spec, int argc, char **argv, opt_take_fn take, void *ctx);

/* --help, from the table. */
void opts_help(const struct cmd_spec *spec, FILE *out);

/* "faultline SUB: MSG (see: faultline SUB --help)" on stderr; returns -1. */
int opts_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
