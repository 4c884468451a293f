/* leaks.c - the leaks: the blocks still live at the end (the exit, or for
 * -p the end of the recording), added to the heap site each was allocated
 * at, with the first-touch faults that landed in them. */
#include "analyze/analyses.h"

struct leak_walk {
	int off;
	struct heap_sites *hs;
	struct ha_results *r;
};

static bool count_leak(struct alloc_block *b, void *arg)
{
	struct leak_walk *w = arg;
	const struct ha_blk *d = corr_block_data(b, w->off);
	struct hs_site *s;

	if (!d->key1)
		return true; /* not seen allocated (none: every block passes the analyses) */
	s = hs_at(w->hs, d->key1 - 1);
	s->leak_blocks++;
	s->leak_bytes += b->size;
	s->leak_pages += b->faults;
	w->r->leak_blocks++;
	w->r->leak_bytes += b->size;
	w->r->leak_pages += b->faults;
	return true;
}

void leaks_collect(struct alloc_index *ix, int off, struct heap_sites *hs, struct ha_results *r)
{
	struct leak_walk w = { off, hs, r };

	alloc_index_foreach(ix, count_leak, &w);
}
