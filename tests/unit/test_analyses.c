/* test_analyses.c - unit tests for the pure parts of the heap analyses:
 * the resident page model (analyze/resident.c) against a per-page model,
 * its time rule for out-of-order ranges, mremap moves; size classes and the
 * peak snapshot of heap sites (analyze/heap_sites.c); the timeline's
 * intervals and merges (analyze/timeline.c); the smaps parser
 * (symbols/smaps.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "analyze/heap_sites.h"
#include "analyze/resident.h"
#include "analyze/timeline.h"
#include "symbols/smaps.h"

#define P RES_PAGE

static void test_resident_touch_drop(void **state)
{
	struct resident r = { 0 };
	uint64_t alloc;

	(void)state;
	assert_true(resident_touch(&r, 0x10000 + 5, RES_ALLOCATOR, 1));
	assert_false(resident_touch(&r, 0x10000 + 100, RES_ALLOCATOR, 2)); /* same page */
	assert_true(resident_touch(&r, 0x11000, 0, 3));
	assert_int_equal(r.n, 2);
	assert_int_equal(r.pages_allocator, 1);
	assert_int_equal(resident_count(&r, 0x10000, 0x12000, &alloc), 2 * P);
	assert_int_equal(alloc, P);
	resident_drop(&r, 0x10000, 0x11000, 10);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pages_allocator, 0);
	resident_clear(&r);
}

static void test_resident_time_rule(void **state)
{
	struct resident r = { 0 };

	(void)state;
	/* a page touched at t=20 survives a munmap seen late with t=10 */
	resident_touch(&r, 0x40000, RES_ALLOCATOR, 20);
	resident_drop(&r, 0x40000, 0x50000, 10);
	assert_int_equal(r.n, 1);
	resident_drop(&r, 0x40000, 0x50000, 30);
	assert_int_equal(r.n, 0);
	resident_clear(&r);
}

static void test_resident_freeable_move(void **state)
{
	struct resident r = { 0 };

	(void)state;
	for (int i = 0; i < 4; i++)
		resident_touch(&r, 0x100000 + i * P, RES_ALLOCATOR, 1);
	resident_mark_freeable(&r, 0x100000, 0x100000 + 2 * P, 2);
	assert_int_equal(r.pages_freeable, 2);
	resident_touch(&r, 0x100000, RES_ALLOCATOR, 3); /* reclaimed and touched again */
	assert_int_equal(r.pages_freeable, 1);
	/* mremap to a new place, shrunk to 3 pages: one page goes */
	resident_move(&r, 0x100000, 4 * P, 0x900000, 3 * P, 4);
	assert_int_equal(r.n, 3);
	assert_int_equal(resident_count(&r, 0x900000, 0x900000 + 3 * P, NULL), 3 * P);
	assert_int_equal(resident_count(&r, 0x100000, 0x100000 + 4 * P, NULL), 0);
	resident_clear(&r);
}

/* random touches and drops against a page array, both scan paths */
static void test_resident_random(void **state)
{
	enum { NPAGES = 4096 };
	static unsigned char model[NPAGES];
	struct resident r = { 0 };
	uint64_t base = 0x7f0000000000ull;
	unsigned seed = 12345;

	(void)state;
	memset(model, 0, sizeof(model));
	for (int step = 0; step < 200000; step++) {
		unsigned x = (seed = seed * 1103515245 + 12345) >> 8;
		unsigned pg = x % NPAGES;

		if (x % 7) {
			resident_touch(&r, base + pg * P, 0, (uint64_t)step);
			model[pg] = 1;
		} else {
			unsigned len = 1 + (x >> 12) % (x % 3 ? 8 : 3000);

			resident_drop(&r, base + pg * P, base + (pg + len) * P, (uint64_t)step);
			for (unsigned k = pg; k < pg + len && k < NPAGES; k++)
				model[k] = 0;
		}
	}
	size_t n = 0;

	for (unsigned k = 0; k < NPAGES; k++)
		n += model[k];
	assert_int_equal(r.n, n);
	assert_int_equal(resident_count(&r, base, base + NPAGES * P, NULL), n * P);
	resident_clear(&r);
}

