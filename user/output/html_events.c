/* html_events.c - what the HTML page takes from the event stream itself: a
 * marker per memory syscall (its time, kind, size, address, the call in
 * flight and the first touches that followed on that call's block) and a
 * timeline of live bytes, heap extent and allocator mappings. Both stay
 * bounded whatever the recording's length: past their cap, every other marker
 * of the most marked kind is dropped and only one in twice as many of that
 * kind is taken from then on (so a rare brk keeps its marker among a million
 * mmaps), and neighbouring points are merged and the interval doubled
 * (timeline). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/calls.h"
#include "output/html.h"

#define RECENT_CALLS 64 /* outermost calls remembered for the syscalls that follow them */

struct recent_call {
	uint64_t seq;
	struct fl_ev_call rec;
	struct alloc_block *block; /* the block it returned (NULL: none, or a free) */
};

struct html_events {
	const struct correlator *c;
	int mark_off;               /* per block (corr_block_data): 1 + its call's marker, 0: none */
	struct html_marker *m;
	size_t n, cap;
	uint64_t total[FL_NSYS], every[FL_NSYS]; /* syscalls seen by kind; one in `every` is kept */
	size_t kept[FL_NSYS];       /* markers of each kind in m */
	struct html_series series[1 + HTML_MAX_PROCS]; /* all, then per process */
	size_t nseries, pcap;
	unsigned last_series;       /* of the previous event's process */
	uint32_t first_pid;         /* while it is the only process, series[0] is its series too */
	struct recent_call recent[RECENT_CALLS];
	unsigned next_recent;
};

struct html_events *html_events_new(size_t max_markers, size_t max_points)
{
	struct html_events *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cap = max_markers < 2 ? 2 : max_markers;
	h->pcap = max_points < 4 ? 4 : max_points;
	for (int k = 0; k < FL_NSYS; k++)
		h->every[k] = 1;
	h->m = calloc(h->cap, sizeof(*h->m));
	h->nseries = 1;
	if (!h->m || html_series_init(&h->series[0], 0, h->pcap)) {
		html_events_free(h);
		return NULL;
	}
	return h;
}

void html_events_free(struct html_events *h)
{
	if (!h)
		return;
	free(h->m);
	for (size_t i = 0; i < h->nseries; i++)
		html_series_free(&h->series[i]);
	free(h);
}

const struct html_marker *html_events_markers(const struct html_events *h, size_t *n, const uint64_t **total,
					      const uint64_t **every)
{
	*n = h->n;
	*total = h->total;
	*every = h->every;
	return h->m;
}

const struct html_series *html_events_series(const struct html_events *h, size_t *n)
{
	*n = h->nseries;
	return h->series;
}

static const struct recent_call *recent_call(const struct html_events *h, uint64_t seq)
{
	for (unsigned i = 0; i < RECENT_CALLS; i++)
		if (h->recent[i].seq == seq && seq)
			return &h->recent[i];
	return NULL;
}

/* The bytes and the address a syscall is about (brk: the change and the new break). */
static void syscall_extent(const struct corr_item *it, uint64_t *size, uint64_t *addr)
{
	const struct fl_ev_syscall *e = (const void *)it->rec;

	*size = e->args[1];
	*addr = e->args[0];
	switch (e->sys) {
	case FL_SYS_BRK:
		if (!e->args[0] || !it->heap_old) /* brk(NULL), or the first break seen: no change */
			*size = 0;
		else
			*size = it->heap_new > it->heap_old ? it->heap_new - it->heap_old : it->heap_old - it->heap_new;
		*addr = it->heap_new;
		break;
	case FL_SYS_MMAP:
		*addr = fl_syscall_failed(e->ret) ? 0 : (uint64_t)e->ret;
		break;
	case FL_SYS_MREMAP:
		*size = e->args[2];
		*addr = fl_syscall_failed(e->ret) ? e->args[0] : (uint64_t)e->ret;
		break;
	}
}

static void describe_call(const struct recent_call *call, const struct corr_item *it, struct html_marker *m)
{
	FILE *f;

	m->call[0] = '\0';
	if (!it->call_seq)
		return; /* outside any allocator call: the page says so */
	f = fmemopen(m->call, sizeof(m->call), "w");
	if (!f)
		return;
	if (call)
		text_call_signature(f, &call->rec);
	else
		fprintf(f, "%s(...)", fl_func_name(it->rec->func < FL_NFUNC ? it->rec->func : 0));
	fclose(f);
}

/* Drops every other marker of the most marked kind, and takes one in twice
 * as many of that kind from now on. */
static void thin_markers(struct html_events *h)
{
	size_t k = 0, seen = 0;
	int most = 0;

	for (int i = 1; i < FL_NSYS; i++)
		if (h->kept[i] > h->kept[most])
			most = i;
	for (size_t i = 0; i < h->n; i++)
		if (h->m[i].sys != most || seen++ % 2 == 0)
			h->m[k++] = h->m[i];
	h->n = k;
	h->kept[most] = (h->kept[most] + 1) / 2;
	h->every[most] *= 2;
}

