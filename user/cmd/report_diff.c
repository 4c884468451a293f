/* report_diff.c - `faultline report --diff OLD NEW`: replays both recordings,
 * each through its own correlator with a diff side (analyze/diff.c) and,
 * when both have stacks, the call-site table; then writes the comparison
 * (output/diff.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cli.h"
#include "cmd/report.h"
#include "output/output.h"
#include "util/safe_file.h"

struct side {
	const char *path;
	struct diff_side *d;
	struct callsites *cs; /* NULL without stacks */
	struct correlator *c;
};

static void side_free(struct side *s)
{
	diff_side_free(s->d);
	callsites_free(s->cs);
	corr_free(s->c);
}

/* Replays s->path: 0, or an exit status after its message. */
static int side_replay(struct side *s, const char *debug_dir)
{
	char err[1024];
	uint32_t abi;
	struct tf_reader *r = tf_reader_open(s->path, &abi, err, sizeof(err));
	enum tf_status st;
	int has, rc = 0;

	if (!r)
		return fprintf(stderr, "faultline: %s\n", err), 2;
	if (abi != FL_EVENT_ABI) {
		fprintf(stderr, "faultline: %s: event layout %u is not supported (this faultline reads %u)\n",
			s->path, abi, FL_EVENT_ABI);
		tf_reader_close(r);
		return 2;
	}
	tf_reader_read_ahead(r);
	s->d = diff_side_new();
	s->cs = callsites_new();
	s->c = corr_new(16);
	if (!s->d || !s->cs || !s->c || (debug_dir && callsites_set_debug_dir(s->cs, debug_dir))) {
		tf_reader_close(r);
		return fprintf(stderr, "faultline: out of memory\n"), 1;
	}
	has = report_read_stack_maps(s->path, s->cs);
	if (has <= 0) {
		callsites_free(s->cs);
		s->cs = NULL;
	}
	if (diff_side_attach(s->d, s->c) || (s->cs && callsites_attach(s->cs, s->c))) {
		tf_reader_close(r);
		return fprintf(stderr, "faultline: out of memory\n"), 1;
	}
	st = report_replay(r, s->c);
	if (st == TF_CORRUPT) {
		fprintf(stderr, "faultline: %s\n", tf_reader_error(r));
		rc = 2;
	} else if (st == TF_TRUNCATED) {
		fprintf(stderr, "faultline: %s was cut short (the recording did not finish): "
			"the diff covers its %llu whole blocks\n", s->path, (unsigned long long)tf_reader_blocks(r));
	}
	if (corr_bad_records(s->c))
		fprintf(stderr, "faultline: %s: %llu records could not be read and were skipped\n", s->path,
			(unsigned long long)corr_bad_records(s->c));
	diff_count_live_at_end(s->d, s->c);
	tf_reader_close(r);
	return rc;
}

static int write_diff(const struct diff_opts *o, struct side *old, struct side *new)
{
	struct diff_input in = { old->d, new->d, o->old_path, o->new_path, o->max_rows };
	struct sf_out outfile;
	FILE *out = stdout;
	struct diff_row *rows;
	size_t n;
	int rc = 0;

	if (old->cs && new->cs && (diff_side_use_sites(old->d, old->cs) || diff_side_use_sites(new->d, new->cs)))
		return fprintf(stderr, "faultline: out of memory\n"), 1;
	rows = diff_compare(old->d, new->d, &n);
	if (!rows)
		return fprintf(stderr, "faultline: out of memory\n"), 1;
	if (o->out && !(out = sf_fopen_out(o->out, &outfile))) {
		fprintf(stderr, "faultline: cannot create %s: %s\n", o->out, sf_strerror(errno));
		free(rows);
		return 1;
	}
	if (o->json)
		diff_write_json(out, &in, rows, n);
	else
		diff_write_text(out, &in, rows, n);
	if (out != stdout && sf_fclose(out, &outfile, true)) {
		fprintf(stderr, "faultline: writing %s: %s\n", o->out, strerror(errno));
		rc = 1;
	}
	free(rows);
	return rc;
}

int report_diff(const struct diff_opts *o)
{
	struct side old = { .path = o->old_path }, new = { .path = o->new_path };
	int rc = side_replay(&old, o->debug_dir);

	if (!rc)
		rc = side_replay(&new, o->debug_dir);
	if (!rc && (!old.cs) != (!new.cs))
		fprintf(stderr, "faultline: only %s was recorded with --stacks: the diff is by function and size class\n",
			old.cs ? o->old_path : o->new_path);
	if (!rc)
		rc = write_diff(o, &old, &new);
	side_free(&old);
	side_free(&new);
	return rc;
}
