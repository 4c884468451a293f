/* output.h - the report formats: each a sink of resolved items plus a
 * function that writes the end of the report. */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <stdio.h>
#include "analyze/analyses.h"
#include "analyze/callsites.h"
#include "analyze/correlator.h"
#include "analyze/diff.h"
#include "analyze/processes.h"
#include "util/escape.h"

/* jsonl: one line per resolved event, written as they come. */
struct corr_sink jsonl_sink(FILE *out);

/* json: the summary object (schema faultline.summary.v1). */
void summary_write_json(FILE *out, const struct summary *s, const struct run_info *ri,
			bool truncated);

/* One more member of "extra", written by fn (e.g. "call_sites"); up to 8. */
void summary_json_add_extra(const char *key, void (*fn)(void *ctx, FILE *out), void *ctx);

/* The same with -r N: counts are the means of N runs; extra.runs and
 * extra.stddev (the same count sections, standard deviations) are added. */
void summary_write_json_runs(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated,
			     unsigned runs, const struct summary *stddev);

/* text: a summary, then the calls that caused a syscall (and large calls). */
struct text_report;
struct text_report *text_report_new(unsigned max_lines);
/* Adds the report as a sink of c (before the first record): 0, or -1. */
int text_report_attach(struct text_report *tr, struct correlator *c);
void text_report_write(struct text_report *tr, FILE *out, const struct summary *s,
		       const struct run_info *ri, bool truncated);
void text_report_free(struct text_report *tr);
/* The summary part alone (header, calls, syscalls, faults, memory). */
void text_summary_write(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated);
/* "malloc(1) = 0x..." for a call record. */
void text_call_signature(FILE *out, const struct fl_ev_call *e);
/* Appends "  brk +132 KiB heap ..." for a syscall item to buf. */
void text_describe_syscall(char *buf, size_t cap, const struct corr_item *it);

/* "MADV_DONTNEED" for 4, ...; NULL for an advice without a name here. */
const char *madvise_advice_name(uint64_t advice);

/* Appends the allocator's reason (refalloc), e.g. "  free list had no block of 48 B;". */
void text_describe_reason(char *buf, size_t cap, const struct fl_ev_reason *r);

/* live: one line per call that caused a syscall or a first-touch fault (every
 * call with verbose), written as the calls complete. */
struct live_printer;
struct live_printer *live_printer_new(FILE *out, bool verbose);
struct corr_sink live_printer_sink(struct live_printer *lp);
void live_printer_flush(struct live_printer *lp);
void live_printer_free(struct live_printer *lp);

/* --stacks: the top call sites of each metric as a text section (sites.c). */
void sites_write_text(struct callsites *cs, FILE *out);
/* The same as a JSON object (no trailing newline); ctx is the table: the
 * signature of summary_json_add_extra's writer. */
void sites_write_json(void *ctx, FILE *out);
/* Folded stacks of a metric (folded.c); -1 on a write error. */
int folded_write(struct callsites *cs, enum cs_metric m, FILE *out);

/* The heap analyses: the JSON object "analyses" (ctx: the struct
 * analyses, the signature of summary_json_add_top's writer) and the text
 * sections (output/analyses.c). */
void analyses_write_json(void *ctx, FILE *out);
void analyses_write_text(const struct analyses *a, FILE *out);
/* One more top-level member of the summary, written by fn ("analyses"). */
void summary_json_add_top(const char *key, void (*fn)(void *ctx, FILE *out), void *ctx);

/* report --diff (diff.c): the two sides, their files, the text's row limit (0: all). */
struct diff_input {
	const struct diff_side *old, *new;
	const char *old_path, *new_path;
	size_t max_rows;
};
void diff_write_text(FILE *out, const struct diff_input *in, const struct diff_row *rows, size_t n);
/* The JSON object (schema faultline.diff.v1), every row. */
void diff_write_json(FILE *out, const struct diff_input *in, const struct diff_row *rows, size_t n);

/* -f: one row per process (processes.c), a text section when there are
 * several; and the JSON array extra.processes (ctx: the struct processes). */
void processes_write_text(const struct processes *ps, FILE *out);
void processes_write_json(void *ctx, FILE *out);

/* Helpers shared by the formats. */

/* s as a JSON string literal (the summary and the call sites): valid JSON
 * for any bytes, invalid UTF-8 as \u00XX (util/escape.h, ESC_JSON). */
static inline void json_string(FILE *out, const char *s)
{
	esc_json_string(out, s);
}
const char *fmt_bytes(uint64_t n, char *buf, size_t len); /* "132 KiB", "1.5 MiB" */
uint64_t run_duration_ns(const struct summary *s, const struct run_info *ri);

#endif
