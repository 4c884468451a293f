/* heap_sites.c - the sites of the heap analyses (heap_sites.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/heap_sites.h"

const char *hs_func(unsigned key)
{
	return fl_call_names[(key / HS_NCLASS) % FL_NCALLS];
}

static void size_text(uint64_t n, char *buf, size_t len)
{
	if (n >= (1ull << 20) && !(n & ((1ull << 20) - 1)))
		snprintf(buf, len, "%" PRIu64 " MiB", n >> 20);
	else if (n >= 1024 && !(n & 1023))
		snprintf(buf, len, "%" PRIu64 " KiB", n >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " B", n);
}

void hs_name(unsigned key, char *buf, size_t len)
{
	unsigned k = key % HS_NCLASS;
	char lo[32], hi[32];

	if (!k) {
		snprintf(buf, len, "%s 0 B", hs_func(key));
		return;
	}
	size_text(hs_class_min(k), lo, sizeof(lo));
	size_text(k == 64 ? UINT64_MAX : hs_class_max(k) + 1, hi, sizeof(hi));
	snprintf(buf, len, "%s %s to <%s", hs_func(key), lo, hi);
}

void hs_at_peak(const struct heap_sites *hs, unsigned key, uint64_t *bytes, uint64_t *blocks)
{
	const struct hs_site *s = hs_at_c(hs, key);
	bool saved = s->at_peak_gen == hs->gen;

	*bytes = saved ? s->at_peak_bytes : s->live_bytes;
	*blocks = saved ? s->at_peak_blocks : s->live_blocks;
}

unsigned hs_row_key(struct heap_sites *hs, uint32_t row)
{
	if (row > hs->nrows) {
		size_t n = hs->nrows ? hs->nrows : 64;
		struct hs_site *r;

		while (n < row)
			n *= 2;
		if (!(r = realloc(hs->rows, n * sizeof(*r))))
			abort(); /* the analyses cannot go on without their sites */
		memset(r + hs->nrows, 0, (n - hs->nrows) * sizeof(*r));
		/* a new site had nothing live at the last peak: its generation is current */
		for (size_t i = hs->nrows; i < n; i++)
			r[i].at_peak_gen = hs->gen;
		hs->rows = r;
		hs->nrows = n;
	}
	return HS_NSITES + row - 1;
}

void hs_free(struct heap_sites *hs)
{
	free(hs->rows);
	hs->rows = NULL;
	hs->nrows = 0;
}
