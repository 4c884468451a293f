/* test_region_set.c - unit tests for user/region_set.c: add/find, splits,
 * removes and adds spanning several ranges, overlap, address-space edges, and
 * a randomized comparison against a per-byte model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "analyze/region_set.h"

static void assert_region(const struct region *r, uint64_t start, uint64_t end, uint64_t tag)
{
	assert_non_null(r);
	assert_int_equal(r->start, start);
	assert_int_equal(r->end, end);
	assert_int_equal(r->tag, tag);
}

/* [0,10) [20,30) [40,50) [60,70), tags 1..4 */
static struct region_set *four_ranges(void)
{
	struct region_set *rs = region_set_new();

	assert_non_null(rs);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(region_set_add(rs, i * 20, i * 20 + 10, i + 1), 0);
	return rs;
}

static void test_add_find(void **state)
{
	struct region_set *rs = region_set_new();

	(void)state;
	assert_int_equal(region_set_add(rs, 100, 200, 1), 0);
	assert_int_equal(region_set_add(rs, 300, 400, 2), 0);
	assert_int_equal(region_set_add(rs, 500, 500, 3), 0); /* empty: no-op */
	assert_int_equal(region_set_add(rs, 600, 550, 3), 0);
	assert_int_equal(region_set_count(rs), 2);
	assert_int_equal(region_set_bytes(rs), 200);
	assert_null(region_set_find(rs, 99));
	assert_region(region_set_find(rs, 100), 100, 200, 1);
	assert_region(region_set_find(rs, 199), 100, 200, 1);
	assert_null(region_set_find(rs, 200));
	assert_region(region_set_find(rs, 350), 300, 400, 2);
	assert_null(region_set_find(rs, 400));
	assert_null(region_set_find(rs, 550));
	assert_true(region_set_check(rs));
	region_set_free(rs);
}

static void test_remove_middle_splits(void **state)
{
	struct region_set *rs = region_set_new();

	(void)state;
	region_set_add(rs, 0x1000, 0x5000, 7);
	assert_int_equal(region_set_remove(rs, 0x2000, 0x3000), 0x1000);
	assert_int_equal(region_set_count(rs), 2);
	assert_int_equal(region_set_bytes(rs), 0x3000);
	assert_region(region_set_find(rs, 0x1fff), 0x1000, 0x2000, 7);
	assert_null(region_set_find(rs, 0x2000));
	assert_null(region_set_find(rs, 0x2fff));
	assert_region(region_set_find(rs, 0x3000), 0x3000, 0x5000, 7);
	/* removing nothing */
	assert_int_equal(region_set_remove(rs, 0x2000, 0x3000), 0);
	assert_int_equal(region_set_remove(rs, 0x4000, 0x4000), 0);
	assert_int_equal(region_set_count(rs), 2);
	/* trimming either end */
	assert_int_equal(region_set_remove(rs, 0x800, 0x1100), 0x100);
	assert_int_equal(region_set_remove(rs, 0x4f00, 0x6000), 0x100);
	assert_region(region_set_find(rs, 0x1100), 0x1100, 0x2000, 7);
	assert_region(region_set_find(rs, 0x4eff), 0x3000, 0x4f00, 7);
	assert_null(region_set_find(rs, 0x4f00));
	assert_true(region_set_check(rs));
	region_set_free(rs);
}

static void test_remove_spanning(void **state)
{
	struct region_set *rs = four_ranges();

	(void)state;
	assert_int_equal(region_set_remove(rs, 5, 65), 5 + 10 + 10 + 5);
	assert_int_equal(region_set_count(rs), 2);
	assert_int_equal(region_set_bytes(rs), 10);
	assert_region(region_set_find(rs, 4), 0, 5, 1);
	assert_null(region_set_find(rs, 5));
	assert_null(region_set_find(rs, 25));
	assert_null(region_set_find(rs, 64));
	assert_region(region_set_find(rs, 65), 65, 70, 4);
	assert_true(region_set_check(rs));
	region_set_free(rs);

	rs = four_ranges();
	assert_int_equal(region_set_remove(rs, 0, UINT64_MAX), 40);
	assert_int_equal(region_set_count(rs), 0);
	assert_int_equal(region_set_bytes(rs), 0);
	region_set_free(rs);
}

