/*
 * refalloc.h - the extra (non-malloc-family) interface of librefalloc.so.
 *
 * A program run with LD_PRELOAD=build/librefalloc.so can reach these
 * through weak declarations or dlsym(RTLD_DEFAULT, "refalloc_stats").
 * See tools/refalloc/README.md for the model.
 */
#ifndef REFALLOC_H
#define REFALLOC_H

#include <stddef.h>

struct refalloc_stats {
	/* settings in force (after rounding) */
	size_t mmap_threshold, heap_step, trim_threshold, top_pad;
	/* the brk heap: [heap_start, heap_start + heap_size) */
	size_t heap_start, heap_size;
	size_t live_blocks, live_bytes;   /* in-use heap blocks, usable bytes */
	size_t free_blocks, free_bytes;   /* free-list blocks, whole blocks   */
	size_t largest_free;              /* largest free-list block (whole)  */
	size_t top_free;                  /* free bytes at the heap top       */
	/* mmap'd blocks currently live */
	size_t mmap_blocks, mmap_bytes;
	/* counters since start */
	size_t brk_calls, mmap_calls, munmap_calls, mremap_calls, madvise_calls;
	size_t heap_grows, heap_trims, freelist_hits, freelist_misses;
};

/* Fill *st (a consistent snapshot, taken under the allocator lock). */
void refalloc_stats(struct refalloc_stats *st);
/* Write the stats as "refalloc: key=value ..." lines to fd (no malloc). */
void refalloc_dump_stats(int fd);
/* Walk the heap and the free lists and check every invariant.
 * Returns 0 if consistent, else a positive error code (and writes why to
 * stderr). O(heap); for tests. */
int refalloc_check(void);

#endif