static void test_size_classes(void **state)
{
	(void)state;
	assert_int_equal(hs_size_class(0), 0);
	assert_int_equal(hs_size_class(1), 1);
	assert_int_equal(hs_size_class(24), 5);
	assert_int_equal(hs_class_min(5), 16);
	assert_int_equal(hs_class_max(5), 31);
	assert_int_equal(hs_size_class(131072), 18);
	assert_int_equal(hs_class_min(18), 131072);
}

static void test_peak_snapshot(void **state)
{
	static struct heap_sites hs;
	uint64_t bytes, blocks;
	unsigned a = hs_key(0, 100), b = hs_key(0, 5000);

	(void)state;
	hs_live(&hs, a, 100, 1);
	hs_live(&hs, b, 5000, 1);
	hs_mark_peak(&hs); /* the peak: a 100, b 5000 */
	hs_live(&hs, b, 5000, -1);
	hs_live(&hs, a, 100, 1);
	hs_at_peak(&hs, a, &bytes, &blocks);
	assert_int_equal(bytes, 100);
	assert_int_equal(blocks, 1);
	hs_at_peak(&hs, b, &bytes, &blocks);
	assert_int_equal(bytes, 5000);
	hs_mark_peak(&hs); /* a new peak: a 200, b 0 */
	hs_at_peak(&hs, a, &bytes, &blocks);
	assert_int_equal(bytes, 200);
	assert_int_equal(blocks, 2);
	hs_at_peak(&hs, b, &bytes, &blocks);
	assert_int_equal(bytes, 0);
}

static void test_timeline(void **state)
{
	struct timeline tl;

	(void)state;
	timeline_init(&tl, 1000, 0); /* fixed: 1 µs */
	timeline_advance(&tl, 5000);
	tl.cur.syscalls[0] = 2;
	timeline_advance(&tl, 5500);
	timeline_advance(&tl, 8200); /* closes [0,1000) [1000,2000) [2000,3000) */
	assert_int_equal(tl.n, 3);
	assert_int_equal(tl.pts[0].syscalls[0], 2);
	assert_int_equal(tl.pts[2].t_ns, 3000);
	timeline_finish(&tl, 8200);
	assert_int_equal(tl.n, 4);
	timeline_free(&tl);

	timeline_init(&tl, 0, 10); /* adaptive: about 10 points */
	for (uint64_t t = 0; t <= 1000000000ull; t += 1000000)
		timeline_advance(&tl, t);
	timeline_finish(&tl, 1000000000ull);
	assert_true(tl.n >= 5 && tl.n <= 20);
	assert_int_equal(tl.pts[tl.n - 1].t_ns, tl.n * tl.interval_ns);
	timeline_free(&tl);
}

static void test_smaps(void **state)
{
	const char raw[] =
		"55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]\n"
		"Size:                132 kB\n"
		"Rss:                  12 kB\n"
		"7f0000000000-7f0000001000 r--p 00000000 08:01 42   /usr/lib/a b.so\n"
		"Rss:                   4 kB\n";
	size_t len, n;
	char *c = smaps_compact(raw, sizeof(raw) - 1, &len);
	struct smaps_entry *v;

	(void)state;
	assert_non_null(c);
	v = smaps_parse(c, len, &n);
	assert_non_null(v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].start, 0x55d0c0000000ull);
	assert_int_equal(v[0].rss, 12 * 1024);
	assert_string_equal(v[0].name, "[heap]");
	assert_string_equal(v[1].name, "/usr/lib/a_b.so");
	free(v);
	free(c);
	assert_null(smaps_parse("zz\n", 3, &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resident_touch_drop),
		cmocka_unit_test(test_resident_time_rule),
		cmocka_unit_test(test_resident_freeable_move),
		cmocka_unit_test(test_resident_random),
		cmocka_unit_test(test_size_classes),
		cmocka_unit_test(test_peak_snapshot),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_smaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
