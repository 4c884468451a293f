/* analyses.c - the sink that feeds every heap analysis (analyses.h) from
 * the correlator's items: the per-block data (its site, the syscalls its
 * call made), the call in resolution (the syscalls that follow it belong to
 * it), per thread the last block allocated (temporaries), per process the
 * resident-memory model and the kernel's smaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "analyze/analyses.h"
#include "analyze/calls.h"
#include "analyze/callsites.h"
#include "analyze/resident.h"
#include "analyze/resident_check.h"
#include "store/meta.h"
#include "symbols/smaps.h"
#include "util/id_map.h"

#define GLIBC_THRESHOLD_START (128u << 10)  /* glibc's DEFAULT_MMAP_THRESHOLD */
#define GLIBC_THRESHOLD_MAX (32u << 20)     /* DEFAULT_MMAP_THRESHOLD_MAX (64-bit) */
/* pages the resident model keeps, all processes (64 GiB resident; 16 bytes
 * each, twice over in the tables): a recording cannot make it hold more */
#define HA_MAX_PAGES (16u << 20)

#define blk ha_blk

struct ha_thread {
	uint64_t last_alloc; /* seq of the block it allocated last, 0: none */
};

struct ha_proc {
	uint32_t tgid;
	struct corr_proc *p;
	struct resident res;
	char *smaps;         /* the kernel's at exit (compact text), or NULL */
	size_t smaps_len;
};

struct analyses {
	struct heap_sites sites;
	struct ha_results r;
	struct timeline tl;
	struct correlator *c;
	const struct summary *sum;
	int off;
	bool glibc;
	struct callsites *cs; /* --stacks=all: sites by the call's stack */
	bool by_stack;
	uint64_t live;       /* bytes in blocks, all processes */
	/* the outermost call being resolved: the syscalls that follow are its */
	uint64_t cur_seq;
	struct alloc_block *cur_block;
	unsigned cur_class;
	int cur_temp_key;    /* its released block was a temporary of this site, -1: not */
	struct id_map tids, pids;
	struct ha_thread *threads;
	size_t nthreads, cap_threads;
	uint32_t last_tgid;  /* the process of the last call */
	uint64_t pages;      /* resident pages kept, all processes */
	uint32_t last_tid;   /* the thread looked up last, and its index */
	size_t last_thread;
	struct ha_proc **procs;
	size_t nprocs, cap_procs;
	struct ha_region *regions;
	size_t nregions, cap_regions;
};

struct analyses *analyses_new(uint64_t interval_ns, unsigned points)
{
	struct analyses *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	timeline_init(&a->tl, interval_ns, points);
	a->r.sites = &a->sites;
	a->r.timeline = &a->tl;
	a->r.threshold = GLIBC_THRESHOLD_START;
	a->cur_temp_key = -1;
	return a;
}

void analyses_free(struct analyses *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nprocs; i++) {
		resident_clear(&a->procs[i]->res);
		free(a->procs[i]->smaps);
		free(a->procs[i]);
	}
	free(a->procs);
	free(a->threads);
	free(a->regions);
	id_map_clear(&a->tids);
	id_map_clear(&a->pids);
	timeline_free(&a->tl);
	hs_free(&a->sites);
	free(a);
}

const struct ha_results *analyses_results(const struct analyses *a)
{
	return &a->r;
}

static void *grow(void *arr, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 16;
	if (!(arr = realloc(arr, *cap * elem)))
		abort();
	return arr;
}

static struct ha_thread *thread_find(struct analyses *a, uint32_t tid);

static inline struct ha_thread *thread_of(struct analyses *a, uint32_t tid)
{
	if (a->nthreads && a->last_tid == tid)
		return &a->threads[a->last_thread];
	return thread_find(a, tid);
}

static struct ha_thread *thread_find(struct analyses *a, uint32_t tid)
{
	size_t i;

	a->last_tid = tid;
	if (id_map_get(&a->tids, tid, &i))
		return &a->threads[a->last_thread = i];
	a->last_thread = a->nthreads;
	a->threads = grow(a->threads, a->nthreads, &a->cap_threads, sizeof(*a->threads));
	memset(&a->threads[a->nthreads], 0, sizeof(*a->threads));
	if (id_map_put(&a->tids, tid, a->nthreads))
		abort();
	return &a->threads[a->nthreads++];
}

