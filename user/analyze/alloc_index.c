/* alloc_index.c - owns the live-allocation index.
 *
 * A B+-tree keyed by block ptr (FANOUT entries per node, all leaves at the
 * same depth, nodes at least half full except the root), so a lookup among
 * millions of blocks touches ~5 nodes instead of ~25 for a binary tree: on
 * random addresses it is bound by cache misses, and this is what keeps it
 * well below a microsecond per operation.
 *
 * Every node entry i holds key[i] (a lower bound of the ptrs under it, the
 * ptr itself in a leaf), last[i] (the highest last byte, ptr + max(size,1) - 1
 * saturated, of any block under it) and a child or block pointer. The last[]
 * values let "which block owns addr" find a covering block in O(log n) even
 * when blocks overlap (a stale block whose free was missed).
 *
 * Blocks live in a chunked pool threaded on a freelist, apart from the tree,
 * so a struct alloc_block never moves while it is live.
 *
 * A lookup by exact ptr keeps the path it took; removing that same block
 * next (a free: looked up at the call, removed when it ends) reuses it.
 */
#include "analyze/alloc_index.h"

#include <stdlib.h>
#include <string.h>

#define FANOUT 32
#define MIN_FILL (FANOUT / 2)
#define MAX_LEVELS 24 /* height <= log_MIN_FILL(2^64) + 1 = 17 */

union entry_ref {
	struct alloc_block *blk; /* in a leaf */
	struct bnode *child;     /* in an inner node */
};

struct bnode {
	unsigned n;
	struct bnode *next; /* next node at the same level, in address order */
	uint64_t key[FANOUT];
	uint64_t last[FANOUT];
	union entry_ref ref[FANOUT];
};

/* The nodes from the root down to a leaf entry: node[level] and its entry
 * at[level], the leaf at level 0. */
struct path {
	struct bnode *node[MAX_LEVELS + 1];
	unsigned at[MAX_LEVELS + 1];
};

/* A pool slot: a block and its caller's area, or (free) the next free slot. */
struct chunk {
	struct chunk *next;
	_Alignas(16) unsigned char slots[];
};

#define FIRST_CHUNK_BLOCKS 64
#define MAX_CHUNK_BLOCKS 65536

struct alloc_index {
	struct bnode *root; /* never NULL; a leaf when height == 0 */
	unsigned height;    /* inner levels above the leaves */
	struct alloc_index_totals totals;
	uint64_t header_bytes;
	/* block pool: slots of slot_size bytes (the block, then extra_bytes of the caller's) */
	void *free_blocks;
	size_t slot_size, extra_bytes;
	struct chunk *chunks;
	size_t next_chunk_blocks;
	/* spare nodes, topped up before an insert so splits cannot fail */
	struct bnode *spare[MAX_LEVELS + 2];
	unsigned nspare;
	/* The path to the block the last alloc_index_get found, still right
	 * while no insert or remove came since (found_stamp == changes): removing
	 * that block, as a free does after looking it up, skips the descent. */
	uint64_t changes; /* inserts and removes so far, from 1 */
	uint64_t found_stamp, found_ptr;
	struct path found;
};

/* ---- block pool ---- */

static bool pool_grow(struct alloc_index *ix)
{
	size_t n = ix->next_chunk_blocks;
	struct chunk *c = malloc(sizeof(*c) + n * ix->slot_size);

	if (!c)
		return false;
	c->next = ix->chunks;
	ix->chunks = c;
	for (size_t i = n; i-- > 0;) {
		void *slot = c->slots + i * ix->slot_size;

		*(void **)slot = ix->free_blocks;
		ix->free_blocks = slot;
	}
	if (n < MAX_CHUNK_BLOCKS)
		ix->next_chunk_blocks = n * 2;
	return true;
}

static struct alloc_block *block_take(struct alloc_index *ix)
{
	void *s;

