/* region_set.c - owns the set of disjoint address ranges.
 *
 * Representation: an AVL tree keyed by range start (starts are unique since
 * ranges are disjoint and non-empty). Each node caches the total bytes of its
 * subtree, which makes "bytes covered below x" - and so region_set_overlap -
 * O(log n). Ranges also have sorted ends, so the only range that can contain
 * addr is the one with the largest start <= addr.
 *
 * Total bytes always fit in uint64_t: ranges are disjoint inside [0, 2^64 - 1].
 * One malloc per range; one spare node is kept so remove can always split.
 */
#include "analyze/region_set.h"

#include <stdio.h>
#include <stdlib.h>

struct rnode {
	struct region r;
	struct rnode *left, *right;
	uint64_t bytes; /* total size of the ranges in this subtree */
	int height;     /* 1 for a leaf */
};

struct region_set {
	struct rnode *root;
	struct rnode *spare; /* reserve for splits when malloc fails; may be NULL */
	size_t count;
};

/* ---- AVL helpers ---- */

static int height_of(const struct rnode *n)
{
	return n ? n->height : 0;
}

static uint64_t bytes_of(const struct rnode *n)
{
	return n ? n->bytes : 0;
}

static uint64_t region_len(const struct region *r)
{
	return r->end - r->start;
}

static void node_update(struct rnode *n)
{
	int hl = height_of(n->left), hr = height_of(n->right);

	n->height = 1 + (hl > hr ? hl : hr);
	n->bytes = bytes_of(n->left) + region_len(&n->r) + bytes_of(n->right);
}

static struct rnode *rotate_right(struct rnode *n)
{
	struct rnode *l = n->left;

	n->left = l->right;
	l->right = n;
	node_update(n);
	node_update(l);
	return l;
}

static struct rnode *rotate_left(struct rnode *n)
{
	struct rnode *r = n->right;

	n->right = r->left;
	r->left = n;
	node_update(n);
	node_update(r);
	return r;
}

static struct rnode *rebalance(struct rnode *n)
{
	int balance;

