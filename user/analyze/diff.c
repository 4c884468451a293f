/* diff.c - one recording's rows for report --diff, and the comparison of two
 * (see diff.h). Without stacks a row is an allocating function and a size
 * class ([2^k, 2^(k+1)) bytes requested): its calls, bytes, the syscalls
 * made inside them and inside the frees of their blocks, the first touches
 * of their blocks; what no call made goes to the row "outside any call". */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "analyze/calls.h"
#include "analyze/diff.h"
#include "analyze/heap_sites.h"
#include "util/id_map.h"
#include "util/site_key.h"

#define NKEYS (FL_NCALLS * HS_NCLASS + 1)
#define KEY_OUTSIDE (NKEYS - 1)

const char *const diff_state_names[4] = { "changed", "same", "appeared", "vanished" };

struct side_row {
	char *name;
	struct diff_counts c;
};

/* The call a thread made last: its syscalls and faults go to its row. */
struct thread_call {
	uint64_t seq;
	uint32_t key;
};

struct diff_side {
	struct diff_counts keys[NKEYS]; /* by function and size class */
	int block_off;                  /* per block: 1 + its key, 0: none */
	struct id_map tids;
	struct thread_call *threads;
	size_t nthreads, cap_threads;
	bool by_site;
	struct side_row *rows; /* made from keys[] or from the call sites */
	size_t nrows;
	bool rows_made;
};

struct diff_side *diff_side_new(void)
{
	return calloc(1, sizeof(struct diff_side));
}

static void free_rows(struct diff_side *d)
{
	for (size_t i = 0; i < d->nrows; i++)
		free(d->rows[i].name);
	free(d->rows);
	d->rows = NULL;
	d->nrows = 0;
}

void diff_side_free(struct diff_side *d)
{
	if (!d)
		return;
	free_rows(d);
	free(d->threads);
	id_map_clear(&d->tids);
	free(d);
}

static uint32_t key_of(unsigned func, uint64_t size)
{
	return (uint32_t)fl_func_call(func) * HS_NCLASS + hs_size_class(size);
}

static uint32_t *block_key(struct diff_side *d, struct alloc_block *b)
{
	return corr_block_data(b, d->block_off);
}

static struct thread_call *thread_of(struct diff_side *d, uint32_t tid)
{
	size_t i;

	if (id_map_get(&d->tids, tid, &i))
		return &d->threads[i];
	if (d->nthreads == d->cap_threads) {
		size_t cap = d->cap_threads ? d->cap_threads * 2 : 16;
		struct thread_call *t = realloc(d->threads, cap * sizeof(*t));

		if (!t)
			return NULL;
		d->threads = t;
		d->cap_threads = cap;
	}
	if (id_map_put(&d->tids, tid, d->nthreads))
		return NULL;
	d->threads[d->nthreads] = (struct thread_call){ 0 };
	return &d->threads[d->nthreads++];
}

static void on_call(struct diff_side *d, const struct corr_item *it)
{
	const struct fl_ev_call *e = (const struct fl_ev_call *)it->rec;
	struct thread_call *t;
	uint32_t key;

	if ((e->h.flags & FL_F_NESTED) || e->h.func >= FL_NFUNC)
		return; /* its syscalls are its outer call's */
	if (fl_is_free(e->h.func)) {
		uint32_t *k = it->block && !it->unknown_free ? block_key(d, it->block) : NULL;

		key = k && *k ? *k - 1 : key_of(e->h.func, 0);
	} else {
		uint64_t size = call_requested_bytes(e);

		key = key_of(e->h.func, size);
		d->keys[key].calls++;
		d->keys[key].bytes += size;
		if (it->block)
			*block_key(d, it->block) = key + 1;
	}
	t = thread_of(d, e->h.tid);
	if (t) {
		t->seq = it->seq;
		t->key = key;
	}
}

/* The row of an event made inside call_seq on tid, else "outside any call". */
static uint32_t event_key(struct diff_side *d, const struct corr_item *it)
{
	struct thread_call *t;

	if (!it->call_seq || !(t = thread_of(d, it->rec->tid)) || t->seq != it->call_seq)
		return KEY_OUTSIDE;
	return t->key;
}