	if (!ix->free_blocks && !pool_grow(ix))
		return NULL;
	s = ix->free_blocks;
	ix->free_blocks = *(void **)s;
	return s;
}

static void block_give_back(struct alloc_index *ix, struct alloc_block *b)
{
	*(void **)b = ix->free_blocks;
	ix->free_blocks = b;
}

static void block_reset(const struct alloc_index *ix, struct alloc_block *b, uint64_t ptr, uint64_t size)
{
	memset(b, 0, sizeof(*b) + ix->extra_bytes);
	b->ptr = ptr;
	b->size = size;
}

/* Last byte of the block proper (header excluded), saturated at UINT64_MAX. */
static uint64_t block_last(const struct alloc_block *b)
{
	uint64_t extra = b->size ? b->size - 1 : 0;

	return extra > UINT64_MAX - b->ptr ? UINT64_MAX : b->ptr + extra;
}

/* ---- spare nodes ---- */

static bool spares_top_up(struct alloc_index *ix)
{
	unsigned want = ix->height + 2; /* one split per level plus a new root */

	while (ix->nspare < want) {
		struct bnode *nd = malloc(sizeof(*nd));

		if (!nd)
			return false;
		ix->spare[ix->nspare++] = nd;
	}
	return true;
}

static struct bnode *node_take(struct alloc_index *ix)
{
	struct bnode *nd = ix->spare[--ix->nspare];

	nd->n = 0;
	nd->next = NULL;
	return nd;
}

static void node_give_back(struct alloc_index *ix, struct bnode *nd)
{
	if (ix->nspare < MAX_LEVELS + 2)
		ix->spare[ix->nspare++] = nd;
	else
		free(nd);
}

/* ---- node entries ---- */

/* Number of entries whose key is <= k. Branch-free (a conditional move per
 * step): on scattered addresses the branches of a plain binary search are
 * mispredicted half the time. Entries before lo are <= k; entries from
 * lo + len on are > k. */
static unsigned upper_bound(const struct bnode *nd, uint64_t k)
{
	unsigned lo = 0, len = nd->n;

	if (len == 0)
		return 0;
	while (len > 1) {
		unsigned half = len / 2;

		lo = nd->key[lo + half] <= k ? lo + half : lo;
		len -= half;
	}
	return lo + (nd->key[lo] <= k);
}

/* The entry of an inner node whose subtree would hold k. */
static unsigned route(const struct bnode *nd, uint64_t k)
{
	unsigned i = upper_bound(nd, k);

	return i ? i - 1 : 0;
}

static uint64_t node_max_last(const struct bnode *nd)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < nd->n; i++)
		if (nd->last[i] > m)
			m = nd->last[i];
	return m;
}

/* The rightmost entry before `before` whose last >= addr, or -1. */
static int rightmost_reaching(const struct bnode *nd, unsigned before, uint64_t addr)
{
	for (unsigned i = before; i-- > 0;)
		if (nd->last[i] >= addr)
			return (int)i;
	return -1;
}

/* Copies entries between two different nodes (splits and merges). */
static void entries_copy(struct bnode *dst, unsigned dst_at, const struct bnode *src,
			 unsigned src_at, unsigned count)
{
	memcpy(&dst->key[dst_at], &src->key[src_at], count * sizeof(dst->key[0]));
	memcpy(&dst->last[dst_at], &src->last[src_at], count * sizeof(dst->last[0]));
	memcpy(&dst->ref[dst_at], &src->ref[src_at], count * sizeof(dst->ref[0]));
}

/* Hides i's range from the compiler, which would otherwise turn a shifting
 * loop back into three memmove calls: too costly for the few entries moved. */
#define OPAQUE(i) __asm__("" : "+r"(i))

