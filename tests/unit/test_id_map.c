/* test_id_map.c - util/id_map.c against a plain array: inserts, replaces,
 * deletes (backward shift) in random order over spread-out ids, and 200k
 * dense ids (tids) in well under a second. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "util/id_map.h"

#define KEYS 4096

/* Random puts, replaces and deletes, checked against an array. */
static void test_exact(void **state)
{
	static size_t ref[KEYS];
	static bool in[KEYS];
	struct id_map m = ID_MAP_INIT;
	size_t v, n = 0;

	(void)state;
	srand(11);
	for (int round = 0; round < 300000; round++) {
		uint32_t k = (uint32_t)(rand() % KEYS), key = k * 2654435761u % 0xfffffffbu;

		if (rand() % 3 < 2) {
			size_t val = (size_t)rand();

			assert_int_equal(id_map_put(&m, key, val), 0);
			n += !in[k];
			in[k] = true;
			ref[k] = val;
		} else {
			assert_int_equal(id_map_del(&m, key), in[k]);
			n -= in[k];
			in[k] = false;
		}
		assert_int_equal(m.n, n);
		if (round % 5000 == 0)
			for (uint32_t j = 0; j < KEYS; j++) {
				uint32_t kj = j * 2654435761u % 0xfffffffbu;

				assert_int_equal(id_map_get(&m, kj, &v), in[j]);
				if (in[j])
					assert_int_equal(v, ref[j]);
			}
	}
	id_map_clear(&m);
}

static void test_200k_ids(void **state)
{
	struct id_map m = ID_MAP_INIT;
	struct timespec a, b;
	size_t v;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint32_t i = 0; i < 200000; i++)
		assert_int_equal(id_map_put(&m, 100000 + i, i), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		assert_true(id_map_get(&m, 100000 + i, &v));
		assert_int_equal(v, i);
	}
	for (uint32_t i = 0; i < 200000; i += 2)
		assert_true(id_map_del(&m, 100000 + i));
	for (uint32_t i = 0; i < 200000; i++)
		assert_int_equal(id_map_get(&m, 100000 + i, &v), i & 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < 1.0); /* ASan included */
	id_map_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_200k_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
