/* correlator.c - joins allocator calls, memory syscalls and page faults.
 *
 * The kernel tags each syscall and fault with "an allocator call was in
 * flight on this thread". Such events reach us before the call's own record
 * (which is written when the call returns), so they wait in the thread's
 * pending list; when the call's record arrives, the call is applied to the
 * live-allocation index first (so a fault on the header of a block being
 * returned finds that block), then its pending events are resolved in order,
 * then a freed block leaves the index. Untagged events resolve at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "analyze/calls.h"
#include "analyze/correlator.h"
#include "store/meta.h"
#include "symbols/maps.h"
#include "util/id_map.h"

const char *const fl_owner_names[FL_NOWNER] = { "allocation", "allocator", "other", "runtime", "tracer" };

#define MAX_SINKS 16

struct pending {
	uint32_t tid;
	uint32_t n, cap;
	uint8_t (*recs)[FL_EV_MAX_SIZE];
	struct fl_ev_stack **stacks; /* recs[i]'s captured stack, or NULL */
	/* stacks waiting for the thread's next syscall or fault, and next outer call */
	struct fl_ev_stack *event_stack, *call_stack;
	struct fl_ev_stack *last_whole; /* its last whole event stack (what FL_STACK_REPEAT means) */
	struct fl_ev_stack *ips_cache[FL_STACK_IPS_CACHE]; /* its FL_STACK_IPS call stacks, by hash % 8 (what
							      a repeat of one names) */
	/* a call written at its entry (FL_F_AT_ENTRY: free) and not over yet */
	bool open;
	uint32_t open_tgid, open_syscalls;
	uint8_t open_func;
	uint64_t open_seq, open_released;
	/* frees of unknown pointers since its last other call: at a thread's
	 * exit, its cache given back (glibc's tcache_thread_shutdown) */
	uint64_t trailing_unknown;
};

struct correlator {
	uint64_t header_bytes;
	size_t block_extra; /* bytes the sinks keep with each live block (corr_reserve_block_data) */
	uint64_t next_seq;
	uint64_t bad_records, events, stacks;
	uint64_t stack_bytes, stacks_dropped; /* stack copies held (FL_MAX_HELD_STACK_BYTES), dropped */
	struct summary sum;
	struct run_info info;
	struct corr_sink sinks[MAX_SINKS];
	int nsinks;
	/* each allocated on its own, so a pointer to one stays valid while
	 * others are added */
	struct corr_proc **procs;
	size_t nprocs, cap_procs;
	struct pending **threads;
	size_t nthreads, cap_threads;
	struct id_map proc_ids, thread_ids; /* tgid, tid -> index in procs, threads */
	size_t last_proc, last_thread; /* the last looked up: most events follow their neighbour's */
	unsigned fam_mask[FL_NFUNC];   /* families_of each entry point, from the FL_META_PROBES seen */
	struct alloc_block *resized;   /* a block resized in place, as it was (corr_item.released) */
	void (*meta_sink)(void *ctx, const void *rec, size_t len);
	void *meta_ctx;
};

static unsigned families_of(const struct correlator *c, unsigned func);
static void stack_free(struct correlator *c, struct fl_ev_stack *s);
static void drop_ips_cache(struct correlator *c, struct pending *t);

struct correlator *corr_new(uint64_t header_bytes)
{
	struct correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->header_bytes = header_bytes;
	c->next_seq = 1;
	memset(c->info.probe_of, 0xff, sizeof(c->info.probe_of));
	for (unsigned f = 0; f < FL_NFUNC; f++)
		c->fam_mask[f] = families_of(c, f);
	return c;
}

static void proc_release(struct corr_proc *p)
{
	alloc_index_free(p->index);
	region_set_free(p->regions);
	region_set_free(p->given_back);
	region_set_free(p->runtime);
}

/* What FL_META_PROC said of a process (exe, argv). */
static void proc_info_free(struct corr_proc *p)
{
	for (int i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->exe);
	p->argv = NULL;
	p->exe = NULL;
	p->argc = 0;
}

void corr_free(struct correlator *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nprocs; i++) {
		proc_release(c->procs[i]);
		proc_info_free(c->procs[i]);
		free(c->procs[i]);
	}
	for (size_t i = 0; i < c->nthreads; i++) {
		struct pending *t = c->threads[i];

		for (uint32_t j = 0; j < t->n; j++)
			stack_free(c, t->stacks[j]);
		free(t->recs);
		free(t->stacks);
		stack_free(c, t->event_stack);
		stack_free(c, t->call_stack);
		stack_free(c, t->last_whole);
		drop_ips_cache(c, t);
		free(t);
	}
	for (int i = 0; i < c->info.argc; i++)
		free(c->info.argv[i]);
	free(c->info.argv);
	free(c->procs);
	free(c->threads);
	free(c->resized);
	id_map_clear(&c->proc_ids);
	id_map_clear(&c->thread_ids);
	free(c);
}

void corr_add_sink(struct correlator *c, const struct corr_sink *s)
{
	if (c->nsinks < MAX_SINKS)
		c->sinks[c->nsinks++] = *s;
}

void corr_add_meta_sink(struct correlator *c, void (*fn)(void *ctx, const void *rec, size_t len), void *ctx)
{
	c->meta_sink = fn;
	c->meta_ctx = ctx;
}

int corr_reserve_block_data(struct correlator *c, size_t bytes)
{
	int off = (int)c->block_extra;

	if (c->nprocs)
		return -1; /* indexes exist: their blocks have no room for it */
	c->block_extra += (bytes + 7) & ~(size_t)7;
	return off;
}

static void emit(struct correlator *c, struct corr_item *it)
{
	it->seq = c->next_seq++;
	for (int i = 0; i < c->nsinks; i++)
		c->sinks[i].item(c->sinks[i].ctx, it);
}

/* ---- processes and threads -------------------------------------------- */

/* A zeroed element of `size` bytes; aborts when memory is out. */
static void *zalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p)
		abort();
	return p;
}

