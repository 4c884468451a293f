/* test_html_events.c - what the HTML page takes from the event stream: a
 * marker per syscall with the call in flight and the first touches on its
 * block, markers thinned per kind past the cap (a rare kind keeps all its
 * markers), and a bounded timeline. Synthetic records through the real
 * correlator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "output/html.h"

#define TGID 100
#define HEAP 0x555555559000ull
#define MAP 0x7ffff7000000ull

static uint64_t ts = 1000;

static struct fl_hdr hdr(uint8_t type, uint8_t func, uint16_t flags)
{
	ts += 10;
	return (struct fl_hdr){ .type = type, .func = func, .flags = flags, .tid = TGID, .tgid = TGID, .ts = ts };
}

static void feed_sys(struct correlator *c, uint32_t sys, int in_func, uint64_t a0, uint64_t a1, int64_t ret)
{
	struct fl_ev_syscall e = {
		.h = hdr(FL_EV_SYSCALL, in_func < 0 ? FL_FUNC_NONE : in_func, in_func < 0 ? 0 : FL_F_IN_CALL),
		.sys = sys, .args = { a0, a1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0 }, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_call(struct correlator *c, uint8_t func, uint64_t a0, uint64_t a2, uint64_t ret)
{
	struct fl_ev_call e = { .h = hdr(FL_EV_CALL, func, 0), .a0 = a0, .a2 = a2, .ret = ret };

	e.ts_ret = e.h.ts + 5;
	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_fault(struct correlator *c, uint64_t addr)
{
	struct fl_ev_fault e = { .h = hdr(FL_EV_FAULT, FL_FUNC_NONE, FL_F_FAULT_WRITE), .addr = addr };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

/* malloc(131072) whose mmap happens inside it, then the program touches
 * three of its pages: one marker, its call, three first touches. */
static void test_marker_of_a_call(void **state)
{
	struct correlator *c = corr_new(16);
	struct html_events *h = html_events_new(100, 100);
	const struct html_marker *m;
	const uint64_t *total, *every;
	size_t n;

	(void)state;
	assert_non_null(h);
	assert_int_equal(html_events_attach(h, c), 0);
	feed_sys(c, FL_SYS_MMAP, FL_MALLOC, 0, 135168, (int64_t)MAP); /* before its call's record */
	feed_call(c, FL_MALLOC, 131072, 0, MAP + 16);
	for (int i = 0; i < 3; i++)
		feed_fault(c, MAP + 16 + i * 4096ull);
	corr_finish(c);
	m = html_events_markers(h, &n, &total, &every);
	assert_int_equal(n, 1);
	assert_int_equal(total[FL_SYS_MMAP], 1);
	assert_int_equal(m[0].sys, FL_SYS_MMAP);
	assert_int_equal(m[0].size, 135168);
	assert_int_equal(m[0].addr, MAP);
	assert_true(m[0].call_seq != 0);
	assert_string_equal(m[0].call, "malloc(131072) = 0x7ffff7000010");
	assert_non_null(strstr(m[0].what, "mmap 132 KiB (135168 B) anon 0x7ffff7000000-0x7ffff7021000"));
	assert_int_equal(m[0].what[0], 'm'); /* no leading spaces */
	assert_int_equal(m[0].touches, 3);
	html_events_free(h);
	corr_free(c);
}

/* A cap of 8 markers, 1 brk and 1000 mmaps outside any call: the brk keeps
 * its marker, the mmaps are thinned to one in a power of two, evenly. */
