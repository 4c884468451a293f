/* sites.h - check --sites: the memory syscalls of each call site a summary
 * lists (extra.call_sites.syscalls, from a recording made with --stacks) as
 * counts named "sites.NAME" (NAME: util/site_key.h's form, so a site keeps
 * its name when lines move), compared like any other count. */
#ifndef FL_CHECK_SITES_H
#define FL_CHECK_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include "check/metrics.h"
#include "util/json_read.h"

#define FL_SITES_PREFIX "sites."

/* Appends root's call sites to d as counts (sites of one name added up).
 * Returns how many sites the summary lists (0 with none), or -1 with err. */
long sites_load(const struct json_value *root, struct summary_doc *d, char *err, size_t errlen);

/* A site the current summary lists that the baseline's list, cut at its top
 * N, does not: its baseline count is at most the baseline's smallest listed
 * one (0 when the baseline's list is shorter than the current's: not cut).
 * Appends those counts to base. 0, or -1 on out of memory. */
int sites_fill_unlisted(struct summary_doc *base, long base_listed, const struct summary_doc *cur,
			long cur_listed);

#endif