static struct ha_proc *proc_of(struct analyses *a, uint32_t tgid, struct corr_proc *p)
{
	size_t i;

	if (a->nprocs && a->procs[a->nprocs - 1]->tgid == tgid)
		i = a->nprocs - 1;
	else if (!id_map_get(&a->pids, tgid, &i)) {
		a->procs = grow(a->procs, a->nprocs, &a->cap_procs, sizeof(*a->procs));
		if (!(a->procs[a->nprocs] = calloc(1, sizeof(struct ha_proc))) || id_map_put(&a->pids, tgid, a->nprocs))
			abort();
		a->procs[a->nprocs]->tgid = tgid;
		i = a->nprocs++;
	}
	if (p)
		a->procs[i]->p = p;
	return a->procs[i];
}

/* ---- calls: sites, sizes, temporaries, the peak --------------------------- */

static struct blk *blk_of(const struct analyses *a, const struct alloc_block *b)
{
	return corr_block_data((struct alloc_block *)b, a->off);
}

/* glibc raises its mmap threshold to the size of an mmapped chunk freed
 * (below its maximum): the moment it moves is kept. */
static void threshold_after_free(struct analyses *a, const struct alloc_block *b, uint64_t seq, uint64_t ts)
{
	uint64_t chunk = fl_page_up(b->size + 16);

	if (!a->glibc || !blk_of(a, b)->mmapped || chunk <= a->r.threshold || chunk > GLIBC_THRESHOLD_MAX)
		return;
	a->r.threshold = chunk;
	if (a->r.nmoves < HA_MAX_MOVES)
		a->r.moves[a->r.nmoves++] = (struct ha_threshold_move){ seq, ts, chunk }; /* made relative at the end */
}

static void on_release(struct analyses *a, const struct corr_item *it, const struct fl_ev_call *e)
{
	const struct alloc_block *b = it->released;
	struct blk *d = blk_of(a, b);
	struct ha_thread *t = thread_of(a, e->h.tid);
	unsigned key;

	a->cur_class = hs_size_class(b->size);
	if (!d->key1)
		return;
	key = d->key1 - 1;
	hs_live(&a->sites, key, b->size, -1);
	a->live -= b->size;
	if (b->tid == e->h.tid && t->last_alloc == b->seq) {
		struct hs_site *s = hs_at(&a->sites, key);

		a->r.temp_calls++;
		s->temp_calls++;
		s->temp_syscalls += d->syscalls;
		s->temp_touches += b->faults;
		a->cur_temp_key = (int)key;
	}
	if (d->mmapped) /* only an mmapped block's free moves glibc's threshold */
		threshold_after_free(a, b, it->seq, e->h.ts);
}

static void on_allocate(struct analyses *a, const struct corr_item *it, const struct fl_ev_call *e)
{
	uint64_t size = call_requested_bytes(e);
	unsigned key = hs_key(fl_func_call(e->h.func), size), k = hs_size_class(size);

	a->r.calls++;
	if (a->by_stack && it->block) {
		uint32_t row = callsites_block_row(a->cs, it->block);

		if (row)
			key = hs_row_key(&a->sites, row);
	}
	hs_at(&a->sites, key)->calls++;
	hs_at(&a->sites, key)->bytes += size;
	a->r.sizes[k].calls++;
	a->r.sizes[k].bytes += size;
	a->cur_class = k;
	if (!it->block)
		return;
	blk_of(a, it->block)->key1 = key + 1;
	hs_live(&a->sites, key, size, 1);
	a->live += size;
	thread_of(a, e->h.tid)->last_alloc = it->block->seq;
	a->cur_block = it->block;
	if (a->live > a->r.peak_live) {
		a->r.peak_live = a->live;
		a->r.peak_ts = e->h.ts;
		a->r.peak_seq = it->seq;
		hs_mark_peak(&a->sites);
	}
}

static void on_call(struct analyses *a, const struct corr_item *it)
{
	const struct fl_ev_call *e = (const struct fl_ev_call *)it->rec;

	if (it->call_seq || e->h.func >= FL_NFUNC)
		return; /* nested in another call, which the index follows */
	if (e->h.tgid != a->last_tgid) { /* known to the leak count (a process of calls alone) */
		proc_of(a, e->h.tgid, it->proc);
		a->last_tgid = e->h.tgid;
	}
	a->cur_seq = it->seq;
	a->cur_block = NULL;
	a->cur_temp_key = -1;
	if (it->released)
		on_release(a, it, e);
	if (!fl_is_free(e->h.func))
		on_allocate(a, it, e);
}