/* Inserts an entry at `at` into a node with room. */
static void entry_insert(struct bnode *nd, unsigned at, uint64_t key, uint64_t last,
			 union entry_ref ref)
{
	for (unsigned i = nd->n; i > at; i--) {
		OPAQUE(i);
		nd->key[i] = nd->key[i - 1];
		nd->last[i] = nd->last[i - 1];
		nd->ref[i] = nd->ref[i - 1];
	}
	nd->key[at] = key;
	nd->last[at] = last;
	nd->ref[at] = ref;
	nd->n++;
}

static void entry_remove(struct bnode *nd, unsigned at)
{
	nd->n--;
	for (unsigned i = at; i < nd->n; i++) {
		OPAQUE(i);
		nd->key[i] = nd->key[i + 1];
		nd->last[i] = nd->last[i + 1];
		nd->ref[i] = nd->ref[i + 1];
	}
}

/* Inserts an entry, splitting nd if it is full. Returns the new right
 * sibling (first key = its separator) or NULL. */
static struct bnode *entry_insert_or_split(struct alloc_index *ix, struct bnode *nd, unsigned at,
					   uint64_t key, uint64_t last, union entry_ref ref)
{
	struct bnode *right;

	if (nd->n < FANOUT) {
		entry_insert(nd, at, key, last, ref);
		return NULL;
	}
	right = node_take(ix);
	entries_copy(right, 0, nd, MIN_FILL, FANOUT - MIN_FILL);
	right->n = FANOUT - MIN_FILL;
	nd->n = MIN_FILL;
	right->next = nd->next;
	nd->next = right;
	if (at <= MIN_FILL)
		entry_insert(nd, at, key, last, ref);
	else
		entry_insert(right, at - MIN_FILL, key, last, ref);
	return right;
}

/* ---- insert ---- */

struct insert_op {
	struct alloc_block *fresh;  /* ptr and size set */
	struct alloc_block *placed; /* the block now holding ptr */
	uint64_t last;
	bool replaced;              /* an existing block was reused */
};

static struct bnode *leaf_insert(struct alloc_index *ix, struct bnode *leaf, struct insert_op *op)
{
	uint64_t ptr = op->fresh->ptr;
	unsigned i = upper_bound(leaf, ptr);

	if (i > 0 && leaf->key[i - 1] == ptr) {
		struct alloc_block *old = leaf->ref[i - 1].blk;

		/* the old block stops counting; the caller counts the new one */
		ix->totals.live_bytes -= old->size;
		ix->totals.count--;
		block_reset(ix, old, ptr, op->fresh->size);
		leaf->last[i - 1] = op->last;
		op->placed = old;
		op->replaced = true;
		return NULL;
	}
	op->placed = op->fresh;
	return entry_insert_or_split(ix, leaf, i, ptr, op->last, (union entry_ref){ .blk = op->fresh });
}

static struct bnode *insert_below(struct alloc_index *ix, struct bnode *nd, unsigned level,
				  struct insert_op *op)
{
	uint64_t ptr = op->fresh->ptr;
	unsigned i;
	struct bnode *child, *split;

	if (level == 0)
		return leaf_insert(ix, nd, op);
	i = route(nd, ptr);
	if (ptr < nd->key[i]) /* new smallest key under entry 0 */
		nd->key[i] = ptr;
	child = nd->ref[i].child;
	split = insert_below(ix, child, level - 1, op);
	if (split || op->replaced)
		nd->last[i] = node_max_last(child);
	else if (op->last > nd->last[i])
		nd->last[i] = op->last;
	if (!split)
		return NULL;
	return entry_insert_or_split(ix, nd, i + 1, split->key[0], node_max_last(split),
				     (union entry_ref){ .child = split });
}

static void grow_root(struct alloc_index *ix, struct bnode *split)
{
	struct bnode *old = ix->root, *root = node_take(ix);

	entry_insert(root, 0, old->key[0], node_max_last(old), (union entry_ref){ .child = old });
	entry_insert(root, 1, split->key[0], node_max_last(split), (union entry_ref){ .child = split });
	ix->root = root;
	ix->height++;
}

/* ---- remove ---- */