static void on_syscall(struct html_events *h, const struct corr_item *it)
{
	const struct fl_ev_syscall *e = (const void *)it->rec;
	const struct recent_call *call;
	unsigned sys = e->sys < FL_NSYS ? e->sys : 0;
	uint64_t idx = h->total[sys]++;
	struct html_marker *m;
	const char *d;

	if (idx % h->every[sys])
		return;
	while (h->n == h->cap) {
		thin_markers(h);
		if (idx % h->every[sys])
			return;
	}
	call = recent_call(h, it->call_seq);
	h->kept[sys]++;
	if (call && call->block) /* resolved right after its call: the block is live */
		*(uint32_t *)corr_block_data(call->block, h->mark_off) = (uint32_t)h->n + 1;
	m = &h->m[h->n++];
	m->ts = e->h.ts;
	m->seq = it->seq;
	m->call_seq = it->call_seq;
	m->pid = e->h.tgid;
	m->sys = (uint8_t)sys;
	m->failed = fl_syscall_failed(e->ret);
	m->touches = 0;
	syscall_extent(it, &m->size, &m->addr);
	describe_call(call, it, m);
	m->what[0] = '\0';
	text_describe_syscall(m->what, sizeof(m->what), it);
	d = m->what;
	while (*d == ' ')
		d++;
	memmove(m->what, d, strlen(d) + 1);
}

/* A first touch of a block: counted on the marker of the call that made it
 * (the last one, when the call made several; none once thinning moved it). */
static void on_first_touch(struct html_events *h, const struct corr_item *it)
{
	uint32_t mark = *(const uint32_t *)corr_block_data(it->block, h->mark_off);

	if (mark && mark <= h->n && h->m[mark - 1].call_seq == it->alloc_seq)
		h->m[mark - 1].touches++;
}

/* The series of a process: found, made (while there is room), or NULL. */
static struct html_series *proc_series(struct html_events *h, uint32_t pid)
{
	if (h->last_series && h->series[h->last_series].pid == pid)
		return &h->series[h->last_series];
	for (unsigned i = 1; i < h->nseries; i++)
		if (h->series[i].pid == pid)
			return &h->series[h->last_series = i];
	if (h->nseries == 1 + HTML_MAX_PROCS || html_series_init(&h->series[h->nseries], pid, h->pcap / 4))
		return NULL;
	h->last_series = (unsigned)h->nseries;
	return &h->series[h->nseries++];
}

/* A second process appeared: the first one's series is the totals' so far. */
static int first_series(struct html_events *h)
{
	struct html_series *ps = proc_series(h, h->first_pid);

	if (!ps)
		return -1;
	for (size_t i = 0; i < h->series[0].n; i++)
		html_series_add(ps, h->series[0].p[i].ts, &h->series[0].p[i]);
	return 0;
}

static void sample(struct html_events *h, const struct corr_item *it)
{
	const struct summary *s = corr_summary(h->c);
	const struct corr_proc *pr = it->proc;
	struct html_point now = {
		.live = s->cur_live, .heap = s->cur_heap, .mmap = s->cur_mmap,
		.syscalls = it->rec->type == FL_EV_SYSCALL,
		.first_touches = it->rec->type == FL_EV_FAULT && it->first_touch,
	};
	struct html_series *ps;

	if (pr && h->nseries == 1 && h->first_pid && h->first_pid != pr->tgid)
		first_series(h); /* before this event changes the totals */
	html_series_add(&h->series[0], it->rec->ts, &now);
	if (!pr)
		return;
	if (h->nseries == 1) {
		if (!h->first_pid)
			h->first_pid = pr->tgid; /* one process so far: the totals are its own */
		return;
	}
	if (!(ps = proc_series(h, pr->tgid)))
		return;
	now.live = pr->live->live_bytes;
	now.heap = pr->heap_start && pr->brk > pr->heap_start ? pr->brk - pr->heap_start : 0;
	now.mmap = region_set_bytes(pr->regions);
	html_series_add(ps, it->rec->ts, &now);
}

static void html_item(void *ctx, const struct corr_item *it)
{
	struct html_events *h = ctx;

	switch (it->rec->type) {
	case FL_EV_CALL:
		if (!(it->rec->flags & FL_F_NESTED)) {
			struct recent_call *r = &h->recent[h->next_recent++ % RECENT_CALLS];

			r->seq = it->seq;
			memcpy(&r->rec, it->rec, sizeof(r->rec));
			r->block = fl_is_free(it->rec->func) ? NULL : it->block;
		}
		break;
	case FL_EV_SYSCALL:
		on_syscall(h, it);
		break;
	case FL_EV_FAULT:
		if (it->first_touch && it->block && it->alloc_seq)
			on_first_touch(h, it);
		break;
	default:
		return;
	}
	sample(h, it);
}

int html_events_attach(struct html_events *h, struct correlator *c)
{
	struct corr_sink s = { .item = html_item, .ctx = h };

	h->c = c;
	h->mark_off = corr_reserve_block_data(c, sizeof(uint32_t));
	if (h->mark_off < 0)
		return -1;
	corr_add_sink(c, &s);
	return 0;
}