/* ---- syscalls and faults: the call's costs, the resident model ------------- */

/* What a change of hp's model did to the totals (before: its counts then). */
static void resident_changed(struct analyses *a, struct ha_proc *hp, const struct resident *before, uint64_t ts)
{
	uint64_t alloc_before = before->pages_allocator;

	a->pages += hp->res.n - before->n;
	a->r.resident_allocator += (hp->res.pages_allocator - alloc_before) * RES_PAGE;
	if (a->r.resident_allocator > a->r.peak_resident) {
		a->r.peak_resident = a->r.resident_allocator;
		a->r.peak_resident_ts = ts;
	}
}

static void model_syscall(struct resident *r, const struct fl_ev_syscall *e, const struct corr_item *it)
{
	uint64_t ret = (uint64_t)e->ret, a0 = e->args[0], ts = e->h.ts;

	if (e->sys == FL_SYS_BRK) {
		if (it->heap_new < it->heap_old)
			resident_drop(r, it->heap_new, it->heap_old, ts);
		return;
	}
	if (fl_syscall_failed(e->ret))
		return;
	switch (e->sys) {
	case FL_SYS_MMAP: resident_drop(r, ret, ret + fl_page_up(e->args[1]), ts); break;
	case FL_SYS_MUNMAP: resident_drop(r, a0, a0 + fl_page_up(e->args[1]), ts); break;
	case FL_SYS_MREMAP: resident_move(r, a0, fl_page_up(e->args[1]), ret, fl_page_up(e->args[2]), ts); break;
	case FL_SYS_MADVISE:
		if (e->args[2] == MADV_DONTNEED || e->args[2] == MADV_REMOVE)
			resident_drop(r, a0, a0 + fl_page_up(e->args[1]), ts);
		else if (e->args[2] == MADV_FREE)
			resident_mark_freeable(r, a0, a0 + fl_page_up(e->args[1]), ts);
		break;
	}
}

static void on_syscall(struct analyses *a, const struct corr_item *it)
{
	const struct fl_ev_syscall *e = (const struct fl_ev_syscall *)it->rec;
	struct ha_proc *hp;
	struct resident before;

	if (e->sys >= FL_NSYS)
		return;
	a->tl.cur.syscalls[e->sys]++;
	if (it->call_seq && it->call_seq == a->cur_seq) {
		a->r.sizes[a->cur_class].syscalls++;
		if (a->cur_block) {
			struct blk *d = blk_of(a, a->cur_block);

			d->syscalls += d->syscalls < UINT16_MAX;
			if (e->sys == FL_SYS_MMAP && !d->mmapped) {
				d->mmapped = 1;
				a->r.sizes[a->cur_class].mmapped++;
			}
		}
		if (a->cur_temp_key >= 0)
			hs_at(&a->sites, (unsigned)a->cur_temp_key)->temp_syscalls++;
	}
	hp = proc_of(a, e->h.tgid, it->proc);
	before = hp->res;
	model_syscall(&hp->res, e, it);
	resident_changed(a, hp, &before, e->h.ts);
}

static void on_fault(struct analyses *a, const struct corr_item *it)
{
	const struct fl_ev_fault *e = (const struct fl_ev_fault *)it->rec;
	struct ha_proc *hp;
	struct resident before;

	if (!it->first_touch)
		return;
	a->tl.cur.first_touches++;
	if (it->block)
		a->r.sizes[hs_size_class(it->block->size)].first_touches++;
	hp = proc_of(a, e->h.tgid, it->proc);
	before = hp->res;
	if (a->pages >= HA_MAX_PAGES)
		a->r.model_lost++;
	else if (!resident_touch(&hp->res, e->addr, it->owner != FL_OWNER_OTHER ? RES_ALLOCATOR : 0, e->h.ts) &&
		 hp->res.n * 2 > hp->res.cap)
		a->r.model_lost++; /* out of memory */
	resident_changed(a, hp, &before, e->h.ts);
}

