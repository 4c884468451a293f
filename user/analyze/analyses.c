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

/* One process's analyses: its sites, peak, sizes, timeline and resident
 * model (with -f each process's own, never summed). */
struct ha_proc {
	uint32_t tgid;
	struct corr_proc *p;
	struct ha_results r;
	struct heap_sites sites;
	struct timeline tl;
	uint64_t live;       /* bytes requested in its live blocks */
	struct resident res;
	char *smaps;         /* the kernel's at exit (compact text), or NULL */
	size_t smaps_len;
	struct ha_region *regions;
	size_t nregions, cap_regions;
};

struct analyses {
	struct correlator *c;
	const struct summary *sum;
	int off;
	bool glibc;
	struct callsites *cs; /* --stacks=all: sites by the call's stack */
	bool by_stack;
	unsigned sample;
	uint64_t interval_ns;
	unsigned points;
	/* the outermost call being resolved: the syscalls that follow are its */
	uint64_t cur_seq;
	struct alloc_block *cur_block;
	uint64_t cur_size;   /* its request's bytes (a free: the block's): its size class */
	int cur_temp_key;    /* its released block was a temporary of this site, -1: not */
	struct ha_proc *cur_proc; /* its process */
	struct id_map tids, pids;
	struct ha_thread *threads;
	size_t nthreads, cap_threads;
	uint64_t pages;      /* resident pages kept, all processes */
	uint32_t last_tid;   /* the thread looked up last, and its index */
	size_t last_thread;
	struct ha_proc *last_proc; /* the process looked up last, and its corr_proc */
	const struct corr_proc *last_cp;
	struct ha_proc **procs;
	size_t nprocs, cap_procs;
	size_t root;         /* the traced command's process */
};

struct analyses *analyses_new(uint64_t interval_ns, unsigned points)
{
	struct analyses *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->interval_ns = interval_ns;
	a->points = points;
	a->cur_temp_key = -1;
	return a;
}

void analyses_free(struct analyses *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nprocs; i++) {
		struct ha_proc *hp = a->procs[i];

		resident_clear(&hp->res);
		free(hp->smaps);
		free(hp->regions);
		timeline_free(&hp->tl);
		hs_free(&hp->sites);
		munmap(hp, sizeof(*hp));
	}
	free(a->procs);
	free(a->threads);
	id_map_clear(&a->tids);
	id_map_clear(&a->pids);
	free(a);
}

/* An empty process's, before any process was seen. */
static const struct ha_results *empty_results(void)
{
	static struct heap_sites sites;
	static struct timeline tl;
	static struct ha_results r;

	r.sites = &sites;
	r.timeline = &tl;
	r.threshold = GLIBC_THRESHOLD_START;
	return &r;
}

const struct ha_results *analyses_results(const struct analyses *a)
{
	return a->nprocs ? &a->procs[a->root]->r : empty_results();
}

size_t analyses_nprocs(const struct analyses *a)
{
	return a->nprocs;
}