static void borrow_from_left(struct bnode *parent, unsigned i)
{
	struct bnode *left = parent->ref[i - 1].child, *nd = parent->ref[i].child;
	unsigned from = left->n - 1;

	entry_insert(nd, 0, left->key[from], left->last[from], left->ref[from]);
	entry_remove(left, from);
	parent->key[i] = nd->key[0];
	parent->last[i - 1] = node_max_last(left);
	parent->last[i] = node_max_last(nd);
}

static void borrow_from_right(struct bnode *parent, unsigned i)
{
	struct bnode *nd = parent->ref[i].child, *right = parent->ref[i + 1].child;

	entry_insert(nd, nd->n, right->key[0], right->last[0], right->ref[0]);
	entry_remove(right, 0);
	parent->key[i + 1] = right->key[0];
	parent->last[i] = node_max_last(nd);
	parent->last[i + 1] = node_max_last(right);
}

/* Moves the entries of child i+1 into child i and drops child i+1. */
static void merge_with_next(struct alloc_index *ix, struct bnode *parent, unsigned i)
{
	struct bnode *left = parent->ref[i].child, *right = parent->ref[i + 1].child;

	entries_copy(left, left->n, right, 0, right->n);
	left->n += right->n;
	left->next = right->next;
	node_give_back(ix, right);
	entry_remove(parent, i + 1);
	parent->last[i] = node_max_last(left);
}

/* Child i of parent has fallen below MIN_FILL entries. */
static void fix_underflow(struct alloc_index *ix, struct bnode *parent, unsigned i)
{
	if (i > 0 && parent->ref[i - 1].child->n > MIN_FILL)
		borrow_from_left(parent, i);
	else if (i + 1 < parent->n && parent->ref[i + 1].child->n > MIN_FILL)
		borrow_from_right(parent, i);
	else if (i > 0)
		merge_with_next(ix, parent, i - 1);
	else if (i + 1 < parent->n)
		merge_with_next(ix, parent, i);
}

/* Unlinks the block at the end of path; then, bottom up, each ancestor's
 * last[] and its child's fill are put right. Returns the block. */
static struct alloc_block *remove_at(struct alloc_index *ix, const struct path *path)
{
	struct alloc_block *gone = path->node[0]->ref[path->at[0]].blk;
	uint64_t gone_last = block_last(gone);

	entry_remove(path->node[0], path->at[0]);
	for (unsigned level = 1; level <= ix->height; level++) {
		struct bnode *nd = path->node[level], *child = path->node[level - 1];
		unsigned i = path->at[level];

		if (gone_last >= nd->last[i])
			nd->last[i] = node_max_last(child);
		if (child->n < MIN_FILL)
			fix_underflow(ix, nd, i);
	}
	return gone;
}

static void shrink_root(struct alloc_index *ix)
{
	while (ix->height > 0 && ix->root->n == 1) {
		struct bnode *old = ix->root;

		ix->root = old->ref[0].child;
		ix->height--;
		node_give_back(ix, old);
	}
}

/* ---- exact lookup ---- */

/* Fills path toward ptr. True if the leaf reached holds ptr; path->at[0] is
 * then its entry. */
static bool descend(const struct alloc_index *ix, uint64_t ptr, struct path *path)
{
	struct bnode *nd = ix->root;
	unsigned i;

	for (unsigned level = ix->height; level > 0; level--) {
		path->node[level] = nd;
		path->at[level] = route(nd, ptr);
		nd = nd->ref[path->at[level]].child;
	}
	path->node[0] = nd;
	i = upper_bound(nd, ptr);
	if (i == 0 || nd->key[i - 1] != ptr)
		return false;
	path->at[0] = i - 1;
	return true;
}

/* ---- find ---- */

/* In a subtree whose ptrs are all <= addr and whose max last >= addr: the
 * block with the largest ptr that covers addr. */