void diff_side_item(void *ctx, const struct corr_item *it)
{
	struct diff_side *d = ctx;

	switch (it->rec->type) {
	case FL_EV_CALL:
		on_call(d, it);
		break;
	case FL_EV_SYSCALL: {
		const struct fl_ev_syscall *e = (const struct fl_ev_syscall *)it->rec;

		if (e->sys < FL_NSYS)
			d->keys[event_key(d, it)].syscalls[e->sys]++;
		break;
	}
	case FL_EV_FAULT: {
		uint32_t *k = it->block ? block_key(d, it->block) : NULL;

		if (it->first_touch)
			d->keys[k && *k ? *k - 1 : event_key(d, it)].first_touches++;
		break;
	}
	}
}

int diff_side_attach(struct diff_side *d, struct correlator *c)
{
	struct corr_sink s = { diff_side_item, d };

	d->block_off = corr_reserve_block_data(c, sizeof(uint32_t));
	if (d->block_off < 0)
		return -1;
	corr_add_sink(c, &s);
	return 0;
}

static bool count_block(struct alloc_block *b, void *arg)
{
	struct diff_side *d = arg;
	uint32_t k = *block_key(d, b);

	if (k)
		d->keys[k - 1].live_end++;
	return true;
}

static void count_proc(struct corr_proc *p, void *arg)
{
	alloc_index_foreach(p->index, count_block, arg);
}

void diff_count_live_at_end(struct diff_side *d, struct correlator *c)
{
	corr_foreach_proc(c, count_proc, d);
}

/* ---- rows ------------------------------------------------------------------ */

static void unit_of(unsigned k, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

	snprintf(buf, len, "%llu %s", 1ull << (k % 10), units[k / 10]);
}

static char *key_name(uint32_t key)
{
	unsigned call = key / HS_NCLASS, cls = key % HS_NCLASS;
	char lo[24], hi[24], *s = NULL;
	int r;

	if (key == KEY_OUTSIDE)
		return strdup("outside any call");
	if (!strcmp(fl_call_names[call], "free") || cls == 0) {
		r = asprintf(&s, "%s%s", fl_call_names[call], cls == 0 ? " 0 B" : "");
		return r < 0 ? NULL : s;
	}
	unit_of(cls - 1, lo, sizeof(lo));
	if (cls == 64)
		snprintf(hi, sizeof(hi), "16 EiB");
	else
		unit_of(cls, hi, sizeof(hi));
	r = asprintf(&s, "%s %s..%s", fl_call_names[call], lo, hi);
	return r < 0 ? NULL : s;
}

static bool counts_zero(const struct diff_counts *c)
{
	static const struct diff_counts zero;

	return !memcmp(c, &zero, sizeof(zero));
}

static int add_row(struct diff_side *d, size_t *cap, char *name, const struct diff_counts *c)
{
	if (!name)
		return -1;
	if (d->nrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct side_row *r = realloc(d->rows, ncap * sizeof(*r));

		if (!r)
			return free(name), -1;
		d->rows = r;
		*cap = ncap;
	}
	d->rows[d->nrows].name = name;
	d->rows[d->nrows++].c = *c;
	return 0;
}

static int make_key_rows(struct diff_side *d)
{
	size_t cap = 0;

	if (d->rows_made)
		return 0;
	d->rows_made = true;
	for (uint32_t k = 0; k < NKEYS; k++)
		if (!counts_zero(&d->keys[k]) && add_row(d, &cap, key_name(k), &d->keys[k]))
			return -1;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct side_row *)a)->name, ((const struct side_row *)b)->name);
}

static void add_counts(struct diff_counts *to, const struct diff_counts *c)
{
	to->calls += c->calls;
	to->bytes += c->bytes;
	to->live_end += c->live_end;
	to->first_touches += c->first_touches;
	for (int k = 0; k < FL_NSYS; k++)
		to->syscalls[k] += c->syscalls[k];
}

/* Adds c to the row named key (taking key), or makes it. */
static int merge_row(struct diff_side *d, size_t *cap, char *key, const struct diff_counts *c)
{
	if (!key)
		return -1;
	for (size_t j = 0; j < d->nrows; j++)
		if (!strcmp(d->rows[j].name, key)) {
			add_counts(&d->rows[j].c, c);
			free(key);
			return 0;
		}
	return add_row(d, cap, key, c);
}

static int site_seen(struct cs_site *const *lists, const size_t *ns, int m, size_t i)
{
	for (int pm = 0; pm <= m; pm++)
		for (size_t j = 0; j < (pm == m ? i : ns[pm]); j++)
			if (!strcmp(lists[pm][j].name, lists[m][i].name))
				return 1;
	return 0;
}