/* Room for one more element in a growing array (aborts when memory is out:
 * the correlator cannot go on without its state). */
static void *grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : first;
	arr = realloc(arr, *cap * elem);
	if (!arr)
		abort();
	return arr;
}

static int proc_init(struct correlator *c, struct corr_proc *p, uint32_t tgid)
{
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	p->index = alloc_index_new(c->header_bytes, c->block_extra);
	p->regions = region_set_new();
	p->given_back = region_set_new();
	p->runtime = region_set_new();
	if (!p->index || !p->regions || !p->given_back || !p->runtime)
		return -1;
	p->live = alloc_index_totals(p->index);
	return 0;
}

static struct corr_proc *proc_find_or_add(struct correlator *c, uint32_t tgid)
{
	size_t i;

	if (id_map_get(&c->proc_ids, tgid, &i))
		return c->procs[c->last_proc = i];
	c->procs = grow(c->procs, c->nprocs, &c->cap_procs, sizeof(*c->procs), 8);
	c->procs[c->nprocs] = zalloc(sizeof(struct corr_proc));
	if (proc_init(c, c->procs[c->nprocs], tgid) || id_map_put(&c->proc_ids, tgid, c->nprocs))
		abort();
	return c->procs[c->last_proc = c->nprocs++];
}

/* Inline for the common case: the process of the previous event. */
static inline struct corr_proc *proc_get(struct correlator *c, uint32_t tgid)
{
	if (c->nprocs && c->procs[c->last_proc]->tgid == tgid)
		return c->procs[c->last_proc];
	return proc_find_or_add(c, tgid);
}

/* What one process holds: live block bytes, brk heap, allocator mappings. */
struct footprint {
	uint64_t live, heap, mmap, given_back;
};

static struct footprint footprint_of(const struct corr_proc *p)
{
	struct footprint f = { p->live->live_bytes, 0, region_set_bytes(p->regions), region_set_bytes(p->given_back) };

	if (p->heap_start && p->brk > p->heap_start)
		f.heap = p->brk - p->heap_start;
	return f;
}

/* p's own peaks, and the summary's: the largest of any one process's. */
static void raise_live_peaks(struct summary *s, struct corr_proc *p)
{
	uint64_t live = p->live->live_bytes;

	if (live > p->peak_live) {
		p->peak_live = live;
		if (live > s->peak_live)
			s->peak_live = live;
	}
	if (p->held > live && p->held - live > p->peak_unused) {
		p->peak_unused = p->held - live;
		if (p->peak_unused > s->peak_unused)
			s->peak_unused = p->peak_unused;
	}
}

static void raise_peaks(struct summary *s, struct corr_proc *p, struct footprint now)
{
	/* held: what madvise gave back is not held */
	p->held = now.heap + now.mmap > now.given_back ? now.heap + now.mmap - now.given_back : 0;
	if (now.heap > p->peak_heap) {
		p->peak_heap = now.heap;
		if (now.heap > s->peak_heap)
			s->peak_heap = now.heap;
	}
	if (now.mmap > p->peak_mmap) {
		p->peak_mmap = now.mmap;
		if (now.mmap > s->peak_mmap)
			s->peak_mmap = now.mmap;
	}
	raise_live_peaks(s, p);
}

/* Adds what p's footprint changed since `before` to the totals of every
 * process, and raises the peaks. O(1): the totals are kept, not summed. */
static void account(struct correlator *c, struct corr_proc *p, struct footprint before)
{
	struct footprint now = footprint_of(p);
	struct summary *s = &c->sum;

	s->cur_live += now.live - before.live;
	s->cur_heap += now.heap - before.heap;
	s->cur_mmap += now.mmap - before.mmap;
	s->cur_given_back += now.given_back - before.given_back;
	raise_peaks(s, p, now);
}

/* The same when only the live bytes can have changed (a call applied, a
 * block released): the common case, kept cheap. The heap and mappings have
 * not moved since account() last raised their peaks. */
static void account_live(struct correlator *c, struct corr_proc *p, uint64_t live_before)
{
	c->sum.cur_live += p->live->live_bytes - live_before;
	raise_live_peaks(&c->sum, p);
}

static struct pending *thread_find_or_add(struct correlator *c, uint32_t tid)
{
	size_t i;

	if (id_map_get(&c->thread_ids, tid, &i))
		return c->threads[c->last_thread = i];
	c->threads = grow(c->threads, c->nthreads, &c->cap_threads, sizeof(*c->threads), 16);
	c->threads[c->nthreads] = zalloc(sizeof(struct pending));
	c->threads[c->nthreads]->tid = tid;
	if (id_map_put(&c->thread_ids, tid, c->nthreads))
		abort();
	return c->threads[c->last_thread = c->nthreads++];
}

/* Inline for the common case: the thread of the previous event. */
static inline struct pending *thread_get(struct correlator *c, uint32_t tid)
{
	if (c->nthreads && c->threads[c->last_thread]->tid == tid)
		return c->threads[c->last_thread];
	return thread_find_or_add(c, tid);
}

static void pending_push(struct pending *t, const void *rec, size_t len, struct fl_ev_stack *stack)
{
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		void *nr = realloc(t->recs, cap * sizeof(*t->recs));
		void *ns = realloc(t->stacks, cap * sizeof(*t->stacks));

		if (!nr || !ns)
			abort();
		t->recs = nr;
		t->stacks = ns;
		t->cap = cap;
	}
	memset(t->recs[t->n], 0, FL_EV_MAX_SIZE);
	memcpy(t->recs[t->n], rec, len < FL_EV_MAX_SIZE ? len : FL_EV_MAX_SIZE);
	t->stacks[t->n++] = stack;
}

/* A copy of s, or NULL (counted) when the copies held would pass
 * FL_MAX_HELD_STACK_BYTES: a file of stacks that never meet their records
 * cannot make the correlator hold more. */