static struct alloc_block *rightmost_covering(const struct bnode *nd, unsigned level, uint64_t addr)
{
	for (; level > 0; level--)
		nd = nd->ref[rightmost_reaching(nd, nd->n, addr)].child;
	return nd->ref[rightmost_reaching(nd, nd->n, addr)].blk;
}

/* The block with the smallest ptr > addr if addr is in its header. `at` is
 * the first entry of leaf with key > addr (may be past the end). */
static struct alloc_block *header_owner(const struct alloc_index *ix, const struct bnode *leaf,
					unsigned at, uint64_t addr)
{
	if (at == leaf->n) {
		leaf = leaf->next;
		at = 0;
	}
	if (!leaf || leaf->key[at] - addr > ix->header_bytes)
		return NULL;
	return leaf->ref[at].blk;
}

/* ---- public API ---- */

struct alloc_index *alloc_index_new(uint64_t header_bytes, size_t extra_bytes)
{
	struct alloc_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->root = calloc(1, sizeof(*ix->root));
	if (!ix->root) {
		free(ix);
		return NULL;
	}
	ix->header_bytes = header_bytes;
	ix->extra_bytes = (extra_bytes + 7) & ~(size_t)7;
	ix->slot_size = (sizeof(struct alloc_block) + ix->extra_bytes + 15) & ~(size_t)15;
	ix->next_chunk_blocks = FIRST_CHUNK_BLOCKS;
	ix->changes = 1; /* found_stamp == 0: no path found yet */
	return ix;
}

static void free_nodes(struct bnode *nd, unsigned level)
{
	if (level > 0)
		for (unsigned i = 0; i < nd->n; i++)
			free_nodes(nd->ref[i].child, level - 1);
	free(nd);
}

