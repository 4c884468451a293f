/* test_alloc_index.c - unit tests for user/alloc_index.c: the basic
 * operations, header/tail ownership rules, edge addresses, and a randomized
 * comparison against a brute-force model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "analyze/alloc_index.h"

static void test_insert_get_remove(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 12);
	struct alloc_block *b, out;

	(void)state;
	assert_non_null(ix);
	b = alloc_index_insert(ix, 0x1000, 32);
	assert_non_null(b);
	assert_int_equal(b->ptr, 0x1000);
	assert_int_equal(b->size, 32);
	assert_int_equal(b->seq, 0);
	assert_int_equal(b->ts, 0);
	assert_int_equal(b->tid, 0);
	assert_int_equal(b->faults, 0);
	assert_int_equal(b->func, 0);
	for (int i = 0; i < 12; i++) /* the caller's area, zeroed */
		assert_int_equal(((unsigned char *)alloc_block_extra(b))[i], 0);
	memset(alloc_block_extra(b), 0xff, 12);
	b->seq = 7;
	b->tid = 42;
	assert_non_null(alloc_index_insert(ix, 0x3000, 100));
	assert_non_null(alloc_index_insert(ix, 0x2000, 8));
	assert_int_equal(alloc_index_count(ix), 3);
	assert_int_equal(alloc_index_live_bytes(ix), 140);

	assert_ptr_equal(alloc_index_get(ix, 0x1000), b);
	assert_int_equal(alloc_index_get(ix, 0x2000)->size, 8);
	assert_null(alloc_index_get(ix, 0x1001));
	assert_null(alloc_index_get(ix, 0));

	assert_true(alloc_index_remove(ix, 0x1000, &out));
	assert_int_equal(out.ptr, 0x1000);
	assert_int_equal(out.size, 32);
	assert_int_equal(out.seq, 7);
	assert_int_equal(out.tid, 42);
	assert_false(alloc_index_remove(ix, 0x1000, &out));
	assert_null(alloc_index_get(ix, 0x1000));
	assert_true(alloc_index_remove(ix, 0x3000, NULL));
	assert_int_equal(alloc_index_count(ix), 1);
	assert_int_equal(alloc_index_live_bytes(ix), 8);
	assert_true(alloc_index_check(ix));
	alloc_index_free(ix);
}

static void test_find_with_header(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 0);
	struct alloc_block *a, *b, *c;

	(void)state;
	a = alloc_index_insert(ix, 0x1010, 0x28); /* [0x1000, 0x1038) */
	b = alloc_index_insert(ix, 0x1040, 0x18); /* [0x1030, 0x1058) */
	c = alloc_index_insert(ix, 0x2000, 8);    /* [0x1ff0, 0x2008) */
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);

	assert_ptr_equal(alloc_index_find(ix, 0x1000), a); /* a's header */
	assert_ptr_equal(alloc_index_find(ix, 0x100f), a);
	assert_ptr_equal(alloc_index_find(ix, 0x1010), a);
	assert_null(alloc_index_find(ix, 0xfff));
	/* a's tail overlaps b's header: a wins */
	assert_ptr_equal(alloc_index_find(ix, 0x1030), a);
	assert_ptr_equal(alloc_index_find(ix, 0x1037), a);
	/* past a's tail, still b's header */
	assert_ptr_equal(alloc_index_find(ix, 0x1038), b);
	assert_ptr_equal(alloc_index_find(ix, 0x1057), b);
	/* gap */
	assert_null(alloc_index_find(ix, 0x1058));
	assert_null(alloc_index_find(ix, 0x1800));
	assert_null(alloc_index_find(ix, 0x1fef));
	assert_ptr_equal(alloc_index_find(ix, 0x1ff0), c);
	assert_ptr_equal(alloc_index_find(ix, 0x2007), c);
	assert_null(alloc_index_find(ix, 0x2008));
	alloc_index_free(ix);
}

static void test_find_without_header(void **state)
{
	struct alloc_index *ix = alloc_index_new(0, 0);
	struct alloc_block *a;

	(void)state;
	a = alloc_index_insert(ix, 100, 10);
	assert_null(alloc_index_find(ix, 99));
	assert_ptr_equal(alloc_index_find(ix, 100), a);
	assert_ptr_equal(alloc_index_find(ix, 109), a);
	assert_null(alloc_index_find(ix, 110));
	alloc_index_free(ix);
}