static struct fl_ev_stack *stack_copy(struct correlator *c, const struct fl_ev_stack *s)
{
	size_t len = sizeof(*s) + s->len;
	struct fl_ev_stack *n;

	if (c->stack_bytes + len > FL_MAX_HELD_STACK_BYTES) {
		c->stacks_dropped++;
		return NULL;
	}
	if (!(n = malloc(len)))
		abort();
	memcpy(n, s, len);
	c->stack_bytes += len;
	return n;
}

static void stack_free(struct correlator *c, struct fl_ev_stack *s)
{
	if (!s)
		return;
	c->stack_bytes -= sizeof(*s) + s->len;
	free(s);
}

static void drop_ips_cache(struct correlator *c, struct pending *t)
{
	for (int i = 0; i < FL_STACK_IPS_CACHE; i++) {
		stack_free(c, t->ips_cache[i]);
		t->ips_cache[i] = NULL;
	}
}

/* Keeps the FL_STACK_IPS stack s where a repeat finds it, its hash in the
 * copy's sp (the stack's own sp is 0). */
static void cache_ips(struct correlator *c, struct pending *t, const struct fl_ev_stack *s)
{
	uint64_t h = fl_ips_hash_start(1 + s->len / (unsigned)sizeof(uint64_t));
	struct fl_ev_stack **at;

	h = fl_ips_hash_step(h, s->ip);
	for (size_t off = 0; off + sizeof(uint64_t) <= s->len; off += sizeof(uint64_t)) {
		uint64_t ip;

		memcpy(&ip, (const unsigned char *)(s + 1) + off, sizeof(ip));
		h = fl_ips_hash_step(h, ip);
	}
	at = &t->ips_cache[h % FL_STACK_IPS_CACHE];
	stack_free(c, *at);
	*at = stack_copy(c, s);
	if (*at)
		(*at)->sp = h;
}

/* A captured stack waits in its thread for the record it belongs to. A
 * repeat stands for the thread's last whole event stack, or for one of its
 * FL_STACK_IPS call stacks. */
static void keep_stack(struct correlator *c, const struct fl_ev_stack *s)
{
	struct pending *t = thread_get(c, s->h.tid);
	struct fl_ev_stack **slot = (s->kind & 0xff) == FL_STACK_FOR_CALL ? &t->call_stack : &t->event_stack;

	stack_free(c, *slot);
	*slot = NULL;
	c->stacks++;
	if (s->kind & FL_STACK_REPEAT) {
		struct fl_ev_stack *last = s->kind & FL_STACK_IPS ? t->ips_cache[s->ip % FL_STACK_IPS_CACHE]
							     : t->last_whole;

		if ((s->kind & FL_STACK_IPS) && (!last || last->sp != s->ip)) {
			/* the stack it names was not seen (or kept): an empty one, which
			 * the call sites count as not unwound */
			if ((*slot = stack_copy(c, s))) {
				(*slot)->kind = s->kind & ~(uint32_t)FL_STACK_REPEAT;
				(*slot)->ip = 0;
			}
			return;
		}
		if (!last || !(*slot = stack_copy(c, last)))
			return; /* the stack it repeats was not seen (or kept): the record goes without */
		(*slot)->h = s->h;
		(*slot)->kind = s->kind & ~(uint32_t)FL_STACK_REPEAT;
		(*slot)->sp = 0;
		return;
	}
	*slot = stack_copy(c, s);
	if (s->kind == (FL_STACK_FOR_CALL | FL_STACK_IPS))
		cache_ips(c, t, s);
	if (s->kind == FL_STACK_FOR_EVENT) {
		stack_free(c, t->last_whole);
		t->last_whole = stack_copy(c, s);
	}
}

/* The stack waiting for record h of thread t, now owned by the caller. */
static struct fl_ev_stack *take_stack(struct pending *t, const struct fl_hdr *h)
{
	struct fl_ev_stack **slot = NULL, *s;

	if (h->type == FL_EV_SYSCALL || h->type == FL_EV_FAULT)
		slot = &t->event_stack;
	else if (h->type == FL_EV_CALL && !(h->flags & FL_F_NESTED))
		slot = &t->call_stack;
	if (!slot || !*slot)
		return NULL;
	s = *slot;
	*slot = NULL;
	return s;
}

/* ---- syscalls ------------------------------------------------------------ */

static void apply_brk(struct corr_proc *p, const struct fl_ev_syscall *e, struct corr_item *it)
{
	uint64_t ret = (uint64_t)e->ret;

	it->heap_old = p->brk;
	if (!p->heap_start && (e->args[0] == 0 || !p->brk))
		p->heap_start = ret;
	p->brk = ret;
	it->heap_new = ret;
}

/* Anonymous mappings made outside any allocator call (and not by an
 * allocator's own thread) belong to the runtime (pymalloc's arenas, V8's
 * heap), but for thread stacks (MAP_STACK) and fixed mappings over nothing
 * of the runtime's (ld.so's .bss). A mapping made returns its tag's place:
 * what a sink keeps with it (the call-site table: the row of its mmap). */
static uint64_t *runtime_map_change(struct corr_proc *p, const struct fl_ev_syscall *e, bool allocators)
{
	uint64_t ret = (uint64_t)e->ret, len = fl_page_up(e->args[1]);
	uint64_t flags = e->args[3];
	bool was;

	switch (e->sys) {
	case FL_SYS_MMAP:
		was = region_set_overlap(p->runtime, ret, ret + len) > 0;
		region_set_remove(p->runtime, ret, ret + len);
		if (!allocators && (flags & MAP_ANONYMOUS) && !(flags & MAP_STACK) && (!(flags & MAP_FIXED) || was) &&
		    !region_set_add(p->runtime, ret, ret + len, 0)) {
			const struct region *r = region_set_find(p->runtime, ret);

			return r ? (uint64_t *)&r->tag : NULL; /* the set's own node: the correlator's to change */
		}
		break;
	case FL_SYS_MUNMAP:
		region_set_remove(p->runtime, e->args[0], e->args[0] + len);
		break;
	case FL_SYS_MREMAP:
		if (region_set_remove(p->runtime, e->args[0], e->args[0] + len) && !allocators)
			region_set_add(p->runtime, ret, ret + fl_page_up(e->args[2]), 0);
		break;
	}
	return NULL;
}

