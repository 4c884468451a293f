/* timeline.c - memory over time (timeline.h). */
#include <stdlib.h>
#include <string.h>
#include "analyze/timeline.h"

#define FIRST_INTERVAL_NS 1000ull /* adaptive: 1 µs, then doubled (a 4 ms run gets about 1000 points too) */
#define MAX_FIXED_POINTS 4000000u   /* --interval: past this, doubled like the adaptive one */

void timeline_init(struct timeline *tl, uint64_t interval_ns, unsigned points)
{
	memset(tl, 0, sizeof(*tl));
	tl->interval_ns = interval_ns ? interval_ns : FIRST_INTERVAL_NS;
	tl->want = interval_ns ? 0 : (points ? points : 1000);
	tl->next_end = 0; /* the first event starts it */
}

void timeline_levels(struct timeline *tl, void (*read)(void *ctx, struct tl_levels *v, uint64_t *given_back),
		     void *ctx)
{
	tl->read = read;
	tl->ctx = ctx;
}

static void read_levels(struct timeline *tl)
{
	struct tl_levels *v = &tl->cur.v;
	uint64_t gb = 0;

	if (!tl->read)
		return;
	tl->read(tl->ctx, v, &gb);
	v->held = v->heap + v->mmap > v->live + gb ? v->heap + v->mmap - v->live - gb : 0;
}

/* The end of point k's interval after t0, saturated (a hostile file's clock
 * can jump to near 2^64 ns: the doubling intervals must not wrap). */
static uint64_t end_of(const struct timeline *tl, uint64_t k)
{
	uint64_t e;

	return __builtin_mul_overflow(k + 1, tl->interval_ns, &e) ? UINT64_MAX : e;
}

/* Pairs of points become one (the later's levels, both intervals' counts). */
static void merge_pairs(struct timeline *tl)
{
	size_t k = 0;

	for (size_t i = 0; i < tl->n; i += 2, k++) {
		struct tl_point p = tl->pts[i];

		if (i + 1 < tl->n) {
			const struct tl_point *q = &tl->pts[i + 1];

			p.t_ns = q->t_ns;
			p.v = q->v;
			for (int s = 0; s < FL_NSYS; s++)
				p.syscalls[s] += q->syscalls[s];
			p.first_touches += q->first_touches;
		}
		tl->pts[k] = p;
	}
	tl->n = k;
	if (tl->interval_ns <= UINT64_MAX / 2)
		tl->interval_ns *= 2;
	/* an odd last point ended at the old interval: it now ends at the new one */
	if (tl->n)
		tl->pts[tl->n - 1].t_ns = end_of(tl, tl->n - 1);
}

static void close_interval(struct timeline *tl)
{
	unsigned limit = tl->want ? tl->want * 2 : MAX_FIXED_POINTS;

	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 256;
		struct tl_point *p = realloc(tl->pts, cap * sizeof(*p));

		if (!p)
			abort();
		tl->pts = p;
		tl->cap = cap;
	}
	tl->cur.t_ns = end_of(tl, tl->n);
	read_levels(tl);
	tl->pts[tl->n++] = tl->cur;
	memset(tl->cur.syscalls, 0, sizeof(tl->cur.syscalls));
	tl->cur.first_touches = 0;
	if (tl->n >= limit)
		merge_pairs(tl);
}

void timeline_advance_slow(struct timeline *tl, uint64_t ts)
{
	if (!tl->started) {
		tl->started = true;
		tl->t0 = ts;
	}
	while (end_of(tl, tl->n) < UINT64_MAX && ts - tl->t0 >= end_of(tl, tl->n))
		close_interval(tl);
	tl->next_end = end_of(tl, tl->n) > UINT64_MAX - tl->t0 ? UINT64_MAX : tl->t0 + end_of(tl, tl->n);
}

void timeline_finish(struct timeline *tl, uint64_t ts)
{
	if (!tl->started)
		return;
	timeline_advance_slow(tl, ts);
	close_interval(tl);
	if (tl->want && tl->n > tl->want + tl->want / 2)
		merge_pairs(tl);
}

void timeline_free(struct timeline *tl)
{
	free(tl->pts);
	tl->pts = NULL;
	tl->n = tl->cap = 0;
}
