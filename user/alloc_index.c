/* alloc_index.c - owns the live-allocation index.
 *
 * An AVL tree keyed by block ptr. Each node also caches max_last, the highest
 * last byte (ptr + max(size,1) - 1, saturated) of any block in its subtree, so
 * a point lookup finds the owning block in O(log n) even when blocks overlap.
 * AVL height is at most ~1.44 log2(n), so the recursion is shallow (< 50 for
 * any n that fits in memory).
 *
 * Nodes come from chunks of growing size threaded on a freelist; a live
 * block's node never moves (removal relinks nodes instead of copying them),
 * so the struct alloc_block pointers handed out stay valid.
 */
#include "alloc_index.h"

#include <stdlib.h>
#include <string.h>

struct node {
	struct alloc_block b;
	struct node *left, *right;
	uint64_t max_last; /* highest last byte of any block in this subtree */
	int height;        /* 1 for a leaf */
};

struct chunk {
	struct chunk *next;
	struct node nodes[];
};

#define FIRST_CHUNK_NODES 64
#define MAX_CHUNK_NODES 65536

struct alloc_index {
	struct node *root;
	struct node *free_nodes; /* freelist, linked through ->left */
	struct chunk *chunks;
	size_t next_chunk_nodes;
	size_t count;
	uint64_t live_bytes;
	uint64_t header_bytes;
};

/* ---- node pool ---- */

static bool pool_grow(struct alloc_index *ix)
{
	size_t n = ix->next_chunk_nodes;
	struct chunk *c = malloc(sizeof(*c) + n * sizeof(struct node));

	if (!c)
		return false;
	c->next = ix->chunks;
	ix->chunks = c;
	for (size_t i = 0; i < n; i++) {
		c->nodes[i].left = ix->free_nodes;
		ix->free_nodes = &c->nodes[i];
	}
	if (n < MAX_CHUNK_NODES)
		ix->next_chunk_nodes = n * 2;
	return true;
}

static struct node *node_take(struct alloc_index *ix)
{
	struct node *n;

	if (!ix->free_nodes && !pool_grow(ix))
		return NULL;
	n = ix->free_nodes;
	ix->free_nodes = n->left;
	return n;
}

static void node_give_back(struct alloc_index *ix, struct node *n)
{
	n->left = ix->free_nodes;
	ix->free_nodes = n;
}

/* ---- AVL helpers ---- */

/* Last byte of the block proper (header excluded), saturated at UINT64_MAX. */
static uint64_t block_last(const struct alloc_block *b)
{
	uint64_t extra = b->size ? b->size - 1 : 0;

	return extra > UINT64_MAX - b->ptr ? UINT64_MAX : b->ptr + extra;
}

static bool block_covers(const struct alloc_block *b, uint64_t addr)
{
	return b->ptr <= addr && addr <= block_last(b);
}