static void apply_map_change(struct corr_proc *p, const struct fl_ev_syscall *e, bool in_call, uint64_t call_seq)
{
	uint64_t ret = (uint64_t)e->ret;

	switch (e->sys) {
	case FL_SYS_MMAP:
		region_set_remove(p->regions, ret, ret + fl_page_up(e->args[1]));
		if (in_call && e->args[2] != PROT_NONE)
			region_set_add(p->regions, ret, ret + fl_page_up(e->args[1]), call_seq);
		break;
	case FL_SYS_MUNMAP:
		region_set_remove(p->regions, e->args[0], e->args[0] + fl_page_up(e->args[1]));
		break;
	case FL_SYS_MREMAP: {
		bool was_ours = region_set_overlap(p->regions, e->args[0], e->args[0] + fl_page_up(e->args[1])) > 0;

		region_set_remove(p->regions, e->args[0], e->args[0] + fl_page_up(e->args[1]));
		if (in_call || was_ours)
			region_set_add(p->regions, ret, ret + fl_page_up(e->args[2]), call_seq);
		break;
	}
	case FL_SYS_MPROTECT:
		if (!in_call)
			break;
		if (e->args[2] == PROT_NONE)
			region_set_remove(p->regions, e->args[0], e->args[0] + fl_page_up(e->args[1]));
		else
			region_set_add(p->regions, e->args[0], e->args[0] + fl_page_up(e->args[1]), call_seq);
		break;
	}
}

/* madvise advice that gives pages back (their contents go, or may go) */
static bool advice_gives_back(uint64_t advice)
{
	return advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE;
}

/* What a syscall does to the allocator memory given back with madvise: a
 * range advised away inside the heap or the allocator's mappings joins it;
 * a range unmapped, mapped afresh or cut off the heap leaves it. */
static void track_given_back(struct corr_proc *p, const struct fl_ev_syscall *e, uint64_t old_brk)
{
	uint64_t ret = (uint64_t)e->ret, start = e->args[0], end = start + fl_page_up(e->args[1]);

	if (e->sys == FL_SYS_BRK) {
		if (p->brk < old_brk)
			region_set_remove(p->given_back, p->brk, old_brk);
		return;
	}
	if (fl_syscall_failed(e->ret))
		return;
	switch (e->sys) {
	case FL_SYS_MADVISE:
		if (!advice_gives_back(e->args[2]))
			break;
		if (p->heap_start && start < p->brk && end > p->heap_start)
			region_set_add(p->given_back, start > p->heap_start ? start : p->heap_start,
				       end < p->brk ? end : p->brk, 0);
		else if (region_set_overlap(p->regions, start, end) == end - start)
			region_set_add(p->given_back, start, end, 0);
		break;
	case FL_SYS_MMAP: region_set_remove(p->given_back, ret, ret + fl_page_up(e->args[1])); break;
	case FL_SYS_MUNMAP: region_set_remove(p->given_back, start, end); break;
	case FL_SYS_MREMAP: region_set_remove(p->given_back, start, end); break;
	}
}

static void resolve_syscall(struct correlator *c, const struct fl_ev_syscall *e, uint64_t call_seq,
			    const struct fl_ev_stack *stack)
{
	struct corr_proc *p = proc_get(c, e->h.tgid);
	struct corr_item it = { .rec = &e->h, .call_seq = call_seq, .proc = p, .stack = stack };
	bool in_call = e->h.flags & FL_F_IN_CALL;
	uint32_t caller = in_call && e->h.func < FL_NFUNC ? fl_func_call(e->h.func) : FL_CALLER_NONE;
	struct footprint before;

	if (!in_call && (e->h.flags & FL_F_ALLOC_THREAD))
		caller = FL_CALLER_BACKGROUND;

	if (e->sys >= FL_NSYS) {
		c->bad_records++;
		return;
	}
	c->sum.syscalls[e->sys]++;
	c->sum.by_caller[caller][e->sys]++;
	before = footprint_of(p);
	if (e->sys == FL_SYS_BRK)
		apply_brk(p, e, &it);
	else if (!fl_syscall_failed(e->ret)) {
		it.map_tag = runtime_map_change(p, e, in_call || (e->h.flags & FL_F_ALLOC_THREAD));
		apply_map_change(p, e, in_call, call_seq);
	}
	track_given_back(p, e, it.heap_old);
	account(c, p, before);
	emit(c, &it);
}

/* ---- faults -------------------------------------------------------------- */

static uint8_t fault_owner(struct corr_proc *p, const struct fl_ev_fault *e, struct alloc_block **block)
{
	uint64_t addr = e->addr;

	*block = NULL;
	if (e->h.flags & FL_F_FAULT_TRACER)
		return FL_OWNER_TRACER;
	*block = alloc_index_find(p->index, addr);
	if (*block)
		return FL_OWNER_ALLOCATION;
	if (p->heap_start && addr >= p->heap_start && addr < p->brk)
		return FL_OWNER_ALLOCATOR;
	if (region_set_find(p->regions, addr))
		return FL_OWNER_ALLOCATOR;
	return FL_OWNER_OTHER;
}

/* A fault fault_owner gave to `other`: the runtime's when one of its mappings holds it. */
static void runtime_owner(struct corr_proc *p, uint64_t addr, struct corr_item *it)
{
	const struct region *r = region_set_find(p->runtime, addr);

	if (r) {
		it->owner = FL_OWNER_RUNTIME;
		it->map_tag_value = r->tag;
	}
}

