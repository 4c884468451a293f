/* alloc_index.h - the live-allocation index: the blocks a traced process has
 * live, ordered by address, with O(log n) insert/remove/get and "which block
 * owns this address". Not thread-safe; one index per traced process.
 */
#ifndef ALLOC_INDEX_H
#define ALLOC_INDEX_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct alloc_block {
	uint64_t ptr;     /* address returned by the allocator */
	uint64_t size;    /* bytes requested */
	uint64_t seq;     /* id of the call that returned it (set by caller) */
	uint64_t ts;      /* time it was returned (set by caller) */
	uint32_t tid;     /* thread that allocated it (set by caller) */
	uint32_t faults;  /* first-touch faults attributed to it so far (caller increments) */
	uint8_t func;     /* allocator function (set by caller) */
	/* followed by the index's extra_bytes, the caller's (alloc_block_extra) */
};

/* The caller's area of a block (extra_bytes, 8-byte aligned, zeroed at insert). */
static inline void *alloc_block_extra(struct alloc_block *b)
{
	return b + 1;
}

struct alloc_index;

/* header_bytes: bytes before ptr that also belong to the block (an allocator's
 * chunk header, 16 for glibc); 0 allowed. extra_bytes: the caller's own data
 * kept with each block (alloc_block_extra), so that what other modules know
 * of a block lives with it without a field here for each. NULL on out of
 * memory. */
struct alloc_index *alloc_index_new(uint64_t header_bytes, size_t extra_bytes);
void alloc_index_free(struct alloc_index *ix);

/* Inserts a block at ptr (replacing any block with the same ptr, whose size is
 * then no longer counted). Returns the block so the caller can fill the other
 * fields (ptr and size set; others and the extra area zeroed). NULL only on
 * out of memory. The returned pointer stays valid until that block is removed
 * or the index is freed (other inserts/removes do not move it). */
struct alloc_block *alloc_index_insert(struct alloc_index *ix, uint64_t ptr, uint64_t size);

/* Removes the block at exactly ptr; copies it to *out if out != NULL.
 * Returns false if there is none. */
bool alloc_index_remove(struct alloc_index *ix, uint64_t ptr, struct alloc_block *out);

/* The block at exactly ptr, or NULL. */
struct alloc_block *alloc_index_get(struct alloc_index *ix, uint64_t ptr);

/* The block that owns addr: one whose [ptr - header_bytes, ptr + max(size,1))
 * contains addr (clamped to [0, 2^64)). When several do, the block with the
 * largest ptr <= addr wins; failing that, the block with the smallest
 * ptr > addr (addr in its header). NULL if none. Overlapping blocks (e.g. a
 * stale block whose free was missed) are handled, still in O(log n). */
struct alloc_block *alloc_index_find(struct alloc_index *ix, uint64_t addr);

size_t alloc_index_count(const struct alloc_index *ix);
uint64_t alloc_index_live_bytes(const struct alloc_index *ix); /* sum of sizes (mod 2^64) */

/* The same two numbers, kept up to date in place by every insert and remove:
 * a caller that reads them on every change keeps this pointer (valid until
 * the index is freed) instead of calling the getters. */
struct alloc_index_totals {
	size_t count;
	uint64_t live_bytes;
};
const struct alloc_index_totals *alloc_index_totals(const struct alloc_index *ix);

/* Calls fn for every block in address order (used at the end of a trace);
 * stops early if fn returns false. fn may change the non-key fields of the
 * block (seq, ts, tid, faults, func, the extra area) but must not insert or remove. */
void alloc_index_foreach(struct alloc_index *ix, bool (*fn)(struct alloc_block *b, void *arg), void *arg);

/* For tests: checks the tree's ordering, balance, cached subtree data, count
 * and live bytes. Returns true if all hold. O(n). */
bool alloc_index_check(const struct alloc_index *ix);

#endif /* ALLOC_INDEX_H */
