/* resident.h - the resident-memory model of one process: the pages that
 * became resident at their first-touch fault and have not been taken away
 * since (munmap, a brk shrink, madvise DONTNEED/REMOVE, a mapping made over
 * them), moved with mremap, marked freeable at MADV_FREE. A hash set of page
 * numbers: O(1) per fault, O(min(pages in range, pages kept)) per range. */
#ifndef FL_RESIDENT_H
#define FL_RESIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RES_PAGE 4096ull

/* what a page is, beside resident */
#define RES_ALLOCATOR 1u /* first touched in the allocator's memory (a block, the heap, its mappings) */
#define RES_FREEABLE 2u  /* advised MADV_FREE: the kernel may take it without a fault */

struct resident {
	uint64_t *slots;     /* 0: empty; else (page number + 1) | flags << 56 */
	uint64_t *touched;   /* the time of each slot's first touch */
	size_t cap, n;       /* cap: a power of two, or 0 */
	uint64_t pages_allocator, pages_freeable; /* of n */
};

/* The page of addr becomes resident (flags: RES_ALLOCATOR or 0). Returns
 * true when it was not already; false also when memory is out (counted by
 * the caller as a model limit). ts: the fault's time.
 *
 * Range changes carry their syscall's time and apply to the pages touched
 * before it: events of different threads reach the correlator out of
 * order (a thread's events wait for its call's return), so a munmap seen
 * late must not take pages another thread touched after it, in memory
 * mapped there again since. */
bool resident_touch(struct resident *r, uint64_t addr, unsigned flags, uint64_t ts);
/* The pages of [start, end) are gone. */
void resident_drop(struct resident *r, uint64_t start, uint64_t end, uint64_t ts);
/* The pages of [start, end) are freeable (MADV_FREE): still resident. */
void resident_mark_freeable(struct resident *r, uint64_t start, uint64_t end, uint64_t ts);
/* mremap: the pages of [old, old + old_len) are now at new (only the first
 * new_len bytes survive). */
void resident_move(struct resident *r, uint64_t old, uint64_t old_len, uint64_t new, uint64_t new_len, uint64_t ts);
/* Pages resident in [start, end), and of them, allocator pages. */
uint64_t resident_count(const struct resident *r, uint64_t start, uint64_t end, uint64_t *allocator);
/* Calls fn with every resident page's address and flags. */
void resident_for_each(const struct resident *r, void (*fn)(void *arg, uint64_t addr, unsigned flags), void *arg);
void resident_clear(struct resident *r);

#endif