static void resolve_fault(struct correlator *c, const struct fl_ev_fault *e, uint64_t call_seq,
			  const struct fl_ev_stack *stack)
{
	struct corr_proc *p = proc_get(c, e->h.tgid);
	struct corr_item it = { .rec = &e->h, .call_seq = call_seq, .proc = p, .stack = stack };
	struct summary *s = &c->sum;
	struct alloc_block *b;

	it.owner = fault_owner(p, e, &b);
	if (it.owner == FL_OWNER_OTHER)
		runtime_owner(p, e->addr, &it);
	it.first_touch = !(e->h.flags & FL_F_FAULT_PRESENT);
	it.alloc_seq = b ? b->seq : 0;
	it.block = b;
	s->faults_total++;
	if (e->h.flags & FL_F_FAULT_KERNEL)
		s->faults_kernel++;
	else
		s->faults_user++;
	s->faults_owner[it.owner]++;
	if (b && (e->h.flags & FL_F_IN_CALL))
		s->alloc_faults_in_call++;
	if (it.first_touch && region_set_count(p->given_back) && region_set_find(p->given_back, e->addr)) {
		struct footprint before = footprint_of(p); /* touched again: resident, not given back */
		uint64_t page = e->addr & ~(FL_PAGE_SIZE - 1);

		region_set_remove(p->given_back, page, page + FL_PAGE_SIZE);
		account(c, p, before);
	}
	if (it.first_touch) {
		s->first_touch++;
		s->first_touch_owner[it.owner]++;
		if (b)
			b->faults++;
	}
	emit(c, &it);
}

/* ---- allocator calls ------------------------------------------------------- */

/* The families an entry point's probe stands for: its own, and those of
 * the entry points sharing its address (tcmalloc's delete is its free). */
static unsigned families_of(const struct correlator *c, unsigned func)
{
	unsigned mask = 0;

	for (unsigned f = 0; f < FL_NFUNC; f++)
		if (f == func || c->info.probe_of[f] == func)
			mask |= 1u << fl_call_family[fl_func_call(f)];
	return mask;
}

/* A block released by a call of another family (valgrind's "Mismatched
 * free() / delete / delete []"): counted, and marked on the item. Where one
 * probe stands for both families the pair cannot be seen, and is not counted. */
static void check_family(struct correlator *c, const struct alloc_block *b, const struct fl_ev_call *e,
			 struct corr_item *it)
{
	unsigned by, fa, ff;

	if (b->func >= FL_NFUNC || e->h.func >= FL_NFUNC)
		return;
	fa = c->fam_mask[b->func];
	by = c->fam_mask[e->h.func];
	if (fa & by)
		return;
	ff = fl_call_family[fl_func_call(e->h.func)];
	c->sum.mismatched[fl_call_family[fl_func_call(b->func)]][ff]++;
	it->mismatched = true;
}

/* Keeps the thread's count of frees of unknown pointers since its last other call. */
static void count_trailing_unknown(struct correlator *c, const struct fl_ev_call *e, bool unknown)
{
	struct pending *t = thread_get(c, e->h.tid);

	t->trailing_unknown = unknown ? t->trailing_unknown + 1 : 0;
}

/* A copy of a block about to be replaced by its resized self (with its
 * sink data), or NULL for none. */
static const struct alloc_block *keep_resized(struct correlator *c, const struct alloc_block *b)
{
	if (!b)
		return NULL;
	if (!c->resized && !(c->resized = malloc(sizeof(*b) + c->block_extra)))
		abort();
	memcpy(c->resized, b, sizeof(*b) + c->block_extra);
	return c->resized;
}

/* rel: call_released_ptr(e). */
static struct alloc_block *apply_call(struct correlator *c, struct corr_proc *p, const struct fl_ev_call *e,
				      uint64_t rel, uint64_t seq, struct corr_item *it)
{
	uint64_t size;
	struct alloc_block *b = NULL;

	if (rel) {
		b = alloc_index_get(p->index, rel);
		it->unknown_free = !b;
		it->released = b;
		if (!b)
			c->sum.frees_unknown++;
		else
			check_family(c, b, e, it);
	}
	count_trailing_unknown(c, e, rel && !b);
	if (fl_is_free(e->h.func)) {
		if (!e->a2)
			c->sum.frees_null++;
		return b;
	}
	size = call_requested_bytes(e);
	it->requested = size;
	c->sum.bytes_requested += size;
	if (fl_kind_returns_block(fl_func_kind(e->h.func)) && e->ret) {
		if (!rel && e->a2 == e->ret && fl_kind_resizes(fl_func_kind(e->h.func)))
			it->released = keep_resized(c, alloc_index_get(p->index, e->ret));
		b = alloc_index_insert(p->index, e->ret, size);
		if (!b)
			abort();
		b->seq = seq;
		b->ts = e->h.ts;
		b->tid = e->h.tid;
		b->func = e->h.func;
	}
	return b;
}

static void resolve_pending(struct correlator *c, struct pending *t, uint64_t call_seq);

/* A freed block leaves the index. */
static void release_block(struct correlator *c, struct corr_proc *p, uint64_t ptr)
{
	uint64_t live = p->live->live_bytes;

	alloc_index_remove(p->index, ptr, NULL);
	account_live(c, p, live);
}

static void resolve_nested_call(struct correlator *c, const struct fl_ev_call *e, uint64_t call_seq)
{
	struct corr_item it = { .rec = &e->h, .call_seq = call_seq, .proc = proc_get(c, e->h.tgid) };

	if (e->h.func < FL_NFUNC) {
		c->sum.calls[fl_func_call(e->h.func)]++;
		c->sum.calls_nested_by[fl_func_call(e->h.func)]++;
	}
	c->sum.calls_nested++;
	emit(c, &it);
}

static uint32_t count_pending_syscalls(const struct pending *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->n; i++)
		n += ((const struct fl_hdr *)t->recs[i])->type == FL_EV_SYSCALL;
	return n;
}