static void test_edges(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 0);
	struct alloc_block *low, *high, *empty, *huge;

	(void)state;
	low = alloc_index_insert(ix, 8, 4);                /* header would start below 0 */
	high = alloc_index_insert(ix, UINT64_MAX - 9, 100); /* ptr + size overflows */
	empty = alloc_index_insert(ix, 0x5000, 0);          /* owns one byte */
	assert_ptr_equal(alloc_index_find(ix, 0), low);
	assert_ptr_equal(alloc_index_find(ix, 11), low);
	assert_null(alloc_index_find(ix, 12));
	assert_ptr_equal(alloc_index_find(ix, UINT64_MAX), high);
	assert_ptr_equal(alloc_index_find(ix, UINT64_MAX - 25), high);
	assert_null(alloc_index_find(ix, UINT64_MAX - 26));
	assert_ptr_equal(alloc_index_find(ix, 0x5000), empty);
	assert_ptr_equal(alloc_index_find(ix, 0x4ff0), empty);
	assert_null(alloc_index_find(ix, 0x5001));
	/* a huge (stale) block spanning others: the nearest covering block below wins */
	huge = alloc_index_insert(ix, 0x100, UINT64_MAX);
	assert_ptr_equal(alloc_index_find(ix, 0x5000), empty);
	assert_ptr_equal(alloc_index_find(ix, 0x5001), huge);
	assert_ptr_equal(alloc_index_find(ix, 0x4ff8), huge);
	assert_ptr_equal(alloc_index_find(ix, UINT64_MAX), high);
	assert_ptr_equal(alloc_index_find(ix, 11), low);
	assert_null(alloc_index_find(ix, 50));
	assert_ptr_equal(alloc_index_find(ix, 0xf0), huge); /* its header */
	assert_true(alloc_index_check(ix));
	alloc_index_free(ix);
}

static void test_replace_same_ptr(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, sizeof(uint32_t));
	struct alloc_block *b;

	(void)state;
	alloc_index_insert(ix, 0x500, 1000);
	b = alloc_index_insert(ix, 0x100, 10);
	b->seq = 5;
	b->faults = 3;
	*(uint32_t *)alloc_block_extra(b) = 9;
	assert_int_equal(alloc_index_live_bytes(ix), 1010);
	b = alloc_index_insert(ix, 0x100, 30);
	assert_int_equal(alloc_index_count(ix), 2);
	assert_int_equal(alloc_index_live_bytes(ix), 1030);
	assert_int_equal(b->size, 30);
	assert_int_equal(b->seq, 0);
	assert_int_equal(b->faults, 0);
	assert_int_equal(*(uint32_t *)alloc_block_extra(b), 0); /* a new block: the caller's area is cleared */
	assert_ptr_equal(alloc_index_find(ix, 0x100 + 20), b);
	b = alloc_index_insert(ix, 0x100, 1);
	assert_int_equal(alloc_index_live_bytes(ix), 1001);
	assert_null(alloc_index_find(ix, 0x100 + 20));
	assert_true(alloc_index_check(ix));
	alloc_index_free(ix);
}

struct collect {
	uint64_t ptrs[64];
	size_t n, stop_after;
};

static bool collect_ptr(struct alloc_block *b, void *arg)
{
	struct collect *c = arg;

	c->ptrs[c->n++] = b->ptr;
	b->faults++;
	return c->n < c->stop_after;
}

static void test_foreach(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 0);
	struct collect c = { .stop_after = 64 };
	size_t i;

	(void)state;
	for (i = 0; i < 40; i++)
		alloc_index_insert(ix, ((i * 17) % 40) * 0x100, 16);
	alloc_index_foreach(ix, collect_ptr, &c);
	assert_int_equal(c.n, 40);
	for (i = 0; i < 40; i++)
		assert_int_equal(c.ptrs[i], i * 0x100);
	assert_int_equal(alloc_index_get(ix, 0x500)->faults, 1);

	c = (struct collect){ .stop_after = 3 };
	alloc_index_foreach(ix, collect_ptr, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.ptrs[2], 0x200);
	alloc_index_free(ix);
}

static void test_pointers_stable(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 0);
	struct alloc_block *keep[100];
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++) {
		keep[i] = alloc_index_insert(ix, i * 64, 32);
		keep[i]->seq = i;
	}
	for (i = 0; i < 100; i += 2)
		assert_true(alloc_index_remove(ix, i * 64, NULL));
	for (i = 0; i < 5000; i++)
		alloc_index_insert(ix, 100000 + i * 64, 8);
	for (i = 1; i < 100; i += 2) {
		assert_ptr_equal(alloc_index_get(ix, i * 64), keep[i]);
		assert_int_equal(keep[i]->seq, i);
	}
	assert_true(alloc_index_check(ix));
	alloc_index_free(ix);
}

