/* html.h - the HTML report (html.c) and what it takes from the event
 * stream (html_events.c); the page's script, style and libraries are
 * embedded by the build (html/assets.h). */
#ifndef FL_HTML_H
#define FL_HTML_H

#include "output/output.h"

/* A memory syscall, as the page's timeline marks it. */
struct html_marker {
	uint64_t ts, seq, call_seq, size, addr;
	uint32_t pid, touches; /* first touches that followed on the call's block */
	uint8_t sys;
	bool failed;
	char call[96];         /* "malloc(131072) = 0x7f..."; empty: outside any call */
	char what[160];        /* "mmap 132 KiB (135168 B) anon 0x...-0x..." */
};

/* One point of the timeline: the values at the end of its interval, and
 * what happened during it. */
struct html_point {
	uint64_t ts, live, heap, mmap;
	uint32_t syscalls, first_touches;
};

/* A bounded series of points (html_timeline.c); pid 0: all processes. */
struct html_series {
	uint32_t pid;
	struct html_point *p;
	size_t n, cap;
	uint64_t interval, start; /* the last point covers [start, start + interval) */
};
int html_series_init(struct html_series *s, uint32_t pid, size_t cap);
/* Starts the point of the interval holding ts (thinning a full series). */
struct html_point *html_series_next(struct html_series *s, uint64_t ts);
/* The levels in now at ts, and its counts added to the interval's: inline,
 * as it runs for every event. */
static inline void html_series_add(struct html_series *s, uint64_t ts, const struct html_point *now)
{
	struct html_point *p;

	if (s->n && ts < s->p[s->n - 1].ts) /* a call's time rounded down (record --call-times) */
		ts = s->p[s->n - 1].ts;     /* before the exact time of the event before it: never back */
	if (s->n && ts < s->start + s->interval + (s->interval == 0))
		p = &s->p[s->n - 1];
	else
		p = html_series_next(s, ts);
	p->ts = ts;
	p->live = now->live;
	p->heap = now->heap;
	p->mmap = now->mmap;
	p->syscalls += now->syscalls;
	p->first_touches += now->first_touches;
}
void html_series_free(struct html_series *s);

#define HTML_MAX_PROCS 16 /* processes with a series of their own (-f), of a quarter the points */

struct html_events;
struct html_events *html_events_new(size_t max_markers, size_t max_points);
/* Adds it as a sink of c (before the first record): 0, or -1. */
int html_events_attach(struct html_events *h, struct correlator *c);
void html_events_free(struct html_events *h);
/* The markers kept (n), in order; of total[k] syscalls of kind k, one in every[k]. */
const struct html_marker *html_events_markers(const struct html_events *h, size_t *n, const uint64_t **total,
					      const uint64_t **every);
/* The series: [0] all processes, then, once a second process appeared, one
 * per process (the first HTML_MAX_PROCS seen) in the order they appeared;
 * n of them. */
const struct html_series *html_events_series(const struct html_events *h, size_t *n);

/* The page: the JSON summary (with its extra members and analyses, as
 * `report --format json` writes it), the markers, the timeline and, with a
 * call-site table, the folded stacks of each metric. -1 on a write error. */
int html_write(FILE *out, const struct html_events *h, struct callsites *cs, const struct summary *s,
	       const struct run_info *ri, bool truncated);

#endif