/* t: the call's thread, whose pending list holds the events tagged with it. */
static void resolve_call(struct correlator *c, struct pending *t, const struct fl_ev_call *e,
			 const struct fl_ev_stack *stack)
{
	struct corr_proc *p = proc_get(c, e->h.tgid);
	struct corr_item it = { .rec = &e->h, .proc = p, .stack = stack };
	uint64_t rel = call_released_ptr(e), seq = c->next_seq;
	uint32_t nsys = count_pending_syscalls(t);
	bool had_syscall = nsys > 0;
	uint64_t live;

	if (e->h.func >= FL_NFUNC) {
		c->bad_records++;
		return;
	}
	c->sum.calls[fl_func_call(e->h.func)]++;
	if (had_syscall)
		c->sum.calls_with_syscall[fl_func_call(e->h.func)]++;
	live = p->live->live_bytes;
	it.block = apply_call(c, p, e, rel, seq, &it);
	account_live(c, p, live);
	it.syscalls_caused = nsys;
	emit(c, &it);
	resolve_pending(c, t, it.seq);
	if (fl_is_free(e->h.func) && e->a2) {
		if (had_syscall)
			c->sum.frees_returned++;
		else
			c->sum.frees_kept++;
	}
	if (rel)
		release_block(c, p, rel);
}

/* A call written at its entry (free without a return probe): applied and
 * emitted now; the events tagged with it follow and resolve at once; it ends
 * at the thread's next call or untagged event (close_open_call). */
static void resolve_entry_call(struct correlator *c, struct pending *t, const struct fl_ev_call *e,
			       const struct fl_ev_stack *stack)
{
	struct corr_proc *p = proc_get(c, e->h.tgid);
	struct corr_item it = { .rec = &e->h, .proc = p, .stack = stack };
	uint64_t rel = call_released_ptr(e), live;

	if (e->h.func >= FL_NFUNC) {
		c->bad_records++;
		return;
	}
	c->sum.calls[fl_func_call(e->h.func)]++;
	live = p->live->live_bytes;
	it.block = apply_call(c, p, e, rel, c->next_seq, &it);
	account_live(c, p, live);
	emit(c, &it);
	t->open = true;
	t->open_tgid = e->h.tgid;
	t->open_func = e->h.func;
	t->open_seq = it.seq;
	t->open_syscalls = 0;
	t->open_released = rel;
}

static void close_open_call(struct correlator *c, struct pending *t)
{
	struct corr_proc *p;

	if (!t->open)
		return;
	t->open = false;
	if (t->open_syscalls)
		c->sum.calls_with_syscall[fl_func_call(t->open_func)]++;
	if (!t->open_released)
		return;
	if (t->open_syscalls)
		c->sum.frees_returned++;
	else
		c->sum.frees_kept++;
	p = proc_get(c, t->open_tgid);
	release_block(c, p, t->open_released);
}

/* ---- dispatch -------------------------------------------------------------- */

static void resolve_event(struct correlator *c, const struct fl_hdr *h, uint64_t call_seq,
			  const struct fl_ev_stack *stack)
{
	switch (h->type) {
	case FL_EV_SYSCALL:
		resolve_syscall(c, (const struct fl_ev_syscall *)h, call_seq, stack);
		break;
	case FL_EV_FAULT:
		resolve_fault(c, (const struct fl_ev_fault *)h, call_seq, stack);
		break;
	case FL_EV_CALL:
		resolve_nested_call(c, (const struct fl_ev_call *)h, call_seq);
		break;
	case FL_EV_REASON: {
		struct corr_item it = { .rec = h, .call_seq = call_seq, .proc = proc_get(c, h->tgid) };

		c->sum.reasons++;
		emit(c, &it);
		break;
	}
	}
}

static void resolve_pending(struct correlator *c, struct pending *t, uint64_t call_seq)
{
	for (uint32_t i = 0; i < t->n; i++) {
		resolve_event(c, (const struct fl_hdr *)t->recs[i], call_seq, t->stacks[i]);
		stack_free(c, t->stacks[i]);
	}
	t->n = 0;
}

static void flush_orphans(struct correlator *c, struct pending *t)
{
	c->sum.orphan_events += t->n;
	resolve_pending(c, t, 0);
}

/* Across an exec: the process's parent, file and argv, and its peaks. */
static void proc_keep_identity(struct corr_proc *p, const struct corr_proc *kept)
{
	p->ppid = kept->ppid;
	p->exe = kept->exe;
	p->argv = kept->argv;
	p->argc = kept->argc;
	p->peak_live = kept->peak_live;
	p->peak_heap = kept->peak_heap;
	p->peak_mmap = kept->peak_mmap;
	p->peak_unused = kept->peak_unused;
}

/* A forked child runs its parent's file until it execs. */
static void proc_copy_info(struct corr_proc *child, const struct corr_proc *parent)
{
	if (child->exe || !parent->exe)
		return;
	child->exe = strdup(parent->exe);
	child->argv = calloc(parent->argc ? parent->argc : 1, sizeof(char *));
	if (!child->exe || !child->argv)
		return proc_info_free(child);
	for (; child->argc < parent->argc; child->argc++)
		if (!(child->argv[child->argc] = strdup(parent->argv[child->argc])))
			break;
}

/* FL_META_PROC: the process's file, argv and parent. */
static int set_proc_info(struct corr_proc *p, uint64_t ppid, const char *data, size_t len)
{
	size_t plen, argc = 0;

	if (!fl_meta_proc_ok(data, len))
		return -1;
	proc_info_free(p);
	p->info_fresh = true;
	if (ppid)
		p->ppid = (uint32_t)ppid;
	plen = strlen(data);
	for (size_t off = plen + 1; off < len; off += strnlen(data + off, len - off) + 1)
		argc++;
	p->exe = strdup(data);
	p->argv = calloc(argc ? argc : 1, sizeof(char *));
	if (!p->exe || !p->argv)
		return proc_info_free(p), 0;
	for (size_t off = plen + 1; off < len;) {
		size_t n = strnlen(data + off, len - off);

		if ((p->argv[p->argc] = strndup(data + off, n)))
			p->argc++;
		off += n + 1;
	}
	return 0;
}

