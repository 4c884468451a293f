/* test_diff.c - report --diff's rows (analyze/diff.c): per allocating
 * function and size class, a block's syscalls and its free's count for the
 * call that allocated it; blocks live at the end; the comparison's order
 * and states; call-site names across builds (util/site_key.c). Synthetic
 * records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "analyze/correlator.h"
#include "analyze/diff.h"
#include "util/site_key.h"

#define PID 100
#define MAP 0x7ff000000000ull

static uint64_t ts = 1000;

static struct fl_hdr hdr(uint8_t type, uint8_t func, uint16_t flags)
{
	return (struct fl_hdr){ .type = type, .func = func, .flags = flags, .tid = PID, .tgid = PID, .ts = ts++ };
}

static void feed_call(struct correlator *c, uint8_t func, uint64_t a0, uint64_t a2, uint64_t ret, uint16_t flags)
{
	struct fl_ev_call e = { .h = hdr(FL_EV_CALL, func, flags), .a0 = a0, .a2 = a2, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_sys(struct correlator *c, uint32_t sys, int in_func, uint64_t a0, uint64_t a1, int64_t ret)
{
	struct fl_ev_syscall e = { .h = hdr(FL_EV_SYSCALL, in_func < 0 ? FL_FUNC_NONE : in_func,
					    in_func < 0 ? 0 : FL_F_IN_CALL),
				   .sys = sys, .args = { a0, a1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
							 (uint64_t)-1 }, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_fault(struct correlator *c, uint64_t addr)
{
	struct fl_ev_fault e = { .h = hdr(FL_EV_FAULT, FL_FUNC_NONE, FL_F_FAULT_WRITE), .addr = addr };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

/* n blocks of 300000 B, each its own mapping (mmap in malloc, a touch,
 * munmap in free), and keep blocks of 64 B never freed. */
static struct correlator *run(struct diff_side *d, int n, int keep)
{
	struct correlator *c = corr_new(16);

	assert_int_equal(diff_side_attach(d, c), 0);
	for (int i = 0; i < n; i++) {
		uint64_t map = MAP + (uint64_t)i * (1 << 20);

		feed_sys(c, FL_SYS_MMAP, FL_MALLOC, 0, 303104, (int64_t)map);
		feed_call(c, FL_MALLOC, 300000, 0, map + 16, 0);
		feed_fault(c, map + 8192);
		feed_call(c, FL_FREE, 0, map + 16, 0, FL_F_AT_ENTRY);
		feed_sys(c, FL_SYS_MUNMAP, FL_FREE, map, 303104, 0);
	}
	for (int i = 0; i < keep; i++)
		feed_call(c, FL_MALLOC, 64, 0, 0x555555560000ull + (uint64_t)i * 80, 0);
	feed_sys(c, FL_SYS_MMAP, -1, 0, 4096, (int64_t)(MAP - 4096)); /* outside any call */
	corr_finish(c);
	diff_count_live_at_end(d, c);
	return c;
}

static const struct diff_row *row_named(const struct diff_row *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return &r[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_rows_and_order(void **state)
{
	struct diff_side *old = diff_side_new(), *new = diff_side_new();
	struct correlator *c1, *c2;
	const struct diff_row *r;
	struct diff_row *rows;
	size_t n;

	(void)state;
	c1 = run(old, 10, 3);
	c2 = run(new, 60, 5);
	rows = diff_compare(old, new, &n);
	assert_non_null(rows);
	assert_string_equal(rows[0].name, "malloc 256 KiB..512 KiB");
	assert_int_equal(rows[0].state, DIFF_CHANGED);
	assert_int_equal(rows[0].old.calls, 10);
	assert_int_equal(rows[0].new.calls, 60);
	assert_int_equal(rows[0].new.syscalls[FL_SYS_MMAP] - rows[0].old.syscalls[FL_SYS_MMAP], 50);
	assert_int_equal(rows[0].new.syscalls[FL_SYS_MUNMAP] - rows[0].old.syscalls[FL_SYS_MUNMAP], 50);
	assert_int_equal(rows[0].new.first_touches, 60);
	assert_int_equal(rows[0].new.bytes, 60 * 300000);
	assert_int_equal(rows[0].new.live_end, 0);
	r = row_named(rows, n, "malloc 64 B..128 B");
	assert_int_equal(r->old.live_end, 3);
	assert_int_equal(r->new.live_end, 5);
	r = row_named(rows, n, "outside any call");
	assert_int_equal(r->state, DIFF_SAME);
	assert_int_equal(r->new.syscalls[FL_SYS_MMAP], 1);
	assert_int_equal(rows[n - 1].state, DIFF_SAME); /* unchanged rows last */
	free(rows);
	corr_free(c1);
	corr_free(c2);
	diff_side_free(old);
	diff_side_free(new);
}

static void test_appeared_vanished(void **state)
{
	struct diff_side *old = diff_side_new(), *new = diff_side_new();
	struct correlator *c1, *c2;
	struct diff_row *rows;
	size_t n;

	(void)state;
	c1 = run(old, 0, 2);
	c2 = run(new, 4, 0);
	rows = diff_compare(old, new, &n);
	assert_non_null(rows);
	assert_string_equal(rows[0].name, "malloc 256 KiB..512 KiB");
	assert_int_equal(rows[0].state, DIFF_APPEARED);
	assert_int_equal(row_named(rows, n, "malloc 64 B..128 B")->state, DIFF_VANISHED);
	free(rows);
	corr_free(c1);
	corr_free(c2);
	diff_side_free(old);
	diff_side_free(new);
}

static void test_site_key(void **state)
{
	char *k;

	(void)state;
	k = site_key("extra_maps (diff_prog.c:36) < main (diff_prog.c:53) < __libc_start_call_main (libc_start_call_main.h:58)");
	assert_string_equal(k, "extra_maps < main < __libc_start_call_main");
	free(k);
	k = site_key("[unmapped 0x7f7ac70f2ad7] < _start (old)");
	assert_string_equal(k, "[unmapped 0x?] < _start");
	free(k);
	k = site_key("operator new(unsigned long) (new_op.cc:50)"); /* the argument list stays */
	assert_string_equal(k, "operator new(unsigned long)");
	free(k);
	k = site_key("open (paren");
	assert_string_equal(k, "open (paren");
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_and_order),
		cmocka_unit_test(test_appeared_vanished),
		cmocka_unit_test(test_site_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
