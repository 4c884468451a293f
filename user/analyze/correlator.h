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

enum fl_owner {
	FL_OWNER_ALLOCATION = 0,
	FL_OWNER_ALLOCATOR = 1,
	FL_OWNER_OTHER = 2,
	FL_OWNER_RUNTIME = 3, /* anonymous mappings made outside any allocator call (pymalloc's arenas, V8's heap) */
	FL_OWNER_TRACER = 4,  /* the kernel's [uprobes] page: faultline's own probes' */
	FL_NOWNER = 5,
};
extern const char *const fl_owner_names[FL_NOWNER];

#define FL_CALLER_NONE FL_NCALLS /* syscalls_by_caller row for "outside any call" */
/* its row for syscalls outside any call made by the allocator on its own (its
 * background threads, or a --stacks stack whose caller is in the allocator) */
#define FL_CALLER_BACKGROUND (FL_NCALLS + 1)
#define FL_NCALLERS (FL_NCALLS + 2)

struct summary {
	uint64_t calls[FL_NCALLS];           /* by the name calls are reported under (fl_funcs.h) */
	uint64_t calls_nested;
	uint64_t calls_nested_by[FL_NCALLS]; /* of calls[]: made inside another allocator call */
	uint64_t calls_with_syscall[FL_NCALLS];
	uint64_t syscalls[FL_NSYS];
	uint64_t by_caller[FL_NCALLERS][FL_NSYS];
	uint64_t faults_total, faults_user, faults_kernel;
	uint64_t faults_owner[FL_NOWNER];
	uint64_t first_touch, first_touch_owner[FL_NOWNER];
	uint64_t alloc_faults_in_call; /* faults on a block taken inside an allocator call */
	uint64_t bytes_requested, peak_live, peak_heap, peak_mmap;
	uint64_t cur_live, cur_heap, cur_mmap;
	uint64_t peak_unused;   /* most heap+mapping bytes held by the allocator but in no live block
				   (nor given back with madvise) */
	uint64_t cur_given_back; /* allocator bytes madvise'd away (DONTNEED/FREE/REMOVE), not touched since */
	uint64_t frees_null, frees_unknown, frees_kept, frees_returned;
	/* frees of unknown pointers that were a thread's last calls before it
	 * exited (not the main thread): glibc's tcache_thread_shutdown giving back
	 * its per-thread cache, blocks the program had freed already */
	uint64_t frees_thread_cache;
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
	uint64_t call_time_res;      /* FL_META_CALL_TIME_RES: the calls' times are multiples of it (ns); 0, 1: exact */
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
	/* allocator memory given back with madvise(DONTNEED/FREE/REMOVE) and not
	 * touched since: held, yet not resident (its bytes: summary.cur_given_back) */
	struct region_set *given_back;
	struct region_set *runtime;  /* anonymous mappings made outside any allocator call */
	/* this process's own peaks (the summary's are the largest of them, never sums) */
	uint64_t peak_live, peak_heap, peak_mmap, peak_unused;
	uint64_t held;               /* heap + allocator mappings now */
	uint32_t ppid;               /* from its fork record, 0: unknown */
	uint64_t first_ts, last_ts;  /* its first and last event */
	char *exe;                   /* FL_META_PROC: the executable's real path, or NULL */
	char **argv;                 /* and its argv (argc strings) */
	int argc;
	bool exited;
	bool info_fresh;             /* exe and argv came after its last exec */
};

/* An event resolved, as handed to the sink. */
struct corr_item {
	uint64_t seq;
	const struct fl_hdr *rec;
	uint64_t call_seq;   /* the allocator call in flight, 0: none */
	struct corr_proc *proc;
	/* FL_EV_CALL */
	struct alloc_block *block; /* block returned, or freed (still in the index) */
	/* the block this call releases or resizes in place, as it was (its sink
	 * data intact): a free's block, a moved realloc's old block, or a copy of
	 * the block a realloc resized in place; NULL: none */
	const struct alloc_block *released;
	bool unknown_free;   /* free/realloc of a pointer no known block has */
	bool mismatched;     /* it freed a block of another family (a new'd block with free, ...) */
	uint32_t syscalls_caused; /* outermost call: memory syscalls made inside it */
	uint64_t requested;  /* the bytes it asked for (call_requested_bytes), 0 for a free */
	/* FL_EV_SYSCALL */
	uint64_t heap_old, heap_new; /* brk: the break before and after */
	uint64_t *map_tag;   /* an mmap that made a runtime mapping: one value a sink may keep with
				it (0 until set; the call-site table keeps its row there), or NULL */
	/* FL_EV_FAULT */
	uint8_t owner;
	bool first_touch;
	uint64_t alloc_seq;  /* owning block's call, 0: none */
	uint64_t map_tag_value; /* owner runtime: the value kept with its mapping's map_tag */
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
/* A sink of the meta records (store/meta.h), handed on as fed. */
void corr_add_meta_sink(struct correlator *c, void (*fn)(void *ctx, const void *rec, size_t len), void *ctx);
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
/* Calls fn for every process seen, in the order they were first seen. */
void corr_foreach_proc(struct correlator *c, void (*fn)(struct corr_proc *p, void *arg), void *arg);

#endif
