/* resident_check.h - the resident-memory model against the kernel: the
 * smaps Rss of each mapping that holds allocator memory (the heap, the
 * allocator's mappings) beside the model's pages there. */
#ifndef FL_RESIDENT_CHECK_H
#define FL_RESIDENT_CHECK_H

#include <stddef.h>
#include "analyze/analyses.h"
#include "analyze/correlator.h"
#include "analyze/resident.h"

/* Appends p's allocator mappings from smaps (the compact text of
 * symbols/smaps.h) to *regions (growing *cap), each with the model's bytes,
 * and adds them to r's kernel_rss and model_rss. A text whose lines overlap
 * (no kernel's) adds nothing. */
void resident_check(const struct corr_proc *p, const struct resident *res, const char *smaps, size_t len,
		    struct ha_results *r, struct ha_region **regions, size_t *n, size_t *cap);

#endif
