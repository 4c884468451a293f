/* report.h - the report formats: each a sink of resolved items plus a
 * function that writes the end of the report. */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <stdio.h>
#include "correlator.h"

/* jsonl: one line per resolved event, written as they come. */
struct corr_sink jsonl_sink(FILE *out);

/* json: the summary object (schema faultline.summary.v1). */
void summary_write_json(FILE *out, const struct summary *s, const struct run_info *ri,
			bool truncated);

/* text: a summary, then the calls that caused a syscall (and large calls). */
struct text_report;
struct text_report *text_report_new(unsigned max_lines);
struct corr_sink text_report_sink(struct text_report *tr);
void text_report_write(struct text_report *tr, FILE *out, const struct summary *s,
		       const struct run_info *ri, bool truncated);
void text_report_free(struct text_report *tr);

/* Helpers shared by the formats. */
const char *fmt_bytes(uint64_t n, char *buf, size_t len); /* "132 KiB", "1.5 MiB" */
uint64_t run_duration_ns(const struct summary *s, const struct run_info *ri);

#endif
