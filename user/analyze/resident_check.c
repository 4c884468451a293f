/* resident_check.c - the resident-memory model against the kernel's smaps
 * Rss at exit (resident_check.h): each resident page counts for the mapping
 * holding it, O(log mappings) a page, so a file of many mappings costs no
 * more than one of few. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/resident_check.h"
#include "symbols/smaps.h"

/* Does the mapping hold allocator memory (the heap, one of its mappings)? */
static bool allocator_mapping(const struct corr_proc *p, uint64_t start, uint64_t end)
{
	if (p->heap_start && start < p->brk && end > p->heap_start)
		return true;
	return region_set_overlap(p->regions, start, end) > 0;
}

static int region_cmp(const void *x, const void *y)
{
	const struct ha_region *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

struct region_pages {
	struct ha_region *v; /* sorted by start, disjoint */
	size_t n;
};

/* A resident page counts for the mapping holding it: O(log n) a page, so a
 * file of many mappings costs no more than one of few. */
static void page_to_region(void *arg, uint64_t addr, unsigned flags)
{
	struct region_pages *rp = arg;
	size_t lo = 0, hi = rp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rp->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rp->n && rp->v[lo].start <= addr) {
		rp->v[lo].model += RES_PAGE;
		if (flags & RES_ALLOCATOR)
			rp->v[lo].model_allocator += RES_PAGE;
	}
}

void resident_check(const struct corr_proc *p, const struct resident *res, const char *smaps, size_t len,
		    struct ha_results *out, struct ha_region **regions, size_t *nregions, size_t *cap)
{
	size_t n, first = *nregions;
	struct smaps_entry *v = smaps_parse(smaps, len, &n);
	struct region_pages rp;

	for (size_t i = 0; v && i < n; i++) {
		struct ha_region *r;

		if (!allocator_mapping(p, v[i].start, v[i].end))
			continue;
		if (*nregions == *cap) {
			struct ha_region *g = realloc(*regions, (*cap = *cap ? *cap * 2 : 16) * sizeof(*g));

			if (!g)
				abort(); /* the analyses cannot go on without their memory */
			*regions = g;
		}
		r = &(*regions)[(*nregions)++];
		memset(r, 0, sizeof(*r));
		r->tgid = p->tgid;
		r->start = v[i].start;
		r->end = v[i].end;
		r->kernel = v[i].rss;
		snprintf(r->name, sizeof(r->name), "%s", v[i].name);
	}
	free(v);
	if (*nregions == first)
		return; /* no allocator mapping in its smaps */
	qsort(*regions + first, *nregions - first, sizeof(**regions), region_cmp);
	for (size_t i = first + 1; i < *nregions; i++)
		if ((*regions)[i].start < (*regions)[i - 1].end) {
			*nregions = first; /* not a kernel's smaps: no comparison */
			return;
		}
	rp = (struct region_pages){ *regions + first, *nregions - first };
	resident_for_each(res, page_to_region, &rp);
	for (size_t i = first; i < *nregions; i++) {
		out->kernel_rss += (*regions)[i].kernel;
		out->model_rss += (*regions)[i].model;
		out->have_kernel = true;
	}
}

