/* diff.c - report --diff as text and as JSON (schema faultline.diff.v1):
 * the rows of analyze/diff.c, largest change first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "fl_schema.h"
#include "output/output.h"

/* "+50", "-3", "0" */
static const char *signed_str(uint64_t old, uint64_t new, char *buf, size_t len)
{
	int64_t d = diff_delta(old, new);

	snprintf(buf, len, d > 0 ? "+%" PRId64 : "%" PRId64, d);
	return buf;
}

static void syscall_changes(const struct diff_row *r, char *buf, size_t len)
{
	size_t off = 0;
	char d[32];

	buf[0] = 0;
	for (int k = 0; k < FL_NSYS && off < len; k++)
		if (r->old.syscalls[k] != r->new.syscalls[k])
			off += snprintf(buf + off, len - off, "%s%s %s", off ? ", " : "", fl_sys_names[k],
					signed_str(r->old.syscalls[k], r->new.syscalls[k], d, sizeof(d)));
	if (!off)
		snprintf(buf, len, "-");
}

static void write_text_row(FILE *out, const struct diff_row *r)
{
	char calls[32], touches[32], live[32], bytes[32], sys[200];
	int64_t db = diff_delta(r->old.bytes, r->new.bytes);
	char b[32];

	syscall_changes(r, sys, sizeof(sys));
	snprintf(bytes, sizeof(bytes), "%s%s", db < 0 ? "-" : db > 0 ? "+" : "",
		 fmt_bytes(db < 0 ? (uint64_t)-db : (uint64_t)db, b, sizeof(b)));
	fprintf(out, "  %-8s %7s %10s %7s %7s  %-28s  ", diff_state_names[r->state],
		signed_str(r->old.calls, r->new.calls, calls, sizeof(calls)), bytes,
		signed_str(r->old.live_end, r->new.live_end, live, sizeof(live)),
		signed_str(r->old.first_touches, r->new.first_touches, touches, sizeof(touches)), sys);
	esc_puts(out, r->name, ESC_TEXT); /* call sites name the target's code */
	fputc('\n', out);
}

void diff_write_text(FILE *out, const struct diff_input *in, const struct diff_row *rows, size_t n)
{
	struct diff_counts to, tn;
	size_t same = 0, shown = 0;
	char d[32];

	diff_side_totals(in->old, &to);
	diff_side_totals(in->new, &tn);
	fprintf(out, "faultline diff: ");
	esc_puts(out, in->old_path, ESC_TEXT);
	fprintf(out, " -> ");
	esc_puts(out, in->new_path, ESC_TEXT);
	fprintf(out, "\n  rows by %s\n", diff_side_by_site(in->old) ? "call site (recorded with --stacks)"
								   : "allocating function and size class");
	fprintf(out, "  calls %" PRIu64 " -> %" PRIu64 ", first touches %" PRIu64 " -> %" PRIu64 ", syscalls (change):",
		to.calls, tn.calls, to.first_touches, tn.first_touches);
	for (int k = 0; k < FL_NSYS; k++)
		fprintf(out, " %s %s", fl_sys_names[k], signed_str(to.syscalls[k], tn.syscalls[k], d, sizeof(d)));
	fprintf(out, "\n\nChanges, largest first (new minus old: calls, bytes requested, blocks live\n"
		     "at the end, first-touch faults, memory syscalls by kind)\n");
	fprintf(out, "  %-8s %7s %10s %7s %7s  %-28s  %s\n", "state", "calls", "bytes", "live", "touches",
		"syscalls", diff_side_by_site(in->old) ? "call site" : "function and size requested");
	for (size_t i = 0; i < n; i++)
		same += rows[i].state == DIFF_SAME;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].state == DIFF_SAME)
			continue;
		if (in->max_rows && shown == in->max_rows) {
			fprintf(out, "  ... more changed rows (--format json has them all)\n");
			break;
		}
		write_text_row(out, &rows[i]);
		shown++;
	}
	if (!shown)
		fprintf(out, "  none: the two recordings count the same\n");
	fprintf(out, "  (%zu rows unchanged)\n", same);
}

static void json_counts_obj(FILE *out, const struct diff_counts *c)
{
	fprintf(out, "{\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"live_end\":%" PRIu64
		",\"first_touches\":%" PRIu64 ",\"syscalls\":{", c->calls, c->bytes, c->live_end, c->first_touches);
	for (int k = 0; k < FL_NSYS; k++)
		fprintf(out, "%s\"%s\":%" PRIu64, k ? "," : "", fl_sys_names[k], c->syscalls[k]);
	fprintf(out, "}}");
}

static void json_delta_obj(FILE *out, const struct diff_counts *o, const struct diff_counts *w)
{
	fprintf(out, "{\"calls\":%" PRId64 ",\"bytes\":%" PRId64 ",\"live_end\":%" PRId64
		",\"first_touches\":%" PRId64 ",\"syscalls\":{", diff_delta(o->calls, w->calls),
		diff_delta(o->bytes, w->bytes), diff_delta(o->live_end, w->live_end),
		diff_delta(o->first_touches, w->first_touches));
	for (int k = 0; k < FL_NSYS; k++)
		fprintf(out, "%s\"%s\":%" PRId64, k ? "," : "", fl_sys_names[k],
			diff_delta(o->syscalls[k], w->syscalls[k]));
	fprintf(out, "}}");
}

void diff_write_json(FILE *out, const struct diff_input *in, const struct diff_row *rows, size_t n)
{
	struct diff_counts to, tn;

	diff_side_totals(in->old, &to);
	diff_side_totals(in->new, &tn);
	fprintf(out, "{\"schema\":\"" FL_DIFF_SCHEMA "\",\"old\":");
	json_string(out, in->old_path);
	fprintf(out, ",\"new\":");
	json_string(out, in->new_path);
	fprintf(out, ",\"by\":\"%s\",\"totals\":{\"old\":", diff_side_by_site(in->old) ? "call_site" : "function_size");
	json_counts_obj(out, &to);
	fprintf(out, ",\"new\":");
	json_counts_obj(out, &tn);
	fprintf(out, ",\"change\":");
	json_delta_obj(out, &to, &tn);
	fprintf(out, "},\"rows\":[");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, rows[i].name);
		fprintf(out, ",\"state\":\"%s\",\"old\":", diff_state_names[rows[i].state]);
		json_counts_obj(out, &rows[i].old);
		fprintf(out, ",\"new\":");
		json_counts_obj(out, &rows[i].new);
		fprintf(out, ",\"change\":");
		json_delta_obj(out, &rows[i].old, &rows[i].new);
		fputc('}', out);
	}
	fprintf(out, "]}\n");
}