	node_update(n);
	balance = height_of(n->left) - height_of(n->right);
	if (balance > 1) {
		if (height_of(n->left->left) < height_of(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (balance < -1) {
		if (height_of(n->right->right) < height_of(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

/* ---- tree operations ---- */

/* fresh's start must not be in the tree yet. */
static struct rnode *tree_insert(struct rnode *n, struct rnode *fresh)
{
	if (!n)
		return fresh;
	if (fresh->r.start < n->r.start)
		n->left = tree_insert(n->left, fresh);
	else
		n->right = tree_insert(n->right, fresh);
	return rebalance(n);
}

static struct rnode *tree_remove_min(struct rnode *n, struct rnode **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = tree_remove_min(n->left, min);
	return rebalance(n);
}

static struct rnode *tree_unlink(struct rnode *n)
{
	struct rnode *succ;

	if (!n->left)
		return n->right;
	if (!n->right)
		return n->left;
	n->right = tree_remove_min(n->right, &succ);
	succ->left = n->left;
	succ->right = n->right;
	return rebalance(succ);
}

/* Unlinks the node whose range starts at start (which must exist). */
static struct rnode *tree_remove(struct rnode *n, uint64_t start)
{
	if (start < n->r.start)
		n->left = tree_remove(n->left, start);
	else if (start > n->r.start)
		n->right = tree_remove(n->right, start);
	else
		return tree_unlink(n);
	return rebalance(n);
}

/* The range with the largest start < x, or NULL. */
static struct rnode *last_starting_before(struct rnode *n, uint64_t x)
{
	struct rnode *best = NULL;

	while (n) {
		if (n->r.start < x) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

/* Bytes of [0, x) covered by ranges. */
static uint64_t covered_below(const struct rnode *n, uint64_t x)
{
	const struct rnode *last = NULL;
	uint64_t sum = 0;

	while (n) {
		if (n->r.start < x) {
			sum += bytes_of(n->left) + region_len(&n->r);
			last = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	/* only the last range starting below x can reach past x */
	if (last && last->r.end > x)
		sum -= last->r.end - x;
	return sum;
}

/* ---- nodes ---- */

static bool ensure_spare(struct region_set *rs)
{
	if (!rs->spare)
		rs->spare = malloc(sizeof(*rs->spare));
	return rs->spare != NULL;
}

static struct rnode *node_for_split(struct region_set *rs)
{
	struct rnode *n = malloc(sizeof(*n));

	if (!n) {
		n = rs->spare;
		rs->spare = NULL;
	}
	if (!n) {
		fprintf(stderr, "region_set: out of memory splitting a range\n");
		abort();
	}
	return n;
}

static void link_range(struct region_set *rs, struct rnode *n, uint64_t start, uint64_t end,
		       uint64_t tag)
{
	*n = (struct rnode){ .r = { start, end, tag }, .height = 1, .bytes = end - start };
	rs->root = tree_insert(rs->root, n);
	rs->count++;
}

/* n (already unlinked) overlapped [start,end): puts back what lies outside. */
static void keep_outside(struct region_set *rs, struct rnode *n, uint64_t start, uint64_t end)
{
	struct region old = n->r;

	if (old.start < start && old.end > end) {
		link_range(rs, node_for_split(rs), end, old.end, old.tag);
		link_range(rs, n, old.start, start, old.tag);
	} else if (old.start < start) {
		link_range(rs, n, old.start, start, old.tag);
	} else if (old.end > end) {
		link_range(rs, n, end, old.end, old.tag);
	} else {
		free(n);
	}
}

static void free_subtree(struct rnode *n)
{
	while (n) {
		struct rnode *right = n->right;

		free_subtree(n->left);
		free(n);
		n = right;
	}
}

/* ---- public API ---- */

struct region_set *region_set_new(void)
{
	struct region_set *rs = calloc(1, sizeof(*rs));

	if (rs && !ensure_spare(rs)) {
		free(rs);
		return NULL;
	}
	return rs;
}

void region_set_free(struct region_set *rs)
{
	if (!rs)
		return;
	free_subtree(rs->root);
	free(rs->spare);
	free(rs);
}

int region_set_add(struct region_set *rs, uint64_t start, uint64_t end, uint64_t tag)
{
	struct rnode *n;

	if (start >= end)
		return 0;
	if (!ensure_spare(rs))
		return -1;
	n = malloc(sizeof(*n));
	if (!n)
		return -1;
	region_set_remove(rs, start, end);
	link_range(rs, n, start, end, tag);
	return 0;
}

uint64_t region_set_remove(struct region_set *rs, uint64_t start, uint64_t end)
{
	uint64_t removed = 0;
	struct rnode *n;

	if (start >= end)
		return 0;
	/* Ends are sorted like starts, so the last range starting before end
	 * overlaps [start,end) iff it ends after start. */
	while ((n = last_starting_before(rs->root, end)) && n->r.end > start) {
		uint64_t lo = n->r.start > start ? n->r.start : start;
		uint64_t hi = n->r.end < end ? n->r.end : end;

		removed += hi - lo;
		rs->root = tree_remove(rs->root, n->r.start);
		rs->count--;
		keep_outside(rs, n, start, end);
	}
	return removed;
}

const struct region *region_set_find(const struct region_set *rs, uint64_t addr)
{
	const struct rnode *n = rs->root, *best = NULL;

	while (n) {
		if (n->r.start <= addr) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best && addr < best->r.end ? &best->r : NULL;
}

uint64_t region_set_overlap(const struct region_set *rs, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	return covered_below(rs->root, end) - covered_below(rs->root, start);
}

uint64_t region_set_bytes(const struct region_set *rs)
{
	return bytes_of(rs->root);
}

size_t region_set_count(const struct region_set *rs)
{
	return rs->count;
}

/* ---- self-check (tests) ---- */

struct check_state {
	const struct region *prev;
	size_t count;
};

/* Returns the subtree height, or -1 if an invariant is broken. */
static int check_subtree(const struct rnode *n, struct check_state *st)
{
	int hl, hr;

	if (!n)
		return 0;
	hl = check_subtree(n->left, st);
	if (hl < 0 || n->r.start >= n->r.end || (st->prev && st->prev->end > n->r.start))
		return -1;
	st->prev = &n->r;
	st->count++;
	hr = check_subtree(n->right, st);
	if (hr < 0 || hl - hr > 1 || hr - hl > 1)
		return -1;
	if (n->height != 1 + (hl > hr ? hl : hr) ||
	    n->bytes != bytes_of(n->left) + region_len(&n->r) + bytes_of(n->right))
		return -1;
	return n->height;
}

bool region_set_check(const struct region_set *rs)
{
	struct check_state st = { 0 };

	return check_subtree(rs->root, &st) >= 0 && st.count == rs->count;
}