int diff_side_use_sites(struct diff_side *d, struct callsites *cs)
{
	struct cs_site *lists[CS_NMETRIC] = { 0 };
	size_t ns[CS_NMETRIC] = { 0 }, cap = 0;
	int rc = 0;

	free_rows(d);
	d->by_site = d->rows_made = true;
	for (int m = 0; m < CS_NMETRIC && !rc; m++) {
		lists[m] = callsites_sites(cs, (enum cs_metric)m, &ns[m]);
		if (!lists[m] && ns[m])
			rc = -1;
		for (size_t i = 0; i < ns[m] && !rc; i++) {
			const struct cs_site *s = &lists[m][i];
			struct diff_counts c = { .calls = s->count.calls, .bytes = s->count.bytes,
						 .first_touches = s->count.faults_owned + s->count.faults_touched };

			memcpy(c.syscalls, s->count.syscalls, sizeof(c.syscalls));
			if (!site_seen(lists, ns, m, i))
				rc = merge_row(d, &cap, site_key(s->name), &c);
		}
	}
	for (int m = 0; m < CS_NMETRIC; m++)
		free(lists[m]);
	return rc;
}

bool diff_side_by_site(const struct diff_side *d)
{
	return d->by_site;
}

void diff_side_totals(const struct diff_side *d, struct diff_counts *t)
{
	memset(t, 0, sizeof(*t));
	make_key_rows((struct diff_side *)d);
	for (size_t i = 0; i < d->nrows; i++) {
		const struct diff_counts *c = &d->rows[i].c;

		t->calls += c->calls;
		t->bytes += c->bytes;
		t->live_end += c->live_end;
		t->first_touches += c->first_touches;
		for (int k = 0; k < FL_NSYS; k++)
			t->syscalls[k] += c->syscalls[k];
	}
}

/* ---- the comparison ------------------------------------------------------- */

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

static void score(struct diff_row *r, bool have_old, bool have_new)
{
	r->change = absdiff(r->old.calls, r->new.calls) + absdiff(r->old.first_touches, r->new.first_touches) +
		    absdiff(r->old.live_end, r->new.live_end);
	for (int k = 0; k < FL_NSYS; k++)
		r->change += absdiff(r->old.syscalls[k], r->new.syscalls[k]);
	if (!have_old)
		r->state = DIFF_APPEARED;
	else if (!have_new)
		r->state = DIFF_VANISHED;
	else
		r->state = memcmp(&r->old, &r->new, sizeof(r->old)) ? DIFF_CHANGED : DIFF_SAME;
}

static int by_change(const void *pa, const void *pb)
{
	const struct diff_row *a = pa, *b = pb;
	uint64_t ba = absdiff(a->old.bytes, a->new.bytes), bb = absdiff(b->old.bytes, b->new.bytes);

	if ((a->state == DIFF_SAME) != (b->state == DIFF_SAME))
		return a->state == DIFF_SAME ? 1 : -1;
	if (a->change != b->change)
		return a->change > b->change ? -1 : 1;
	if (ba != bb)
		return ba > bb ? -1 : 1;
	return strcmp(a->name, b->name);
}

struct diff_row *diff_compare(const struct diff_side *old, const struct diff_side *new, size_t *n)
{
	struct diff_side *o = (struct diff_side *)old, *w = (struct diff_side *)new;
	struct diff_row *rows;
	size_t i = 0, j = 0, k = 0;

	*n = 0;
	if (make_key_rows(o) || make_key_rows(w))
		return NULL;
	if (o->nrows > 1)
		qsort(o->rows, o->nrows, sizeof(*o->rows), by_name);
	if (w->nrows > 1)
		qsort(w->rows, w->nrows, sizeof(*w->rows), by_name);
	rows = calloc(o->nrows + w->nrows + 1, sizeof(*rows));
	if (!rows)
		return NULL;
	while (i < o->nrows || j < w->nrows) {
		int cmp = i == o->nrows ? 1 : j == w->nrows ? -1 : strcmp(o->rows[i].name, w->rows[j].name);
		struct diff_row *r = &rows[k++];

		if (cmp <= 0) {
			r->name = o->rows[i].name;
			r->old = o->rows[i++].c;
		}
		if (cmp >= 0) {
			r->name = w->rows[j].name;
			r->new = w->rows[j++].c;
		}
		score(r, cmp <= 0, cmp >= 0);
	}
	if (k > 1)
		qsort(rows, k, sizeof(*rows), by_change);
	*n = k;
	return rows;
}