/* The command's process first, then the others as first seen. */
const struct ha_results *analyses_proc(const struct analyses *a, size_t i)
{
	if (i == 0)
		return analyses_results(a);
	return &a->procs[i <= a->root ? i - 1 : i]->r;
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

/* The timeline's levels of one process, when an interval closes. */
static void proc_levels(void *ctx, struct tl_levels *v, uint64_t *given_back)
{
	const struct ha_proc *hp = ctx;
	const struct corr_proc *p = hp->p;

	v->live = hp->live;
	v->resident = hp->r.resident_allocator;
	v->heap = p && p->heap_start && p->brk > p->heap_start ? p->brk - p->heap_start : 0;
	v->mmap = p ? region_set_bytes(p->regions) : 0;
	*given_back = p ? region_set_bytes(p->given_back) : 0;
}

/* A process's state is mostly its site table (function x size class), of
 * which a process uses a few rows: mapped, so that the pages it never
 * touches cost nothing (calloc could take it from the heap and clear it all). */
static struct ha_proc *proc_new(struct analyses *a, uint32_t tgid)
{
	struct ha_proc *hp = mmap(NULL, sizeof(*hp), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	a->procs = grow(a->procs, a->nprocs, &a->cap_procs, sizeof(*a->procs));
	if (hp == MAP_FAILED || id_map_put(&a->pids, tgid, a->nprocs))
		abort();
	hp->tgid = tgid;
	hp->r.pid = tgid;
	hp->r.sites = &hp->sites;
	hp->r.timeline = &hp->tl;
	hp->r.threshold = GLIBC_THRESHOLD_START;
	hp->r.cs = a->cs;
	hp->r.sample = a->sample;
	timeline_init(&hp->tl, a->interval_ns, a->points);
	timeline_levels(&hp->tl, proc_levels, hp);
	a->procs[a->nprocs++] = hp;
	return hp;
}

static struct ha_proc *proc_find(struct analyses *a, uint32_t tgid)
{
	size_t i;

	a->last_proc = id_map_get(&a->pids, tgid, &i) ? a->procs[i] : proc_new(a, tgid);
	return a->last_proc;
}

static inline struct ha_proc *proc_of(struct analyses *a, uint32_t tgid, struct corr_proc *p)
{
	struct ha_proc *hp = a->last_proc && a->last_proc->tgid == tgid ? a->last_proc : proc_find(a, tgid);

	if (__builtin_expect(hp->p != p, 0) && p)
		hp->p = p; /* a process's corr_proc stays where it is (an exec renews it in place) */
	a->last_cp = hp->p;
	return hp;
}

/* ---- calls: sites, sizes, temporaries, the peak --------------------------- */

static struct blk *blk_of(const struct analyses *a, const struct alloc_block *b)
{
	return corr_block_data((struct alloc_block *)b, a->off);
}

/* glibc raises its mmap threshold to the size of an mmapped chunk freed
 * (below its maximum): the moment it moves is kept. */
static void threshold_after_free(struct analyses *a, struct ha_results *r, const struct alloc_block *b, uint64_t seq,
				 uint64_t ts)
{
	uint64_t chunk = fl_page_up(b->size + 16);

	if (!a->glibc || chunk <= r->threshold || chunk > GLIBC_THRESHOLD_MAX)
		return;
	r->threshold = chunk;
	if (r->nmoves < HA_MAX_MOVES)
		r->moves[r->nmoves++] = (struct ha_threshold_move){ seq, ts, chunk }; /* made relative at the end */
}

static void on_release(struct analyses *a, struct ha_proc *hp, const struct corr_item *it, const struct fl_ev_call *e)
{
	const struct alloc_block *b = it->released;
	struct blk *d = blk_of(a, b);
	struct hs_site *s;
	unsigned key;

	a->cur_size = b->size;
	if (!d->key1)
		return;
	key = d->key1 - 1;
	s = hs_at(&hp->sites, key);
	hs_live_site(&hp->sites, s, b->size, -1);
	hp->live -= b->size;
	if (b->tid == e->h.tid && thread_of(a, e->h.tid)->last_alloc == b->seq) {
		hp->r.temp_calls++;
		s->temp_calls++;
		s->temp_syscalls += d->syscalls;
		s->temp_touches += b->faults;
		a->cur_temp_key = (int)key;
	}
	if (d->mmapped) /* only an mmapped block's free moves glibc's threshold */
		threshold_after_free(a, &hp->r, b, it->seq, e->h.ts);
}

static void on_allocate(struct analyses *a, struct ha_proc *hp, const struct corr_item *it, const struct fl_ev_call *e)
{
	uint64_t size = it->requested;
	unsigned k = hs_size_class(size), key = hs_key_class(fl_func_call(e->h.func), k);
	struct hs_site *s;

	hp->r.calls++;
	if (a->by_stack && it->block) {
		uint32_t row = callsites_block_row(a->cs, it->block);

		if (row)
			key = hs_row_key(&hp->sites, row);
	}
	s = hs_at(&hp->sites, key);
	s->calls++;
	s->bytes += size;
	hp->r.sizes[k].calls++;
	hp->r.sizes[k].bytes += size;
	a->cur_size = size;
	if (!it->block)
		return;
	blk_of(a, it->block)->key1 = key + 1;
	hs_live_site(&hp->sites, s, size, 1);
	hp->live += size;
	thread_of(a, e->h.tid)->last_alloc = it->block->seq;
	a->cur_block = it->block;
	if (hp->live > hp->r.peak_live) {
		hp->r.peak_live = hp->live;
		hp->r.peak_ts = e->h.ts;
		hp->r.peak_seq = it->seq;
		hs_mark_peak(&hp->sites);
	}
}

static void on_call(struct analyses *a, struct ha_proc *hp, const struct corr_item *it)
{
	const struct fl_ev_call *e = (const struct fl_ev_call *)it->rec;

	if (it->call_seq || e->h.func >= FL_NFUNC)
		return; /* nested in another call, which the index follows */
	a->cur_seq = it->seq;
	a->cur_block = NULL;
	a->cur_temp_key = -1;
	a->cur_proc = hp;
	if (it->released)
		on_release(a, hp, it, e);
	if (!fl_is_free(e->h.func))
		on_allocate(a, hp, it, e);
}

/* ---- syscalls and faults: the call's costs, the resident model ------------- */

/* What a change of hp's model did to the totals (before: its counts then). */
static void resident_changed(struct analyses *a, struct ha_proc *hp, const struct resident *before, uint64_t ts)
{
	struct ha_results *r = &hp->r;

	a->pages += hp->res.n - before->n;
	r->resident_allocator += (hp->res.pages_allocator - before->pages_allocator) * RES_PAGE;
	if (r->resident_allocator > r->peak_resident) {
		r->peak_resident = r->resident_allocator;
		r->peak_resident_ts = ts;
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

static void on_syscall(struct analyses *a, struct ha_proc *hp, const struct corr_item *it)
{
	const struct fl_ev_syscall *e = (const struct fl_ev_syscall *)it->rec;
	struct resident before;

	if (e->sys >= FL_NSYS)
		return;
	hp->tl.cur.syscalls[e->sys]++;
	if (it->call_seq && it->call_seq == a->cur_seq && a->cur_proc == hp) {
		unsigned k = hs_size_class(a->cur_size);

		hp->r.sizes[k].syscalls++;
		if (a->cur_block) {
			struct blk *d = blk_of(a, a->cur_block);

			d->syscalls += d->syscalls < UINT16_MAX;
			if (e->sys == FL_SYS_MMAP && !d->mmapped) {
				d->mmapped = 1;
				hp->r.sizes[k].mmapped++;
			}
		}
		if (a->cur_temp_key >= 0)
			hs_at(&hp->sites, (unsigned)a->cur_temp_key)->temp_syscalls++;
	}
	before = hp->res;
	model_syscall(&hp->res, e, it);
	resident_changed(a, hp, &before, e->h.ts);
}

static void on_fault(struct analyses *a, struct ha_proc *hp, const struct corr_item *it)
{
	const struct fl_ev_fault *e = (const struct fl_ev_fault *)it->rec;
	struct resident before;

	if (!it->first_touch)
		return;
	hp->tl.cur.first_touches++;
	if (it->block)
		hp->r.sizes[hs_size_class(it->block->size)].first_touches++;
	before = hp->res;
	if (a->pages >= HA_MAX_PAGES)
		hp->r.model_lost++;
	else if (!resident_touch(&hp->res, e->addr, it->owner != FL_OWNER_OTHER ? RES_ALLOCATOR : 0, e->h.ts) &&
		 hp->res.n * 2 > hp->res.cap)
		hp->r.model_lost++; /* out of memory */
	resident_changed(a, hp, &before, e->h.ts);
}

static void on_proc(struct analyses *a, struct ha_proc *hp, const struct corr_item *it)
{
	const struct fl_ev_proc *e = (const struct fl_ev_proc *)it->rec;

	if (e->kind == FL_PROC_EXEC) { /* a new image: no page of the old one stays */
		struct resident before = hp->res;

		resident_clear(&hp->res);
		resident_changed(a, hp, &before, e->h.ts);
	}
}

/* Every item but a call's: out of the calls' path, which stays short. */
static __attribute__((noinline)) void on_other(struct analyses *a, struct ha_proc *hp, const struct corr_item *it)
{
	if (it->rec->type == FL_EV_SYSCALL)
		on_syscall(a, hp, it);
	else if (it->rec->type == FL_EV_FAULT)
		on_fault(a, hp, it);
	else if (it->rec->type == FL_EV_PROC)
		on_proc(a, hp, it);
}

static void analyses_item(void *ctx, const struct corr_item *it)
{
	struct analyses *a = ctx;
	/* most items are the previous one's process: known by its corr_proc */
	struct ha_proc *hp = it->proc && it->proc == a->last_cp ? a->last_proc : proc_of(a, it->rec->tgid, it->proc);

	timeline_advance(&hp->tl, it->rec->ts);
	if (__builtin_expect(it->rec->type == FL_EV_CALL, 1))
		on_call(a, hp, it);
	else
		on_other(a, hp, it);
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
	a->sample = st.sample ? st.sample : 1;
	for (size_t i = 0; i < a->nprocs; i++) {
		a->procs[i]->r.cs = cs;
		a->procs[i]->r.sample = a->sample;
	}
}

int analyses_attach(struct analyses *a, struct correlator *c)
{
	struct corr_sink s = { analyses_item, a };

	a->off = corr_reserve_block_data(c, sizeof(struct blk));
	if (a->off < 0)
		return -1;
	a->c = c;
	a->sum = corr_summary(c);
	corr_add_sink(c, &s);
	corr_add_meta_sink(c, analyses_meta, a);
	return 0;
}

/* ---- the end: leaks (leaks.c), the kernel's count (resident_check.c) ------- */

static uint64_t since(uint64_t ts, uint64_t t0)
{
	return ts > t0 ? ts - t0 : 0;
}

static void proc_finish(struct analyses *a, struct ha_proc *hp)
{
	struct ha_results *r = &hp->r;
	uint64_t t0 = a->sum ? a->sum->first_ts : 0;

	r->attached = a->c && corr_run_info(a->c)->attached;
	if (hp->p) {
		r->ppid = hp->p->ppid;
		leaks_collect(hp->p->index, a->off, &hp->sites, r);
	}
	r->resident = hp->res.n * RES_PAGE;
	r->freeable = hp->res.pages_freeable * RES_PAGE;
	if (hp->p && hp->smaps)
		resident_check(hp->p, &hp->res, hp->smaps, hp->smaps_len, r, &hp->regions, &hp->nregions,
			       &hp->cap_regions);
	r->regions = hp->regions;
	r->nregions = hp->nregions;
	/* its timeline ends at its last event (its exit) */
	timeline_finish(&hp->tl, hp->p && hp->p->last_ts ? hp->p->last_ts : a->sum ? a->sum->last_ts : 0);
	r->start_ns = hp->tl.started ? since(hp->tl.t0, t0) : 0;
	/* the times from the recording's first event */
	r->peak_ts = since(r->peak_ts, t0);
	r->peak_resident_ts = since(r->peak_resident_ts, t0);
	for (unsigned i = 0; i < r->nmoves; i++)
		r->moves[i].ts = since(r->moves[i].ts, t0);
}

void analyses_finish(struct analyses *a)
{
	size_t root;

	for (size_t i = 0; i < a->nprocs; i++)
		proc_finish(a, a->procs[i]);
	/* the command's process: the run's pid, else the first seen */
	if (a->c && id_map_get(&a->pids, corr_run_info(a->c)->pid, &root))
		a->root = root;
}