static void on_proc(struct correlator *c, const struct fl_ev_proc *e)
{
	struct corr_proc *p = proc_get(c, e->h.tgid);
	struct corr_item it = { .rec = &e->h, .proc = p };

	if (e->kind == FL_PROC_EXEC) {
		/* a new image: nothing of the old address space survives; who it
		 * is (its FL_META_PROC came before) and its peaks do */
		struct footprint before = footprint_of(p);
		struct corr_proc kept = *p;

		proc_release(p);
		if (proc_init(c, p, e->h.tgid))
			abort();
		proc_keep_identity(p, &kept);
		if (!kept.info_fresh)
			proc_info_free(p); /* its parent's, from the fork: the new file is unknown */
		p->info_fresh = false;
		account(c, p, before);
	} else if (e->kind == FL_PROC_FORK) {
		struct corr_proc *child = proc_get(c, e->child);
		struct footprint before = footprint_of(child);

		child->heap_start = p->heap_start;
		child->brk = p->brk;
		child->ppid = p->tgid;
		proc_copy_info(child, p);
		account(c, child, before);
	} else if (e->kind == FL_PROC_EXIT) {
		struct pending *t = thread_get(c, e->h.tid);

		if (e->h.tid == e->h.tgid)
			p->exited = true;

		close_open_call(c, t);
		flush_orphans(c, t);
		/* a thread (not the process) ending with frees of unknown pointers:
		 * its allocator's cache given back, not the program's frees */
		if (e->h.tid != e->h.tgid && t->trailing_unknown <= c->sum.frees_unknown) {
			c->sum.frees_unknown -= t->trailing_unknown;
			c->sum.frees_thread_cache += t->trailing_unknown;
		}
		t->trailing_unknown = 0;
		/* its waiting stacks go with it (a tid reused later starts afresh) */
		stack_free(c, t->event_stack);
		stack_free(c, t->call_stack);
		stack_free(c, t->last_whole);
		drop_ips_cache(c, t);
		t->event_stack = t->call_stack = t->last_whole = NULL;
	}
	emit(c, &it);
}

/* The command's arguments (NUL-separated), replacing any earlier command.
 * -1 for a record past the limits of meta.h, checked before any allocation. */
static int set_command(struct run_info *ri, const char *data, size_t len)
{
	size_t argc = 0;
	char **argv;

	if (len > FL_META_MAX_COMMAND_BYTES)
		return -1;
	for (size_t off = 0; off < len; off += strnlen(data + off, len - off) + 1)
		if (++argc > FL_META_MAX_COMMAND_ARGS)
			return -1;
	argv = calloc(argc ? argc : 1, sizeof(*argv));
	if (!argv)
		return -1;
	for (int i = 0; i < ri->argc; i++)
		free(ri->argv[i]);
	free(ri->argv);
	ri->argv = argv;
	ri->argc = 0;
	for (size_t off = 0; off < len;) {
		size_t n = strnlen(data + off, len - off);

		ri->argv[ri->argc] = strndup(data + off, n);
		if (ri->argv[ri->argc])
			ri->argc++;
		off += n + 1;
	}
	return 0;
}

/* glibc's arenas other than the main one: heaps of HEAP_MAX_SIZE (64 MiB on
 * 64-bit), aligned to it, mapped read-write at the front. */
#define GLIBC_ARENA_HEAP (64ull << 20)

/* A process attached to mid-life: its heap's extent and the allocator's
 * arenas come from its maps at the attach (counted in the footprint as if
 * made then). Mappings of large blocks cannot be told from other anonymous
 * ones there and are not counted. */
static void heap_from_maps(struct correlator *c, struct corr_proc *p, const char *text, size_t len)
{
	struct proc_maps *m;
	struct footprint before = footprint_of(p);

	if (p->heap_start)
		return; /* read at the attach already */
	m = proc_maps_parse(text, len);
	for (size_t i = 0; m && i < proc_maps_count(m); i++) {
		const struct proc_map *e = proc_maps_at(m, i);

		if (!strcmp(e->path, "[heap]") && !p->heap_start) {
			p->heap_start = e->start;
			p->brk = e->end;
		} else if (!e->path[0] && !e->inode && !strncmp(e->perms, "rw", 2) &&
			   !(e->start & (GLIBC_ARENA_HEAP - 1)) && e->end - e->start <= GLIBC_ARENA_HEAP) {
			region_set_add(p->regions, e->start, e->end, 0);
		}
	}
	proc_maps_free(m);
	account(c, p, before);
}

static void on_meta(struct correlator *c, const struct fl_meta *m, size_t len)
{
	const char *data = (const char *)(m + 1);
	size_t dlen = len - sizeof(*m);
	struct run_info *ri = &c->info;

	switch (m->kind) {
	case FL_META_COMMAND:
		if (set_command(ri, data, dlen))
			c->bad_records++;
		break;
	case FL_META_TARGET: ri->pid = m->tgid; ri->attached = m->value; break;
	case FL_META_ALLOCATOR:
		if (!ri->allocator[0])
			snprintf(ri->allocator, sizeof(ri->allocator), "%.*s", (int)dlen, data);
		else if (strncmp(ri->allocator, data, dlen) || ri->allocator[dlen]) {
			size_t n = strlen(ri->allocators_more);

			snprintf(ri->allocators_more + n, sizeof(ri->allocators_more) - n, "%s%.*s", n ? "; " : "",
				 (int)dlen, data);
		}
		break;
	case FL_META_PROBES:
		for (size_t i = 0; i + 1 < dlen; i += 2) {
			uint8_t f = (uint8_t)data[i], pr = (uint8_t)data[i + 1];

			if (f < FL_NFUNC && pr < FL_NFUNC)
				ri->probe_of[f] = pr;
		}
		for (unsigned f = 0; f < FL_NFUNC; f++)
			c->fam_mask[f] = families_of(c, f);
		break;
	case FL_META_EXIT:
		if (m->tgid == ri->pid) {
			ri->have_exit = true;
			ri->exit_status = (int)m->value;
		}
		break;
	case FL_META_LOST: ri->lost += m->value; break;
	case FL_META_PROBE_PATH: ri->probe_path = m->value <= 2 ? (uint8_t)m->value : 0; break;
	case FL_META_CALL_TIME_RES: ri->call_time_res = m->value; break;
	case FL_META_MAPS:
		if (!fl_meta_maps_ok(data, dlen))
			c->bad_records++;
		else if (ri->attached)
			heap_from_maps(c, proc_get(c, m->tgid), data, dlen);
		break;
	case FL_META_PROC:
		if (set_proc_info(proc_get(c, m->tgid), m->value, data, dlen))
			c->bad_records++;
		break;
	case FL_META_START: ri->start_ns = m->value; break;
	case FL_META_END: ri->end_ns = m->value; break;
	}
}