static void on_proc(struct analyses *a, const struct corr_item *it)
{
	const struct fl_ev_proc *e = (const struct fl_ev_proc *)it->rec;
	struct ha_proc *hp = proc_of(a, e->h.tgid, it->proc);

	if (e->kind == FL_PROC_EXEC) { /* a new image: no page of the old one stays */
		struct resident before = hp->res;

		resident_clear(&hp->res);
		resident_changed(a, hp, &before, e->h.ts);
	}
}

static void analyses_item(void *ctx, const struct corr_item *it)
{
	struct analyses *a = ctx;

	timeline_advance(&a->tl, it->rec->ts);
	if (__builtin_expect(it->rec->type == FL_EV_CALL, 1))
		on_call(a, it);
	else if (it->rec->type == FL_EV_SYSCALL)
		on_syscall(a, it);
	else if (it->rec->type == FL_EV_FAULT)
		on_fault(a, it);
	else if (it->rec->type == FL_EV_PROC)
		on_proc(a, it);
}

static void analyses_meta(void *ctx, const void *rec, size_t len)
{
	struct analyses *a = ctx;
	const struct fl_meta *m = rec;
	const char *data = (const char *)(m + 1);
	size_t dlen = len - sizeof(*m);
	struct ha_proc *hp;

	if (m->kind == FL_META_ALLOCATOR && dlen && memmem(data, dlen, "libc.so", 7))
		a->glibc = true;
	if (m->kind != FL_META_SMAPS || dlen > FL_META_MAX_SMAPS_BYTES)
		return;
	hp = proc_of(a, m->tgid, NULL);
	free(hp->smaps);
	if ((hp->smaps = malloc(dlen + 1))) {
		memcpy(hp->smaps, data, dlen);
		hp->smaps[dlen] = 0;
		hp->smaps_len = dlen;
	}
}

void analyses_use_callsites(struct analyses *a, struct callsites *cs)
{
	struct cs_stats st;

	callsites_stats(cs, &st);
	if (st.mode != FL_STACKS_ALL)
		return; /* a call's own stack is taken with --stacks=all only */
	a->cs = cs;
	a->by_stack = true;
	a->r.cs = cs;
	a->r.sample = st.sample ? st.sample : 1;
}

int analyses_attach(struct analyses *a, struct correlator *c)
{
	struct corr_sink s = { analyses_item, a };

	a->off = corr_reserve_block_data(c, sizeof(struct blk));
	if (a->off < 0)
		return -1;
	a->c = c;
	a->sum = corr_summary(c);
	timeline_levels(&a->tl, &a->live, &a->sum->cur_heap, &a->sum->cur_mmap, &a->sum->cur_given_back,
			&a->r.resident_allocator);
	corr_add_sink(c, &s);
	corr_add_meta_sink(c, analyses_meta, a);
	return 0;
}

/* ---- the end: leaks (leaks.c), the kernel's count (resident_check.c) ------- */

void analyses_finish(struct analyses *a)
{
	a->r.attached = a->c && corr_run_info(a->c)->attached;
	for (size_t i = 0; i < a->nprocs; i++) {
		struct ha_proc *hp = a->procs[i];

		if (hp->p)
			leaks_collect(hp->p->index, a->off, &a->sites, &a->r);
		a->r.resident += hp->res.n * RES_PAGE;
		a->r.freeable += hp->res.pages_freeable * RES_PAGE;
		if (hp->p && hp->smaps)
			resident_check(hp->p, &hp->res, hp->smaps, hp->smaps_len, &a->r, &a->regions, &a->nregions,
				       &a->cap_regions);
	}
	a->r.regions = a->regions;
	a->r.nregions = a->nregions;
	timeline_finish(&a->tl, a->sum ? a->sum->last_ts : 0);
	if (a->sum) { /* the times from the first event */
		uint64_t t0 = a->sum->first_ts;

		a->r.peak_ts = a->r.peak_ts > t0 ? a->r.peak_ts - t0 : 0;
		a->r.peak_resident_ts = a->r.peak_resident_ts > t0 ? a->r.peak_resident_ts - t0 : 0;
		for (unsigned i = 0; i < a->r.nmoves; i++)
			a->r.moves[i].ts = a->r.moves[i].ts > t0 ? a->r.moves[i].ts - t0 : 0;
	}
}
