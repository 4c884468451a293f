/* html_timeline.c - a bounded time series of memory levels for the HTML
 * page (html_events.c keeps one for all processes and one per process):
 * each point is an interval's end values (live bytes, heap extent, allocator
 * mappings) and what happened in it (syscalls, first touches). Every event
 * makes a point until the series is full; then neighbouring points merge and
 * the interval doubles, so a run of any length ends with between half the
 * cap and the cap of evenly spaced points. */
#include <stdlib.h>
#include <string.h>
#include "output/html.h"

int html_series_init(struct html_series *s, uint32_t pid, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->cap = cap < 4 ? 4 : cap;
	s->p = calloc(s->cap, sizeof(*s->p));
	return s->p ? 0 : -1;
}

void html_series_free(struct html_series *s)
{
	free(s->p);
	s->p = NULL;
}

/* Merges neighbouring points (the later one's end values, both counts) and
 * doubles the interval. */
static void thin(struct html_series *s)
{
	size_t k = 0;

	for (size_t i = 0; i + 1 < s->n; i += 2) {
		struct html_point a = s->p[i], b = s->p[i + 1];

		b.syscalls += a.syscalls;
		b.first_touches += a.first_touches;
		s->p[k++] = b;
	}
	if (s->n % 2)
		s->p[k++] = s->p[s->n - 1];
	s->n = k;
	if (!s->interval && s->n > 1)
		s->interval = (s->p[s->n - 1].ts - s->p[0].ts) / s->n + 1;
	s->interval *= 2;
}

struct html_point *html_series_next(struct html_series *s, uint64_t ts)
{
	struct html_point *p;

	if (s->n == s->cap)
		thin(s);
	p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	s->start = s->interval ? ts - ts % s->interval : ts;
	return p;
}
