/* summary.c - owns the list of struct summary's count fields and the mean
 * of several runs' summaries (see summary.h). */
#include <math.h>
#include <string.h>
#include "analyze/summary.h"

#define COUNT(field) { offsetof(struct summary, field), sizeof(((struct summary *)0)->field) / sizeof(uint64_t) }

const struct summary_field summary_count_fields[] = {
	COUNT(calls), COUNT(calls_nested), COUNT(calls_nested_by), COUNT(calls_with_syscall), COUNT(syscalls), COUNT(by_caller),
	COUNT(faults_total), COUNT(faults_user), COUNT(faults_kernel), COUNT(faults_owner),
	COUNT(first_touch), COUNT(first_touch_owner), COUNT(alloc_faults_in_call),
	COUNT(bytes_requested), COUNT(peak_live), COUNT(peak_heap), COUNT(peak_mmap), COUNT(peak_unused),
	COUNT(frees_null), COUNT(frees_unknown), COUNT(frees_kept), COUNT(frees_returned), COUNT(mismatched),
	COUNT(frees_thread_cache),
	COUNT(orphan_events), COUNT(reasons),
};
const size_t summary_count_nfields = sizeof(summary_count_fields) / sizeof(summary_count_fields[0]);

static const uint64_t *words(const struct summary *s, size_t offset)
{
	return (const uint64_t *)((const char *)s + offset);
}

/* Mean and sample standard deviation of x[0..n), rounded. */
static void mean_sd(const double *x, unsigned n, uint64_t *mean, uint64_t *sd)
{
	double sum = 0, sq = 0, mu;

	for (unsigned i = 0; i < n; i++)
		sum += x[i];
	mu = sum / n;
	for (unsigned i = 0; i < n; i++)
		sq += (x[i] - mu) * (x[i] - mu);
	*mean = (uint64_t)llround(mu);
	*sd = (uint64_t)llround(n > 1 ? sqrt(sq / (n - 1)) : 0);
}

void summary_mean(const struct summary *runs, unsigned n, struct summary *mean, struct summary *sd)
{
	double x[n];
	uint64_t dur_sd;

	*mean = runs[n - 1];
	memset(sd, 0, sizeof(*sd));
	for (size_t f = 0; f < summary_count_nfields; f++) {
		const struct summary_field *fd = &summary_count_fields[f];

		for (size_t w = 0; w < fd->n; w++) {
			for (unsigned i = 0; i < n; i++)
				x[i] = (double)words(&runs[i], fd->offset)[w];
			mean_sd(x, n, (uint64_t *)words(mean, fd->offset) + w, (uint64_t *)words(sd, fd->offset) + w);
		}
	}
	for (unsigned i = 0; i < n; i++)
		x[i] = runs[i].last_ts > runs[i].first_ts ? (double)(runs[i].last_ts - runs[i].first_ts) : 0;
	mean_sd(x, n, &mean->last_ts, &dur_sd);
	mean->last_ts += mean->first_ts;
}