static void test_add_over_existing(void **state)
{
	struct region_set *rs = four_ranges();

	(void)state;
	assert_int_equal(region_set_add(rs, 5, 65, 9), 0);
	assert_int_equal(region_set_count(rs), 3);
	assert_int_equal(region_set_bytes(rs), 70);
	assert_region(region_set_find(rs, 0), 0, 5, 1);
	assert_region(region_set_find(rs, 5), 5, 65, 9);
	assert_region(region_set_find(rs, 25), 5, 65, 9);
	assert_region(region_set_find(rs, 65), 65, 70, 4);
	/* exactly over an existing range: replaces it */
	assert_int_equal(region_set_add(rs, 65, 70, 10), 0);
	assert_int_equal(region_set_count(rs), 3);
	assert_region(region_set_find(rs, 69), 65, 70, 10);
	/* inside an existing range: three pieces */
	assert_int_equal(region_set_add(rs, 30, 40, 11), 0);
	assert_int_equal(region_set_count(rs), 5);
	assert_int_equal(region_set_bytes(rs), 70);
	assert_region(region_set_find(rs, 29), 5, 30, 9);
	assert_region(region_set_find(rs, 30), 30, 40, 11);
	assert_region(region_set_find(rs, 40), 40, 65, 9);
	assert_true(region_set_check(rs));
	region_set_free(rs);
}

static void test_overlap(void **state)
{
	struct region_set *rs = region_set_new();

	(void)state;
	assert_int_equal(region_set_overlap(rs, 0, 100), 0);
	region_set_add(rs, 10, 20, 1);
	region_set_add(rs, 30, 40, 2);
	region_set_add(rs, 50, 60, 3);
	assert_int_equal(region_set_overlap(rs, 0, 100), 30);
	assert_int_equal(region_set_overlap(rs, 15, 35), 10);
	assert_int_equal(region_set_overlap(rs, 20, 30), 0);
	assert_int_equal(region_set_overlap(rs, 12, 13), 1);
	assert_int_equal(region_set_overlap(rs, 31, 39), 8);
	assert_int_equal(region_set_overlap(rs, 55, 200), 5);
	assert_int_equal(region_set_overlap(rs, 0, 11), 1);
	assert_int_equal(region_set_overlap(rs, 10, 60), 30);
	assert_int_equal(region_set_overlap(rs, 33, 33), 0);
	assert_int_equal(region_set_overlap(rs, 100, 0), 0);
	assert_int_equal(region_set_overlap(rs, 0, UINT64_MAX), 30);
	region_set_free(rs);
}

static void test_address_space_edges(void **state)
{
	struct region_set *rs = region_set_new();

	(void)state;
	region_set_add(rs, 0, 10, 1);
	region_set_add(rs, UINT64_MAX - 10, UINT64_MAX, 2);
	assert_int_equal(region_set_bytes(rs), 20);
	assert_region(region_set_find(rs, 0), 0, 10, 1);
	assert_region(region_set_find(rs, UINT64_MAX - 1), UINT64_MAX - 10, UINT64_MAX, 2);
	assert_null(region_set_find(rs, UINT64_MAX));
	assert_int_equal(region_set_overlap(rs, 5, UINT64_MAX), 15);
	assert_int_equal(region_set_add(rs, 0, UINT64_MAX, 3), 0);
	assert_int_equal(region_set_count(rs), 1);
	assert_int_equal(region_set_bytes(rs), UINT64_MAX);
	assert_int_equal(region_set_overlap(rs, 0, UINT64_MAX), UINT64_MAX);
	assert_int_equal(region_set_remove(rs, 1, UINT64_MAX - 1), UINT64_MAX - 2);
	assert_int_equal(region_set_bytes(rs), 2);
	assert_region(region_set_find(rs, UINT64_MAX - 1), UINT64_MAX - 1, UINT64_MAX, 3);
	assert_true(region_set_check(rs));
	region_set_free(rs);
}

static void test_many_ranges(void **state)
{
	struct region_set *rs = region_set_new();
	const uint64_t n = 100000;

	(void)state;
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(region_set_add(rs, i * 0x2000, i * 0x2000 + 0x1000, i), 0);
	assert_int_equal(region_set_count(rs), n);
	assert_int_equal(region_set_bytes(rs), n * 0x1000);
	assert_true(region_set_check(rs));
	assert_region(region_set_find(rs, 777 * 0x2000 + 5), 777 * 0x2000, 777 * 0x2000 + 0x1000, 777);
	assert_int_equal(region_set_overlap(rs, 0x800, (n - 1) * 0x2000 + 0x800), (n - 1) * 0x1000);
	/* punch a hole through all but the two outermost ranges */
	assert_int_equal(region_set_remove(rs, 0x1000, (n - 1) * 0x2000), (n - 2) * 0x1000);
	assert_int_equal(region_set_count(rs), 2);
	assert_true(region_set_check(rs));
	region_set_free(rs);
}

