/* timeline.h - memory over time: points at the end of equal intervals,
 * each with the levels then (live, heap, mmap, held, resident) and the
 * interval's counts (syscalls by kind, first touches). With no interval
 * given, it starts at 1 ms and doubles (merging pairs of points) whenever
 * twice the wanted number of points is reached, so its size stays bounded
 * and the end has between points and 2 x points. Appends only when the
 * clock passes an interval's end: O(1) per event. */
#ifndef FL_TIMELINE_H
#define FL_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "faultline.h"

struct tl_levels {
	uint64_t live, heap, mmap, held, resident;
};

struct tl_point {
	uint64_t t_ns; /* the interval's end, from the first event */
	struct tl_levels v;
	uint64_t syscalls[FL_NSYS], first_touches;
};

struct timeline {
	uint64_t interval_ns, t0;
	unsigned want;      /* points wanted (adaptive), 0: fixed interval */
	bool started;
	struct tl_point *pts;
	size_t n, cap;
	struct tl_point cur; /* the open interval: counts so far */
	uint64_t next_end;   /* when the open interval ends (absolute), UINT64_MAX before the start */
	/* where the levels are read when an interval closes */
	const uint64_t *live, *heap, *mmap, *given_back, *resident;
};

/* interval_ns 0: adaptive, about `points` points. */
void timeline_init(struct timeline *tl, uint64_t interval_ns, unsigned points);
/* The levels the points take, read when each interval closes (the values
 * then: the event that closes it is not yet applied to those the caller
 * keeps itself). */
void timeline_levels(struct timeline *tl, const uint64_t *live, const uint64_t *heap, const uint64_t *mmap,
		     const uint64_t *given_back, const uint64_t *resident);
void timeline_advance_slow(struct timeline *tl, uint64_t ts);
/* The clock is at ts: closes the intervals that ended before it. */
static inline void timeline_advance(struct timeline *tl, uint64_t ts)
{
	if (ts >= tl->next_end)
		timeline_advance_slow(tl, ts);
}
/* Ends the last interval (at ts). */
void timeline_finish(struct timeline *tl, uint64_t ts);
void timeline_free(struct timeline *tl);

#endif
