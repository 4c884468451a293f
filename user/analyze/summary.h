/* summary.h - the counts of struct summary (correlator.h) as a list of
 * fields, for code that handles every count alike (stat -r N's means and
 * standard deviations): the one place that says which fields are counts and
 * which are times or current levels. */
#ifndef FL_SUMMARY_H
#define FL_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include "analyze/correlator.h"

/* n uint64_t counts at offset bytes into struct summary. */
struct summary_field {
	size_t offset, n;
};

extern const struct summary_field summary_count_fields[];
extern const size_t summary_count_nfields;

/* The mean and the sample standard deviation of every count over n runs
 * (n >= 1); the times become the last run's start plus the mean duration,
 * the current levels and flags are the last run's. */
void summary_mean(const struct summary *runs, unsigned n, struct summary *mean, struct summary *sd);

#endif