/* ---- randomized comparison with a per-byte model ---- */

#define SPACE 1024u

/* owner[a] = tag of the range holding byte base + a, 0 if none. Every add has
 * a distinct tag and a range's pieces are never adjacent, so a range is a
 * maximal run of equal non-zero tags. */
struct model {
	uint64_t owner[SPACE];
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void random_span(unsigned *lo, unsigned *hi)
{
	unsigned len;

	*lo = (unsigned)(rnd() % SPACE);
	switch (rnd() % 8) {
	case 0:
		len = 0;
		break;
	case 1:
		len = (unsigned)(rnd() % SPACE);
		break;
	default:
		len = 1 + (unsigned)(rnd() % 48);
	}
	*hi = *lo + len > SPACE ? SPACE : *lo + len;
	if (rnd() % 32 == 0) /* reversed: must be a no-op */
		*hi = *lo / 2;
}

static uint64_t model_covered(const struct model *m, unsigned lo, unsigned hi)
{
	uint64_t n = 0;

	for (unsigned a = lo; a < hi; a++)
		n += m->owner[a] != 0;
	return n;
}

static size_t model_count(const struct model *m)
{
	size_t n = 0;

	for (unsigned a = 0; a < SPACE; a++)
		n += m->owner[a] && (a == 0 || m->owner[a - 1] != m->owner[a]);
	return n;
}

static void model_set(struct model *m, unsigned lo, unsigned hi, uint64_t tag)
{
	for (unsigned a = lo; a < hi; a++)
		m->owner[a] = tag;
}

static void check_find(const struct region_set *rs, const struct model *m, uint64_t base, unsigned a)
{
	const struct region *r = region_set_find(rs, base + a);
	unsigned lo = a, hi = a + 1;
	uint64_t tag = m->owner[a];

	if (!tag) {
		assert_null(r);
		return;
	}
	while (lo > 0 && m->owner[lo - 1] == tag)
		lo--;
	while (hi < SPACE && m->owner[hi] == tag)
		hi++;
	assert_region(r, base + lo, base + hi, tag);
}

static void random_run(uint64_t base, unsigned ops)
{
	struct region_set *rs = region_set_new();
	struct model *m = calloc(1, sizeof(*m));
	unsigned lo, hi;

	assert_non_null(m);
	for (unsigned op = 1; op <= ops; op++) {
		random_span(&lo, &hi);
		if (rnd() % 100 < 55) {
			assert_int_equal(region_set_add(rs, base + lo, base + hi, op), 0);
			model_set(m, lo, hi, op);
		} else {
			assert_int_equal(region_set_remove(rs, base + lo, base + hi),
					 lo < hi ? model_covered(m, lo, hi) : 0);
			model_set(m, lo, hi, 0);
		}
		assert_int_equal(region_set_count(rs), model_count(m));
		assert_int_equal(region_set_bytes(rs), model_covered(m, 0, SPACE));
		random_span(&lo, &hi);
		assert_int_equal(region_set_overlap(rs, base + lo, base + hi),
				 lo < hi ? model_covered(m, lo, hi) : 0);
		check_find(rs, m, base, (unsigned)(rnd() % SPACE));
		if (op % 2048 == 0) {
			assert_true(region_set_check(rs));
			for (unsigned a = 0; a < SPACE; a++)
				check_find(rs, m, base, a);
		}
	}
	free(m);
	region_set_free(rs);
}

static void test_random_vs_model_low(void **state)
{
	(void)state;
	random_run(0, 100000);
}

static void test_random_vs_model_high(void **state)
{
	(void)state;
	random_run(UINT64_MAX - SPACE, 100000); /* ranges may end at UINT64_MAX */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_remove_middle_splits),
		cmocka_unit_test(test_remove_spanning),
		cmocka_unit_test(test_add_over_existing),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_address_space_edges),
		cmocka_unit_test(test_many_ranges),
		cmocka_unit_test(test_random_vs_model_low),
		cmocka_unit_test(test_random_vs_model_high),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
