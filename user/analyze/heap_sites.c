/* heap_sites.c - the sites of the heap analyses (heap_sites.h). */
#include <inttypes.h>
#include <stdio.h>
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
	const struct hs_site *s = &hs->s[key % HS_NSITES];
	bool saved = s->at_peak_gen == hs->gen;

	*bytes = saved ? s->at_peak_bytes : s->live_bytes;
	*blocks = saved ? s->at_peak_blocks : s->live_blocks;
}