static void test_thinning_per_kind(void **state)
{
	struct correlator *c = corr_new(16);
	struct html_events *h = html_events_new(8, 16);
	const struct html_marker *m;
	const struct html_series *sr;
	const struct html_point *p;
	const uint64_t *total, *every;
	uint64_t syscalls = 0;
	size_t n, np, ns, brks = 0;

	(void)state;
	assert_int_equal(html_events_attach(h, c), 0);
	feed_sys(c, FL_SYS_BRK, -1, 0, 0, (int64_t)HEAP);
	for (int i = 0; i < 1000; i++)
		feed_sys(c, FL_SYS_MMAP, -1, 0, 4096, (int64_t)(MAP + i * 4096ull));
	corr_finish(c);
	m = html_events_markers(h, &n, &total, &every);
	assert_true(n <= 8 && n >= 4);
	assert_int_equal(total[FL_SYS_BRK], 1);
	assert_int_equal(total[FL_SYS_MMAP], 1000);
	assert_int_equal(every[FL_SYS_BRK], 1);
	assert_true(every[FL_SYS_MMAP] >= 128);
	for (size_t i = 0; i < n; i++) {
		if (m[i].sys == FL_SYS_BRK)
			assert_int_equal(m[i].size, 0); /* brk(NULL): no change of the break */
		brks += m[i].sys == FL_SYS_BRK;
		assert_string_equal(m[i].call, "");
		if (m[i].sys == FL_SYS_MMAP) /* the kept ones: every every-th, from the first */
			assert_int_equal((m[i].addr - MAP) / 4096 % every[FL_SYS_MMAP], 0);
		if (i)
			assert_true(m[i].ts > m[i - 1].ts);
	}
	assert_int_equal(brks, 1);
	/* the timeline: at most 16 points, in order, every syscall counted once */
	sr = html_events_series(h, &ns);
	assert_int_equal(ns, 1); /* one process: the totals are its series */
	p = sr[0].p;
	np = sr[0].n;
	assert_true(np >= 4 && np <= 16);
	assert_true(sr[0].interval > 0);
	for (size_t i = 0; i < np; i++) {
		syscalls += p[i].syscalls;
		if (i)
			assert_true(p[i].ts > p[i - 1].ts);
	}
	assert_int_equal(syscalls, 1001);
	html_events_free(h);
	corr_free(c);
}

/* An event whose time is before the previous one's (a call's time rounded
 * down by record --call-times, after a syscall's exact one) never takes the
 * timeline back. */
static void test_series_never_back(void **state)
{
	struct html_series sr;
	struct html_point now = { .live = 1 };
	static const uint64_t times[] = { 1000, 1500, 1200, 1600, 1000, 1700 };

	(void)state;
	assert_int_equal(html_series_init(&sr, 0, 64), 0);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		html_series_add(&sr, times[i], &now);
	assert_true(sr.n >= 2);
	for (size_t i = 1; i < sr.n; i++)
		assert_true(sr.p[i].ts >= sr.p[i - 1].ts);
	assert_int_equal(sr.p[sr.n - 1].ts, 1700);
	html_series_free(&sr);
}

/* A second process: the first gets the totals' past as its series, then
 * each its own levels; the totals are their sum. */
static void test_per_process(void **state)
{
	struct correlator *c = corr_new(16);
	struct html_events *h = html_events_new(100, 64);
	const struct html_series *sr;
	struct fl_ev_syscall e = { .sys = FL_SYS_MMAP, .args = { 0, 8192, PROT_READ | PROT_WRITE,
								   MAP_PRIVATE | MAP_ANONYMOUS, 0 } };
	size_t ns;

	(void)state;
	assert_int_equal(html_events_attach(h, c), 0);
	for (int i = 0; i < 10; i++)
		feed_sys(c, FL_SYS_MMAP, -1, 0, 4096, (int64_t)(MAP + i * 4096ull));
	e.h = hdr(FL_EV_SYSCALL, FL_FUNC_NONE, 0);
	e.h.tgid = e.h.tid = 200;
	e.ret = (int64_t)(MAP + 0x100000);
	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
	corr_finish(c);
	sr = html_events_series(h, &ns);
	assert_int_equal(ns, 3);
	assert_int_equal(sr[1].pid, TGID);
	assert_int_equal(sr[2].pid, 200);
	assert_int_equal(sr[1].n, 10); /* its past, from the totals */
	assert_int_equal(sr[2].n, 1);
	assert_int_equal(sr[0].n, 11);
	assert_int_equal(sr[0].p[10].syscalls, 1);
	assert_int_equal(sr[0].p[10].mmap, sr[1].p[9].mmap + sr[2].p[0].mmap); /* totals = the sum */
	html_events_free(h);
	corr_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marker_of_a_call),
		cmocka_unit_test(test_thinning_per_kind),
		cmocka_unit_test(test_per_process),
		cmocka_unit_test(test_series_never_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