static int height_of(const struct node *n)
{
	return n ? n->height : 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void node_update(struct node *n)
{
	int hl = height_of(n->left), hr = height_of(n->right);

	n->height = 1 + (hl > hr ? hl : hr);
	n->max_last = block_last(&n->b);
	if (n->left)
		n->max_last = max_u64(n->max_last, n->left->max_last);
	if (n->right)
		n->max_last = max_u64(n->max_last, n->right->max_last);
}

static struct node *rotate_right(struct node *n)
{
	struct node *l = n->left;

	n->left = l->right;
	l->right = n;
	node_update(n);
	node_update(l);
	return l;
}

static struct node *rotate_left(struct node *n)
{
	struct node *r = n->right;

	n->right = r->left;
	r->left = n;
	node_update(n);
	node_update(r);
	return r;
}

/* Recomputes n's cached data and restores the AVL property at n. */
static struct node *rebalance(struct node *n)
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

static void block_reset(struct alloc_block *b, uint64_t ptr, uint64_t size)
{
	memset(b, 0, sizeof(*b));
	b->ptr = ptr;
	b->size = size;
	b->note = UINT32_MAX;
}

/* Links fresh (ptr and size set) into the tree, or, if a node with the same
 * ptr exists, resets that node to fresh's size instead (while the ancestors
 * are still to be updated on the way back up). *placed gets the node that now
 * holds the block. */
static struct node *tree_insert(struct alloc_index *ix, struct node *n, struct node *fresh,
				struct node **placed)
{
	if (!n) {
		*placed = fresh;
		return fresh;
	}
	if (fresh->b.ptr < n->b.ptr) {
		n->left = tree_insert(ix, n->left, fresh, placed);
	} else if (fresh->b.ptr > n->b.ptr) {
		n->right = tree_insert(ix, n->right, fresh, placed);
	} else {
		/* the old block stops counting; the caller counts the new one */
		ix->live_bytes -= n->b.size;
		ix->count--;
		block_reset(&n->b, n->b.ptr, fresh->b.size);
		*placed = n;
	}
	return rebalance(n);
}

static struct node *tree_remove_min(struct node *n, struct node **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = tree_remove_min(n->left, min);
	return rebalance(n);
}

/* Returns the subtree that replaces n once n is unlinked. */
static struct node *tree_unlink(struct node *n)
{
	struct node *succ;

	if (!n->left)
		return n->right;
	if (!n->right)
		return n->left;
	n->right = tree_remove_min(n->right, &succ);
	succ->left = n->left;
	succ->right = n->right;
	return rebalance(succ);
}

static struct node *tree_remove(struct node *n, uint64_t ptr, struct node **gone)
{
	if (!n)
		return NULL;
	if (ptr < n->b.ptr) {
		n->left = tree_remove(n->left, ptr, gone);
	} else if (ptr > n->b.ptr) {
		n->right = tree_remove(n->right, ptr, gone);
	} else {
		*gone = n;
		return tree_unlink(n);
	}
	return rebalance(n);
}

/* In a subtree whose ptrs are all <= addr and whose max_last >= addr: the
 * node with the largest ptr that covers addr. */
static struct node *rightmost_covering(struct node *n, uint64_t addr)
{
	for (;;) {
		if (n->right && n->right->max_last >= addr)
			n = n->right;
		else if (block_covers(&n->b, addr))
			return n;
		else
			n = n->left;
	}
}

/* ---- public API ---- */

struct alloc_index *alloc_index_new(uint64_t header_bytes)
{
	struct alloc_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->header_bytes = header_bytes;
	ix->next_chunk_nodes = FIRST_CHUNK_NODES;
	return ix;
}

void alloc_index_free(struct alloc_index *ix)
{
	struct chunk *c, *next;

	if (!ix)
		return;
	for (c = ix->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(ix);
}

struct alloc_block *alloc_index_insert(struct alloc_index *ix, uint64_t ptr, uint64_t size)
{
	struct node *fresh = node_take(ix), *placed = NULL;

	if (!fresh)
		return NULL;
	block_reset(&fresh->b, ptr, size);
	fresh->left = fresh->right = NULL;
	fresh->height = 1;
	fresh->max_last = block_last(&fresh->b);
	ix->root = tree_insert(ix, ix->root, fresh, &placed);
	if (placed != fresh)
		node_give_back(ix, fresh);
	ix->count++;
	ix->live_bytes += size;
	return &placed->b;
}

bool alloc_index_remove(struct alloc_index *ix, uint64_t ptr, struct alloc_block *out)
{
	struct node *gone = NULL;

	ix->root = tree_remove(ix->root, ptr, &gone);
	if (!gone)
		return false;
	if (out)
		*out = gone->b;
	ix->count--;
	ix->live_bytes -= gone->b.size;
	node_give_back(ix, gone);
	return true;
}

struct alloc_block *alloc_index_get(struct alloc_index *ix, uint64_t ptr)
{
	struct node *n = ix->root;

	while (n && n->b.ptr != ptr)
		n = ptr < n->b.ptr ? n->left : n->right;
	return n ? &n->b : NULL;
}

struct alloc_block *alloc_index_find(struct alloc_index *ix, uint64_t addr)
{
	struct node *n = ix->root;
	struct node *hit = NULL;     /* best covering node seen on the path */
	struct node *hit_sub = NULL; /* or: best subtree known to hold one */
	struct node *succ = NULL;    /* smallest ptr > addr seen so far */

	while (n) {
		if (n->b.ptr == addr)
			return &n->b;
		if (n->b.ptr > addr) {
			succ = n;
			n = n->left;
			continue;
		}
		/* n and its left subtree lie at or below addr; whatever covers
		 * addr there beats anything found at ancestors. */
		if (block_covers(&n->b, addr)) {
			hit = n;
			hit_sub = NULL;
		} else if (n->left && n->left->max_last >= addr) {
			hit = NULL;
			hit_sub = n->left;
		}
		n = n->right;
	}
	if (hit)
		return &hit->b;
	if (hit_sub)
		return &rightmost_covering(hit_sub, addr)->b;
	if (succ && succ->b.ptr - addr <= ix->header_bytes)
		return &succ->b;
	return NULL;
}

size_t alloc_index_count(const struct alloc_index *ix)
{
	return ix->count;
}

uint64_t alloc_index_live_bytes(const struct alloc_index *ix)
{
	return ix->live_bytes;
}

static bool walk_in_order(struct node *n, bool (*fn)(struct alloc_block *b, void *arg), void *arg)
{
	if (!n)
		return true;
	return walk_in_order(n->left, fn, arg) && fn(&n->b, arg) &&
	       walk_in_order(n->right, fn, arg);
}

void alloc_index_foreach(struct alloc_index *ix, bool (*fn)(struct alloc_block *b, void *arg), void *arg)
{
	walk_in_order(ix->root, fn, arg);
}

/* ---- self-check (tests) ---- */

struct check_state {
	bool have_prev;
	uint64_t prev_ptr;
	size_t count;
	uint64_t bytes;
};

/* Returns the subtree height, or -1 if an invariant is broken. */
static int check_subtree(const struct node *n, struct check_state *st)
{
	int hl, hr;
	uint64_t want_max;

	if (!n)
		return 0;
	hl = check_subtree(n->left, st);
	if (hl < 0 || (st->have_prev && st->prev_ptr >= n->b.ptr))
		return -1;
	st->have_prev = true;
	st->prev_ptr = n->b.ptr;
	st->count++;
	st->bytes += n->b.size;
	hr = check_subtree(n->right, st);
	if (hr < 0 || hl - hr > 1 || hr - hl > 1)
		return -1;
	want_max = block_last(&n->b);
	if (n->left)
		want_max = max_u64(want_max, n->left->max_last);
	if (n->right)
		want_max = max_u64(want_max, n->right->max_last);
	if (n->height != 1 + (hl > hr ? hl : hr) || n->max_last != want_max)
		return -1;
	return n->height;
}

bool alloc_index_check(const struct alloc_index *ix)
{
	struct check_state st = { 0 };

	if (check_subtree(ix->root, &st) < 0)
		return false;
	return st.count == ix->count && st.bytes == ix->live_bytes;
}
