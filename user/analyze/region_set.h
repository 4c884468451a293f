/* region_set.h - a set of disjoint address ranges [start, end), each with a
 * tag (the id of the call that created it): the allocator's mmap'd regions
 * and similar. Add replaces any overlap; remove may split a range. All
 * operations are O(log n), add/remove O((k + 1) log n) for k ranges touched.
 * Not thread-safe.
 */
#ifndef REGION_SET_H
#define REGION_SET_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct region {
	uint64_t start, end, tag;
};

struct region_set;

struct region_set *region_set_new(void); /* NULL on out of memory */
void region_set_free(struct region_set *rs);

/* Adds [start,end) with tag, first removing any overlap with existing ranges
 * (nothing is merged). 0, or -1 on out of memory (set unchanged).
 * start >= end is a no-op returning 0. */
int region_set_add(struct region_set *rs, uint64_t start, uint64_t end, uint64_t tag);

/* Removes [start,end) from every range it overlaps (splitting as needed).
 * Returns the number of bytes removed. A split needs memory; the set keeps a
 * reserved node for that (refilled by region_set_add), and aborts only if
 * both malloc and the reserve fail. */
uint64_t region_set_remove(struct region_set *rs, uint64_t start, uint64_t end);

/* The range containing addr, or NULL (pointer valid until the next modification). */
const struct region *region_set_find(const struct region_set *rs, uint64_t addr);

/* Bytes in [start,end) covered by ranges. O(log n). */
uint64_t region_set_overlap(const struct region_set *rs, uint64_t start, uint64_t end);

uint64_t region_set_bytes(const struct region_set *rs); /* total size of all ranges */
size_t region_set_count(const struct region_set *rs);

/* For tests: checks ordering, disjointness, balance, cached sums and count. O(n). */
bool region_set_check(const struct region_set *rs);

#endif /* REGION_SET_H */
