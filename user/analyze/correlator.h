/* correlator.h - joins the kernel's events into per-allocation facts: which
 * call caused each syscall, which block (or the allocator, or other memory)
 * owns each faulting address. Fed one record at a time, live from the ring
 * buffer or replayed from a trace file; hands resolved items to a sink and
 * keeps the summary counts. */
#ifndef FL_CORRELATOR_H
#define FL_CORRELATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "faultline.h"
#include "analyze/alloc_index.h"
#include "analyze/region_set.h"

enum fl_owner { FL_OWNER_ALLOCATION = 0, FL_OWNER_ALLOCATOR = 1, FL_OWNER_OTHER = 2, FL_NOWNER };
extern const char *const fl_owner_names[FL_NOWNER];

#define FL_CALLER_NONE FL_NCALLS /* syscalls_by_caller row for "outside any call" */

struct summary {
	uint64_t calls[FL_NCALLS];           /* by the name calls are reported under (fl_funcs.h) */
	uint64_t calls_nested;
	uint64_t calls_nested_by[FL_NCALLS]; /* of calls[]: made inside another allocator call */
	uint64_t calls_with_syscall[FL_NCALLS];
	uint64_t syscalls[FL_NSYS];
	uint64_t by_caller[FL_NCALLS + 1][FL_NSYS];
	uint64_t faults_total, faults_user, faults_kernel;
	uint64_t faults_owner[FL_NOWNER];
	uint64_t first_touch, first_touch_owner[FL_NOWNER];
	uint64_t alloc_faults_in_call; /* faults on a block taken inside an allocator call */
	uint64_t bytes_requested, peak_live, peak_heap, peak_mmap;
	uint64_t cur_live, cur_heap, cur_mmap;
	uint64_t peak_unused;   /* most heap+mapping bytes held by the allocator but in no live block */
	uint64_t frees_null, frees_unknown, frees_kept, frees_returned;
	/* blocks freed by another family's free: [allocating family][freeing family] */
	uint64_t mismatched[FL_NFAMILY][FL_NFAMILY];
	uint64_t orphan_events; /* tagged with a call whose return was never seen */
	uint64_t reasons;       /* the allocator's own accounts of its decisions (refalloc) */
	uint64_t kernel_counted; /* 1: stat --no-calls: syscalls and faults counted in the kernel only */
	uint64_t first_ts, last_ts;
};

/* What the trace says about the run, besides events (from the file's meta records). */
struct run_info {
	char **argv;
	int argc;
	uint32_t pid;
	bool attached;
	bool have_exit;
	int exit_status; /* wait status */
	uint64_t lost;
	uint64_t start_ns, end_ns;
	char allocator[4096];        /* the object malloc comes from */
	char allocators_more[4096];  /* the other objects some entry points come from, "; " between */
	uint8_t probe_of[FL_NFUNC];  /* the entry whose probe counts func (an alias), 0xff: unknown */
	uint8_t probe_path;          /* FL_META_PROBE_PATH: 1 preload, 2 uprobes, 0 not said */
};

/* "preload", "uprobes", or NULL (a recording that does not say). */
static inline const char *run_probe_path(const struct run_info *ri)
{
	return ri->probe_path == 1 ? "preload" : ri->probe_path == 2 ? "uprobes" : NULL;
}

/* One process's view of memory. */
struct corr_proc {
	uint32_t tgid;
	struct alloc_index *index;
	const struct alloc_index_totals *live; /* index's live bytes and count */
	struct region_set *regions; /* mmap'd by the allocator, accessible */
	uint64_t heap_start, brk;    /* 0 while unknown */
};

/* An event resolved, as handed to the sink. */
struct corr_item {
	uint64_t seq;
	const struct fl_hdr *rec;
	uint64_t call_seq;   /* the allocator call in flight, 0: none */
	struct corr_proc *proc;
	/* FL_EV_CALL */
	struct alloc_block *block; /* block returned, or freed (still in the index) */
	bool unknown_free;   /* free/realloc of a pointer no known block has */
	bool mismatched;     /* it freed a block of another family (a new'd block with free, ...) */
	uint32_t syscalls_caused; /* outermost call: memory syscalls made inside it */
	/* FL_EV_SYSCALL */
	uint64_t heap_old, heap_new; /* brk: the break before and after */
	/* FL_EV_FAULT */
	uint8_t owner;
	bool first_touch;
	uint64_t alloc_seq;  /* owning block's call, 0: none */
	/* --stacks: the user stack the kernel captured for this record, or NULL */
	const struct fl_ev_stack *stack;
};

struct corr_sink {
	void (*item)(void *ctx, const struct corr_item *it);
	void *ctx;
};

struct correlator;

/* header_bytes: bytes before each pointer that belong to its block (16: glibc). */
struct correlator *corr_new(uint64_t header_bytes);
void corr_free(struct correlator *c);
void corr_add_sink(struct correlator *c, const struct corr_sink *s);
/* A sink's own bytes in every live block (zeroed when the block is made):
 * returns their offset for corr_block_data, or -1 once events were fed. A
 * sink that remembers something per block keeps it there, not in a field of
 * struct alloc_block. */
int corr_reserve_block_data(struct correlator *c, size_t bytes);
static inline void *corr_block_data(struct alloc_block *b, int off)
{
	return (char *)alloc_block_extra(b) + off;
}
/* Feeds one record: a kernel event or a meta record (meta.h). Returns 0, or
 * -1 for a record too short for its type (counted, not fatal to the caller). */
int corr_feed(struct correlator *c, const void *rec, size_t len);
/* Ends the trace: pending events of calls that never returned are flushed. */
void corr_finish(struct correlator *c);
const struct summary *corr_summary(const struct correlator *c);
const struct run_info *corr_run_info(const struct correlator *c);
uint64_t corr_bad_records(const struct correlator *c);
uint64_t corr_events(const struct correlator *c);
uint64_t corr_stacks(const struct correlator *c); /* FL_EV_STACK records fed */
/* Stacks not kept: the copies held waiting for their records were at
 * FL_MAX_HELD_STACK_BYTES (store/meta.h); their records go without. */
uint64_t corr_stacks_dropped(const struct correlator *c);

#endif