/* A free-like call the kernel saw "inside" the open free that is its
 * sibling: free(p[i]) in a loop enters at the same stack pointer with the
 * same return address, which is what a free still in flight looks like. A
 * call nested for real in a free (delete tail-calling free) releases the
 * same pointer; a sibling, another one. */
static bool free_sibling(const struct pending *t, const struct fl_hdr *h)
{
	const struct fl_ev_call *e = (const struct fl_ev_call *)h;

	return (h->flags & FL_F_AT_ENTRY) && h->func < FL_NFUNC && fl_is_free(h->func) && e->a2 &&
	       t->open_released && e->a2 != t->open_released;
}

/* Where an event goes: an outer call resolves with the events that waited
 * for it; an event tagged with the thread's open entry-only call resolves at
 * once; other tagged events and nested calls wait for their call's record;
 * anything else resolves at once. All but the second end an open call. */
static void dispatch_event(struct correlator *c, struct pending *t, const struct fl_hdr *h, size_t len)
{
	bool is_call = h->type == FL_EV_CALL, nested = h->flags & FL_F_NESTED;
	bool sibling = t->open && is_call && nested && (h->flags & FL_F_IN_FREE) && t->n == 0 && free_sibling(t, h);
	struct fl_ev_stack *stack = take_stack(t, h);

	if (t->open && !is_call && (h->flags & FL_F_IN_CALL) && h->func == t->open_func && t->n == 0) {
		t->open_syscalls += h->type == FL_EV_SYSCALL;
		resolve_event(c, h, t->open_seq, stack);
		stack_free(c, stack);
		return;
	}
	if (t->open && is_call && nested && (h->flags & FL_F_IN_FREE) && t->n == 0 && !sibling) {
		resolve_nested_call(c, (const struct fl_ev_call *)h, t->open_seq); /* inside the open call */
		stack_free(c, stack);
		return;
	}
	close_open_call(c, t);
	if (sibling)
		nested = false; /* free(p[i]) in a loop: a call of its own */
	if (is_call ? nested : (h->flags & FL_F_IN_CALL)) {
		pending_push(t, h, len, stack); /* the stack is the list's now */
		return;
	}
	if (is_call && (h->flags & FL_F_AT_ENTRY))
		resolve_entry_call(c, t, (const struct fl_ev_call *)h, stack);
	else if (is_call)
		resolve_call(c, t, (const struct fl_ev_call *)h, stack);
	else
		resolve_event(c, h, 0, stack);
	if (stack) /* most records have none: no call to free() for them */
		stack_free(c, stack);
}

int corr_feed(struct correlator *c, const void *rec, size_t len)
{
	const struct fl_hdr *h = rec;
	size_t need;

	if (len >= sizeof(struct fl_meta) && ((const uint8_t *)rec)[0] == FL_REC_META) {
		on_meta(c, rec, len);
		if (c->meta_sink)
			c->meta_sink(c->meta_ctx, rec, len);
		return 0;
	}
	if (len >= sizeof(struct fl_ev_stack) && h->type == FL_EV_STACK) {
		const struct fl_ev_stack *s = rec;

		if (sizeof(*s) + (size_t)s->len > len || s->len > FL_MAX_STACK_BYTES) {
			c->bad_records++;
			return -1;
		}
		keep_stack(c, s);
		return 0;
	}
	need = len >= 1 ? fl_event_size(h->type) : 0;
	if (!need || len < need) {
		c->bad_records++;
		return -1;
	}
	c->events++;
	if (!c->sum.first_ts || h->ts < c->sum.first_ts)
		c->sum.first_ts = h->ts;
	if (h->ts > c->sum.last_ts)
		c->sum.last_ts = h->ts;
	if (h->type == FL_EV_PROC) {
		on_proc(c, rec);
		return 0;
	}
	dispatch_event(c, thread_get(c, h->tid), h, len);
	return 0;
}

void corr_finish(struct correlator *c)
{
	for (size_t i = 0; i < c->nthreads; i++) {
		close_open_call(c, c->threads[i]);
		flush_orphans(c, c->threads[i]);
	}
}

const struct summary *corr_summary(const struct correlator *c) { return &c->sum; }
const struct run_info *corr_run_info(const struct correlator *c) { return &c->info; }
uint64_t corr_bad_records(const struct correlator *c) { return c->bad_records; }
uint64_t corr_events(const struct correlator *c) { return c->events; }
uint64_t corr_stacks(const struct correlator *c) { return c->stacks; }
uint64_t corr_stacks_dropped(const struct correlator *c) { return c->stacks_dropped; }

void corr_foreach_proc(struct correlator *c, void (*fn)(struct corr_proc *p, void *arg), void *arg)
{
	for (size_t i = 0; i < c->nprocs; i++)
		fn(c->procs[i], arg);
}