void alloc_index_free(struct alloc_index *ix)
{
	struct chunk *c, *next;

	if (!ix)
		return;
	free_nodes(ix->root, ix->height);
	while (ix->nspare > 0)
		free(ix->spare[--ix->nspare]);
	for (c = ix->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(ix);
}

struct alloc_block *alloc_index_insert(struct alloc_index *ix, uint64_t ptr, uint64_t size)
{
	struct insert_op op = { 0 };
	struct bnode *split;

	if (!spares_top_up(ix) || !(op.fresh = block_take(ix)))
		return NULL;
	block_reset(ix, op.fresh, ptr, size);
	op.last = block_last(op.fresh);
	split = insert_below(ix, ix->root, ix->height, &op);
	if (split)
		grow_root(ix, split);
	if (op.replaced)
		block_give_back(ix, op.fresh);
	ix->totals.count++;
	ix->totals.live_bytes += size;
	ix->changes++;
	return op.placed;
}

bool alloc_index_remove(struct alloc_index *ix, uint64_t ptr, struct alloc_block *out)
{
	struct path here, *path = &ix->found;
	struct alloc_block *gone;

	if (ix->found_stamp != ix->changes || ix->found_ptr != ptr) {
		path = &here;
		if (!descend(ix, ptr, path))
			return false;
	}
	gone = remove_at(ix, path);
	ix->changes++;
	shrink_root(ix);
	if (out)
		*out = *gone;
	ix->totals.count--;
	ix->totals.live_bytes -= gone->size;
	block_give_back(ix, gone);
	return true;
}

struct alloc_block *alloc_index_get(struct alloc_index *ix, uint64_t ptr)
{
	ix->found_stamp = 0; /* the path is being overwritten */
	if (!descend(ix, ptr, &ix->found))
		return NULL;
	ix->found_stamp = ix->changes;
	ix->found_ptr = ptr;
	return ix->found.node[0]->ref[ix->found.at[0]].blk;
}

struct alloc_block *alloc_index_find(struct alloc_index *ix, uint64_t addr)
{
	const struct bnode *path[MAX_LEVELS + 1], *nd = ix->root;
	unsigned path_at[MAX_LEVELS + 1], level, at;
	int hit;

	for (level = ix->height; level > 0; level--) {
		path[level] = nd;
		path_at[level] = route(nd, addr);
		nd = nd->ref[path_at[level]].child;
	}
	/* Blocks with ptr <= addr, right to left: the leaf, then the entries
	 * left of the path, lowest level first. */
	at = upper_bound(nd, addr);
	hit = rightmost_reaching(nd, at, addr);
	if (hit >= 0)
		return nd->ref[hit].blk;
	for (level = 1; level <= ix->height; level++) {
		hit = rightmost_reaching(path[level], path_at[level], addr);
		if (hit >= 0)
			return rightmost_covering(path[level]->ref[hit].child, level - 1, addr);
	}
	return header_owner(ix, nd, at, addr);
}

size_t alloc_index_count(const struct alloc_index *ix)
{
	return ix->totals.count;
}

uint64_t alloc_index_live_bytes(const struct alloc_index *ix)
{
	return ix->totals.live_bytes;
}

const struct alloc_index_totals *alloc_index_totals(const struct alloc_index *ix)
{
	return &ix->totals;
}

void alloc_index_foreach(struct alloc_index *ix, bool (*fn)(struct alloc_block *b, void *arg), void *arg)
{
	const struct bnode *leaf = ix->root;

	for (unsigned level = ix->height; level > 0; level--)
		leaf = leaf->ref[0].child;
	for (; leaf; leaf = leaf->next)
		for (unsigned i = 0; i < leaf->n; i++)
			if (!fn(leaf->ref[i].blk, arg))
				return;
}

/* ---- self-check (tests) ---- */

struct check_state {
	const struct bnode *prev_at_level[MAX_LEVELS + 1];
	size_t count;
	uint64_t bytes;
};

struct key_bounds {
	uint64_t lo, hi; /* keys in [lo, hi], or [lo, hi) if hi_open */
	bool hi_open;
};

static bool key_in(const struct key_bounds *kb, uint64_t k)
{
	return k >= kb->lo && (kb->hi_open ? k < kb->hi : k <= kb->hi);
}

static bool check_leaf_entry(const struct bnode *nd, unsigned i, struct check_state *st)
{
	const struct alloc_block *b = nd->ref[i].blk;

	st->count++;
	st->bytes += b->size;
	return b->ptr == nd->key[i] && block_last(b) == nd->last[i];
}

static bool check_node(const struct bnode *nd, unsigned level, bool is_root, struct key_bounds kb,
		       struct check_state *st)
{
	unsigned min = is_root ? (level > 0 ? 2 : 0) : MIN_FILL;

	if (nd->n < min || nd->n > FANOUT)
		return false;
	if (st->prev_at_level[level] && st->prev_at_level[level]->next != nd)
		return false;
	st->prev_at_level[level] = nd;
	for (unsigned i = 0; i < nd->n; i++) {
		struct key_bounds sub = { nd->key[i], kb.hi, kb.hi_open };

		if (!key_in(&kb, nd->key[i]) || (i > 0 && nd->key[i - 1] >= nd->key[i]))
			return false;
		if (level == 0) {
			if (!check_leaf_entry(nd, i, st))
				return false;
			continue;
		}
		if (i + 1 < nd->n)
			sub = (struct key_bounds){ nd->key[i], nd->key[i + 1], true };
		if (!check_node(nd->ref[i].child, level - 1, false, sub, st) ||
		    nd->last[i] != node_max_last(nd->ref[i].child))
			return false;
	}
	return true;
}

bool alloc_index_check(const struct alloc_index *ix)
{
	struct check_state st = { 0 };
	struct key_bounds all = { 0, UINT64_MAX, false };

	if (ix->height > MAX_LEVELS || !check_node(ix->root, ix->height, true, all, &st))
		return false;
	for (unsigned level = 0; level <= ix->height; level++)
		if (st.prev_at_level[level] && st.prev_at_level[level]->next)
			return false;
	return st.count == ix->totals.count && st.bytes == ix->totals.live_bytes;
}
