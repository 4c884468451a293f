/* analyses.h - the heap analyses, all in the one pass of the correlator:
 * leaks (blocks live at the end), the peak of live bytes and what was live
 * then, temporary allocations (freed before their thread allocated again),
 * requests by size class, a timeline of memory, and the resident-memory
 * model checked against the kernel's smaps at exit. One sink (analyses.c)
 * feeds them; each keeps bounded state: per live block (corr_block_data),
 * per call site (heap_sites.h), per thread, per process, never per event. */
#ifndef FL_ANALYSES_H
#define FL_ANALYSES_H

#include <stdbool.h>
#include <stdint.h>
#include "analyze/correlator.h"
#include "analyze/heap_sites.h"
#include "analyze/timeline.h"

struct analyses;

/* What the analyses keep in every live block (corr_block_data). */
struct ha_blk {
	uint32_t key1;      /* 1 + its heap site */
	uint16_t syscalls;  /* made by the call that returned it (saturating) */
	uint8_t mmapped;    /* that call mapped memory */
};

/* interval_ns: the timeline's resolution, 0: adaptive, about points points. */
struct analyses *analyses_new(uint64_t interval_ns, unsigned points);
void analyses_free(struct analyses *a);
/* Before the first record, after callsites_attach (its row of a block is
 * set first). 0, or -1. */
int analyses_attach(struct analyses *a, struct correlator *c);
/* A recording with --stacks=all: sites are the calls' stacks where known
 * (scaled by the sample rate: estimates past --sample 1). */
struct callsites;
void analyses_use_callsites(struct analyses *a, struct callsites *cs);
/* After corr_finish: collects the leaks, closes the timeline, compares the
 * resident model with the kernel's smaps. */
void analyses_finish(struct analyses *a);

struct ha_size_class {
	uint64_t calls, bytes, syscalls, first_touches, mmapped; /* mmapped: calls that got an mmap */
};

#define HA_MAX_MOVES 32
struct ha_threshold_move {
	uint64_t seq, ts, threshold; /* glibc's mmap threshold became threshold at call seq */
};

struct ha_region {
	uint32_t tgid;
	uint64_t start, end, kernel, model, model_allocator;
	char name[256];
};

/* What the writers read (output/analyses.c). */
struct ha_results {
	const struct heap_sites *sites;
	struct callsites *cs;         /* sites by stack: names their rows; NULL: by function and size */
	unsigned sample;              /* --sample N: stack sites stand for N calls each */
	bool attached;                /* -p: "leaks" are the blocks live when the recording ended */
	uint64_t leak_blocks, leak_bytes, leak_pages;
	uint64_t peak_ts, peak_seq, peak_live;   /* ts: from the first event */
	uint64_t peak_resident, peak_resident_ts;
	uint64_t calls, temp_calls;
	struct ha_size_class sizes[HS_NCLASS];
	uint64_t threshold;           /* glibc's mmap threshold at the end (128 KiB at start) */
	struct ha_threshold_move moves[HA_MAX_MOVES];
	unsigned nmoves;
	const struct timeline *timeline;
	uint64_t resident, resident_allocator, freeable; /* the model at the end */
	bool have_kernel;
	uint64_t kernel_rss, model_rss;  /* over the allocator's mappings at exit */
	const struct ha_region *regions;
	size_t nregions;
	uint64_t model_lost;             /* pages the model could not keep (out of memory) */
};
const struct ha_results *analyses_results(const struct analyses *a);

/* leaks.c: the blocks of ix still live, added to their sites and to r's
 * totals (off: the analyses' offset in each block, corr_block_data). */
void leaks_collect(struct alloc_index *ix, int off, struct heap_sites *hs, struct ha_results *r);

#endif
