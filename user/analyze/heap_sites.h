/* heap_sites.h - the call sites the heap analyses (leaks, peak, temporary
 * allocations) group blocks by: the reported function (malloc, calloc, new,
 * ...) and the power-of-two size class of the request, a fixed table indexed
 * by (function, class): O(1) per call, no allocation; and with --stacks=all
 * the call's stack (a row of the call-site table), keys from HS_NSITES on,
 * in a table grown once per new row. */
#ifndef FL_HEAP_SITES_H
#define FL_HEAP_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "faultline.h"

#define HS_NCLASS 65 /* class 0: 0 bytes; class k: [2^(k-1), 2^k) */
#define HS_NSITES (FL_NCALLS * HS_NCLASS)

static inline unsigned hs_size_class(uint64_t n)
{
	return n ? 64u - (unsigned)__builtin_clzll(n) : 0u;
}
static inline uint64_t hs_class_min(unsigned k) { return k ? 1ull << (k - 1) : 0; }
static inline uint64_t hs_class_max(unsigned k) { return !k ? 0 : k == 64 ? UINT64_MAX : (1ull << k) - 1; }

struct hs_site {
	uint64_t calls, bytes;
	/* live now; what was live at the last peak (lazily kept: see hs_live) */
	uint64_t live_bytes, live_blocks, at_peak_bytes, at_peak_blocks, at_peak_gen;
	uint64_t leak_blocks, leak_bytes, leak_pages;
	uint64_t temp_calls, temp_syscalls, temp_touches;
};

struct heap_sites {
	struct hs_site s[HS_NSITES];
	struct hs_site *rows; /* by call-site row: key HS_NSITES + row - 1 */
	size_t nrows;
	uint64_t gen; /* peaks seen: the generation of the newest */
};

static inline struct hs_site *hs_at(struct heap_sites *hs, unsigned key)
{
	return key < HS_NSITES ? &hs->s[key] : &hs->rows[key - HS_NSITES];
}
static inline const struct hs_site *hs_at_c(const struct heap_sites *hs, unsigned key)
{
	return key < HS_NSITES ? &hs->s[key] : &hs->rows[key - HS_NSITES];
}
/* The key of call-site row `row` (1 + index), making room for it. */
unsigned hs_row_key(struct heap_sites *hs, uint32_t row);
static inline bool hs_is_row(unsigned key) { return key >= HS_NSITES; }
static inline uint32_t hs_row_of(unsigned key) { return key - HS_NSITES + 1; }
void hs_free(struct heap_sites *hs);

/* The site of a call reported as fl_call call with size bytes. */
static inline unsigned hs_key(unsigned call, uint64_t size)
{
	return (call < FL_NCALLS ? call : 0) * HS_NCLASS + hs_size_class(size);
}
/* "malloc 64-127 B" */
void hs_name(unsigned key, char *buf, size_t len);
/* The function alone ("malloc"). */
const char *hs_func(unsigned key);
/* A block of the site became live (sign 1) or was released (-1). Before the
 * change, the site's value at the last peak is saved once (so that a peak is
 * O(1): hs_mark_peak only starts a generation). */
static inline void hs_live(struct heap_sites *hs, unsigned key, uint64_t bytes, int sign)
{
	struct hs_site *s = hs_at(hs, key);

	if (s->at_peak_gen != hs->gen) {
		s->at_peak_bytes = s->live_bytes;
		s->at_peak_blocks = s->live_blocks;
		s->at_peak_gen = hs->gen;
	}
	s->live_bytes += sign > 0 ? bytes : -bytes;
	s->live_blocks += sign > 0 ? 1 : (uint64_t)-1;
}
/* Live bytes reached a new peak now. */
static inline void hs_mark_peak(struct heap_sites *hs) { hs->gen++; }
/* What the site had live at the last peak. */
void hs_at_peak(const struct heap_sites *hs, unsigned key, uint64_t *bytes, uint64_t *blocks);

#endif