/* Enough blocks for a tree several levels deep, emptied in a scrambled order
 * so nodes borrow and merge at every level. */
static void test_grow_and_shrink(void **state)
{
	struct alloc_index *ix = alloc_index_new(16, 0);
	const uint64_t n = 60000, step = 7919; /* step is prime to n: a permutation */
	uint64_t i, k;

	(void)state;
	for (i = 0; i < n; i++) {
		k = (i * step) % n;
		alloc_index_insert(ix, 0x10000 + k * 64, 40)->seq = k;
	}
	assert_int_equal(alloc_index_count(ix), n);
	assert_int_equal(alloc_index_live_bytes(ix), n * 40);
	assert_true(alloc_index_check(ix));
	assert_int_equal(alloc_index_find(ix, 0x10000 + 1234 * 64 + 39)->seq, 1234);
	assert_int_equal(alloc_index_find(ix, 0x10000 + 1234 * 64 - 16)->seq, 1234);
	assert_null(alloc_index_find(ix, 0x10000 + 1234 * 64 + 40));
	for (i = 0; i < n; i++) {
		k = (i * 104729) % n;
		assert_true(alloc_index_remove(ix, 0x10000 + k * 64, NULL));
		if (i % 5000 == 0)
			assert_true(alloc_index_check(ix));
	}
	assert_int_equal(alloc_index_count(ix), 0);
	assert_int_equal(alloc_index_live_bytes(ix), 0);
	assert_null(alloc_index_find(ix, 0x10000));
	assert_true(alloc_index_check(ix));
	alloc_index_insert(ix, 5, 5);
	assert_int_equal(alloc_index_find(ix, 0)->ptr, 5);
	alloc_index_free(ix);
}

/* ---- randomized comparison with a brute-force model ---- */

#define KEYS_PER_ZONE 512
#define NKEYS (3 * KEYS_PER_ZONE)
#define HEADER 16

/* Candidate ptrs, in ptr order: a dense zone at 0 (headers reach below 0),
 * a sparse zone, and a dense zone ending at UINT64_MAX (ends overflow).
 * Dense zones with random sizes make blocks overlap a lot. */
static uint64_t key_ptr(unsigned k)
{
	if (k < KEYS_PER_ZONE)
		return k;
	if (k < 2 * KEYS_PER_ZONE)
		return (uint64_t)1 << 40 | (uint64_t)(k - KEYS_PER_ZONE) << 20;
	return UINT64_MAX - (NKEYS - 1 - k);
}

struct model {
	bool live[NKEYS];
	uint64_t size[NKEYS], seq[NKEYS];
	size_t count;
	uint64_t bytes;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t random_size(void)
{
	switch (rnd() % 16) {
	case 0:
		return 0;
	case 1:
		return rnd() >> (rnd() % 64); /* anything, often huge */
	case 2:
		return rnd() % (1u << 21);
	default:
		return rnd() % 48;
	}
}

static bool model_covers(const struct model *m, unsigned k, uint64_t addr)
{
	unsigned __int128 ptr = key_ptr(k);
	unsigned __int128 lo = ptr >= HEADER ? ptr - HEADER : 0;
	unsigned __int128 hi = ptr + (m->size[k] ? m->size[k] : 1);

	return lo <= addr && addr < hi;
}

/* Expected owner: largest ptr <= addr covering it, else smallest ptr > addr. */
static int model_find(const struct model *m, uint64_t addr)
{
	int below = -1, above = -1;

	for (unsigned k = 0; k < NKEYS; k++) {
		if (!m->live[k] || !model_covers(m, k, addr))
			continue;
		if (key_ptr(k) <= addr)
			below = (int)k;
		else if (above < 0)
			above = (int)k;
	}
	return below >= 0 ? below : above;
}

static void check_find(struct alloc_index *ix, const struct model *m, uint64_t addr)
{
	int want = model_find(m, addr);
	struct alloc_block *got = alloc_index_find(ix, addr);

	if (want < 0) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_int_equal(got->ptr, key_ptr((unsigned)want));
	assert_int_equal(got->seq, m->seq[want]);
}

struct order_check {
	const struct model *m;
	unsigned next_key;
	bool ok;
};

static bool check_next_in_order(struct alloc_block *b, void *arg)
{
	struct order_check *oc = arg;

	while (oc->next_key < NKEYS && !oc->m->live[oc->next_key])
		oc->next_key++;
	if (oc->next_key == NKEYS || key_ptr(oc->next_key) != b->ptr ||
	    oc->m->size[oc->next_key] != b->size)
		oc->ok = false;
	oc->next_key++;
	return oc->ok;
}

static void check_whole(struct alloc_index *ix, const struct model *m)
{
	struct order_check oc = { .m = m, .ok = true };

	assert_true(alloc_index_check(ix));
	alloc_index_foreach(ix, check_next_in_order, &oc);
	assert_true(oc.ok);
	while (oc.next_key < NKEYS && !m->live[oc.next_key])
		oc.next_key++;
	assert_int_equal(oc.next_key, NKEYS);
}

static void random_insert(struct alloc_index *ix, struct model *m, unsigned k, uint64_t seq)
{
	uint64_t size = random_size();
	struct alloc_block *b = alloc_index_insert(ix, key_ptr(k), size);

	assert_non_null(b);
	b->seq = seq;
	if (m->live[k])
		m->bytes -= m->size[k];
	else
		m->count++;
	m->live[k] = true;
	m->size[k] = size;
	m->seq[k] = seq;
	m->bytes += size;
}

static void random_remove(struct alloc_index *ix, struct model *m, unsigned k)
{
	struct alloc_block out;
	bool had = alloc_index_remove(ix, key_ptr(k), &out);

	assert_int_equal(had, m->live[k]);
	if (!had)
		return;
	assert_int_equal(out.size, m->size[k]);
	assert_int_equal(out.seq, m->seq[k]);
	m->live[k] = false;
	m->count--;
	m->bytes -= m->size[k];
}

static void test_random_vs_model(void **state)
{
	struct alloc_index *ix = alloc_index_new(HEADER, 0);
	struct model *m = calloc(1, sizeof(*m));
	const unsigned ops = 200000;

	(void)state;
	assert_non_null(m);
	for (unsigned op = 1; op <= ops; op++) {
		unsigned k = (unsigned)(rnd() % NKEYS);
		struct alloc_block *g;

		if (rnd() % 100 < 52)
			random_insert(ix, m, k, op);
		else
			random_remove(ix, m, k);
		assert_int_equal(alloc_index_count(ix), m->count);
		assert_int_equal(alloc_index_live_bytes(ix), m->bytes);

		k = (unsigned)(rnd() % NKEYS);
		g = alloc_index_get(ix, key_ptr(k));
		assert_int_equal(g != NULL, m->live[k]);
		if (g)
			assert_int_equal(g->seq, m->seq[k]);
		check_find(ix, m, key_ptr((unsigned)(rnd() % NKEYS)) + rnd() % 96 - 48);
		if (op % 4096 == 0)
			check_whole(ix, m);
	}
	check_whole(ix, m);
	free(m);
	alloc_index_free(ix);
}

/* A free looks its block up, then removes it: the remove reuses the path the
 * lookup found unless an insert or remove came in between (or the lookup
 * failed, or named another ptr). Each of those orders, at random, against
 * the model and the tree's invariants. */
static void test_remove_after_get(void **state)
{
	struct alloc_index *ix = alloc_index_new(HEADER, 0);
	struct model *m = calloc(1, sizeof(*m));

	(void)state;
	assert_non_null(m);
	for (unsigned k = 0; k < NKEYS; k += 2)
		random_insert(ix, m, k, k + 1);
	for (unsigned op = 1; op <= 100000; op++) {
		unsigned k = (unsigned)(rnd() % NKEYS), other = (unsigned)(rnd() % NKEYS);
		struct alloc_block *g = alloc_index_get(ix, key_ptr(k));

		assert_int_equal(g != NULL, m->live[k]);
		switch (rnd() % 4) {
		case 0: /* another block comes (maybe splitting the path's nodes) */
			random_insert(ix, m, other, op + NKEYS);
			break;
		case 1: /* another block goes (maybe merging them) */
			random_remove(ix, m, other);
			break;
		case 2: /* a lookup that fails or finds another block */
			alloc_index_get(ix, key_ptr(other) + (rnd() % 2));
			break;
		}
		random_remove(ix, m, rnd() % 8 ? k : other);
		if (rnd() % 2)
			random_insert(ix, m, (unsigned)(rnd() % NKEYS), op + 2 * NKEYS);
		if (op % 1024 == 0)
			check_whole(ix, m);
	}
	check_whole(ix, m);
	free(m);
	alloc_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_get_remove),
		cmocka_unit_test(test_find_with_header),
		cmocka_unit_test(test_find_without_header),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_replace_same_ptr),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_pointers_stable),
		cmocka_unit_test(test_grow_and_shrink),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_remove_after_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
