/* test_processes.c - processes told apart: each process's own peaks (the
 * summary's are the largest, never a sum), its file, argv and parent
 * (FL_META_PROC, kept across its exec, a forked child's inherited until
 * it execs), the runtime owner of anonymous mappings made outside any
 * allocator call, the heap and arenas of a process attached to, and the
 * per-process counts of analyze/processes.c. Synthetic records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "analyze/correlator.h"
#include "analyze/processes.h"
#include "store/meta.h"

#define P1 100
#define P2 200
#define HEAP1 0x555555559000ull
#define HEAP2 0x565555559000ull
#define MAP 0x7ffff7000000ull

static uint64_t ts = 1000;

static struct fl_hdr hdr(uint8_t type, uint8_t func, uint16_t flags, uint32_t tgid)
{
	return (struct fl_hdr){ .type = type, .func = func, .flags = flags, .tid = tgid, .tgid = tgid, .ts = ts++ };
}

static void feed_sys(struct correlator *c, uint32_t tgid, uint32_t sys, bool in_call, uint64_t a0, uint64_t a1,
		     uint64_t a2, uint64_t a3, int64_t ret)
{
	struct fl_ev_syscall e = { .h = hdr(FL_EV_SYSCALL, in_call ? FL_MALLOC : FL_FUNC_NONE,
					    in_call ? FL_F_IN_CALL : 0, tgid),
				   .sys = sys, .args = { a0, a1, a2, a3, (uint64_t)-1 }, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_malloc(struct correlator *c, uint32_t tgid, uint64_t size, uint64_t ret)
{
	struct fl_ev_call e = { .h = hdr(FL_EV_CALL, FL_MALLOC, 0, tgid), .a0 = size, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_proc(struct correlator *c, uint32_t tgid, uint32_t kind, uint32_t child)
{
	struct fl_ev_proc e = { .h = hdr(FL_EV_PROC, FL_FUNC_NONE, 0, tgid), .kind = kind, .child = child };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_fault(struct correlator *c, uint32_t tgid, uint64_t addr)
{
	struct fl_ev_fault e = { .h = hdr(FL_EV_FAULT, FL_FUNC_NONE, FL_F_FAULT_WRITE, tgid), .addr = addr };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_meta(struct correlator *c, uint8_t kind, uint32_t tgid, uint64_t value, const void *data,
		      size_t len)
{
	uint8_t buf[sizeof(struct fl_meta) + 512] = { 0 };
	struct fl_meta *m = (struct fl_meta *)buf;

	assert_true(len <= 512);
	m->type = FL_REC_META;
	m->kind = kind;
	m->tgid = tgid;
	m->value = value;
	if (len)
		memcpy(m + 1, data, len);
	assert_int_equal(corr_feed(c, buf, sizeof(*m) + len), 0);
}

/* The process tgid as the correlator keeps it. */
struct find {
	uint32_t tgid;
	struct corr_proc *p;
};

static void find_one(struct corr_proc *p, void *arg)
{
	struct find *f = arg;

	if (p->tgid == f->tgid)
		f->p = p;
}

static struct corr_proc *proc_of(struct correlator *c, uint32_t tgid)
{
	struct find f = { tgid, NULL };

	corr_foreach_proc(c, find_one, &f);
	assert_non_null(f.p);
	return f.p;
}

/* Two processes alive at once, heaps of 1 and 2 MiB, blocks of 600 and
 * 900 KiB: the summary's peaks are the larger process's, its current
 * levels the sums. */
static void test_peaks_per_process(void **state)
{
	struct correlator *c = corr_new(16);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, P1, FL_SYS_BRK, false, 0, 0, 0, 0, (int64_t)HEAP1);
	feed_sys(c, P1, FL_SYS_BRK, true, HEAP1 + (1 << 20), 0, 0, 0, (int64_t)(HEAP1 + (1 << 20)));
	feed_malloc(c, P1, 600 << 10, HEAP1 + 16);
	feed_proc(c, P1, FL_PROC_FORK, P2);
	feed_sys(c, P2, FL_SYS_BRK, true, HEAP1 + (2 << 20), 0, 0, 0, (int64_t)(HEAP1 + (2 << 20)));
	feed_malloc(c, P2, 900 << 10, HEAP1 + (1 << 20));
	corr_finish(c);
	assert_int_equal(proc_of(c, P1)->peak_heap, 1 << 20);
	assert_int_equal(proc_of(c, P2)->peak_heap, 2 << 20);
	assert_int_equal(proc_of(c, P1)->peak_live, 600 << 10);
	assert_int_equal(proc_of(c, P2)->peak_live, 900 << 10);
	assert_int_equal(s->peak_heap, 2 << 20);   /* not 3 MiB */
	assert_int_equal(s->peak_live, 900 << 10); /* not 1.5 MiB */
	assert_int_equal(s->cur_heap, 3 << 20);
	assert_int_equal(s->cur_live, 1500 << 10);
	assert_int_equal(proc_of(c, P2)->ppid, P1);
	corr_free(c);
}

static const char proc_data[] = "/usr/bin/make\0make\0-j2"; /* exe NUL argv */

/* FL_META_PROC names a process; a forked child has its parent's until it
 * execs, and an exec without a record of its own leaves it unknown; one
 * with a record (sent before the exec) keeps it. */
static void test_proc_info(void **state)
{
	struct correlator *c = corr_new(16);
	static const char gcc[] = "/usr/bin/x86_64-linux-gnu-gcc-12\0gcc\0-c\0a.c";
	struct corr_proc *p;

	(void)state;
	feed_meta(c, FL_META_PROC, P1, 1, proc_data, sizeof(proc_data));
	feed_proc(c, P1, FL_PROC_EXEC, 0);
	p = proc_of(c, P1);
	assert_string_equal(p->exe, "/usr/bin/make");
	assert_int_equal(p->argc, 2);
	assert_string_equal(p->argv[1], "-j2");
	assert_int_equal(p->ppid, 1);
	feed_proc(c, P1, FL_PROC_FORK, P2);
	p = proc_of(c, P2);
	assert_string_equal(p->exe, "/usr/bin/make");
	assert_int_equal(p->ppid, P1);
	feed_proc(c, P2, FL_PROC_EXEC, 0); /* gone before its file was read */
	p = proc_of(c, P2);
	assert_null(p->exe);
	assert_int_equal(p->argc, 0);
	assert_int_equal(p->ppid, P1);
	feed_meta(c, FL_META_PROC, P2, P1, gcc, sizeof(gcc));
	feed_proc(c, P2, FL_PROC_EXEC, 0);
	p = proc_of(c, P2);
	assert_string_equal(p->exe, "/usr/bin/x86_64-linux-gnu-gcc-12");
	assert_int_equal(p->argc, 3);
	assert_string_equal(p->argv[2], "a.c");
	/* a record without the NUL after the path is refused and counted */
	feed_meta(c, FL_META_PROC, P2, P1, "no-nul", 6);
	assert_int_equal(corr_bad_records(c), 1);
	assert_string_equal(proc_of(c, P2)->exe, "/usr/bin/x86_64-linux-gnu-gcc-12");
	corr_free(c);
}


struct last_owner {
	uint8_t owner;
	uint64_t tag;   /* the fault's map_tag_value */
	int tags_given; /* mmaps that offered a map_tag (each gets 7 + their count) */
};

static void note_owner(void *ctx, const struct corr_item *it)
{
	struct last_owner *lo = ctx;

	if (it->rec->type == FL_EV_FAULT) {
		lo->owner = it->owner;
		lo->tag = it->map_tag_value;
	}
	if (it->map_tag)
		*it->map_tag = 7 + lo->tags_given++;
}

/* Anonymous mappings made outside any allocator call are the runtime's;
 * thread stacks, fixed mappings over nothing of the runtime's, and the
 * allocator's own mappings are not. */
static void test_runtime_owner(void **state)
{
	struct correlator *c = corr_new(16);
	struct last_owner lo = { .owner = 0xff };
	struct corr_sink s = { note_owner, &lo };
	const uint64_t anon = MAP_PRIVATE | MAP_ANONYMOUS;

	(void)state;
	corr_add_sink(c, &s);
	feed_sys(c, P1, FL_SYS_MMAP, false, 0, 1 << 20, PROT_READ | PROT_WRITE, anon, (int64_t)MAP);
	feed_fault(c, P1, MAP + 4096);
	assert_int_equal(lo.owner, FL_OWNER_RUNTIME);
	assert_int_equal(lo.tag, 7); /* what the sink kept with the mapping */
	assert_int_equal(lo.tags_given, 1);
	feed_sys(c, P1, FL_SYS_MMAP, false, 0, 1 << 20, PROT_READ | PROT_WRITE, anon | MAP_STACK,
		 (int64_t)(MAP + (4 << 20)));
	feed_fault(c, P1, MAP + (4 << 20));
	assert_int_equal(lo.owner, FL_OWNER_OTHER);
	feed_sys(c, P1, FL_SYS_MMAP, false, MAP + (8 << 20), 4096, PROT_READ | PROT_WRITE, anon | MAP_FIXED,
		 (int64_t)(MAP + (8 << 20)));
	feed_fault(c, P1, MAP + (8 << 20));
	assert_int_equal(lo.owner, FL_OWNER_OTHER); /* ld.so's .bss */
	feed_sys(c, P1, FL_SYS_MMAP, false, 0, 4096, PROT_READ, MAP_PRIVATE, (int64_t)(MAP + (12 << 20)));
	feed_fault(c, P1, MAP + (12 << 20));
	assert_int_equal(lo.owner, FL_OWNER_OTHER); /* a file */
	feed_sys(c, P1, FL_SYS_MUNMAP, false, MAP, 1 << 20, 0, 0, 0);
	feed_fault(c, P1, MAP + 8192);
	assert_int_equal(lo.owner, FL_OWNER_OTHER);
	assert_int_equal(corr_summary(c)->first_touch_owner[FL_OWNER_RUNTIME], 1);
	assert_int_equal(lo.tags_given, 1); /* the stack, the .bss and the file offered none */
	assert_string_equal(fl_owner_names[FL_OWNER_RUNTIME], "runtime");
	corr_free(c);
}

/* -p: the maps at the attach give the heap and glibc's arenas. */
static void test_attach_heap(void **state)
{
	struct correlator *c = corr_new(16);
	char maps[512];
	int n = snprintf(maps, sizeof(maps),
			 "%llx-%llx rw-p 00000000 00:00 0 [heap]\n"
			 "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
			 "7f0000021000-7f0004000000 ---p 00000000 00:00 0 \n"
			 "7f0010001000-7f0010002000 rw-p 00000000 00:00 0 \n",
			 (unsigned long long)HEAP1, (unsigned long long)HEAP1 + 811008);

	(void)state;
	feed_meta(c, FL_META_TARGET, P1, 1, NULL, 0);
	feed_meta(c, FL_META_MAPS, P1, 0, maps, (size_t)n);
	feed_meta(c, FL_META_MAPS, P1, 0, maps, (size_t)n); /* again (--stacks): counted once */
	assert_int_equal(corr_summary(c)->peak_heap, 811008);
	assert_int_equal(corr_summary(c)->peak_mmap, 0x21000); /* the arena's read-write front, not the 4 KiB at 0x...1000 */
	assert_int_equal(corr_summary(c)->cur_heap, 811008);
	corr_free(c);
}

/* The sink's counts per process. */
static void test_process_counts(void **state)
{
	struct correlator *c = corr_new(16);
	struct processes *ps = processes_new();
	const struct proc_row *r;
	size_t n;

	(void)state;
	assert_non_null(ps);
	processes_attach(ps, c);
	feed_sys(c, P1, FL_SYS_BRK, false, 0, 0, 0, 0, (int64_t)HEAP1);
	feed_malloc(c, P1, 100, HEAP1 + 16);
	feed_proc(c, P1, FL_PROC_FORK, P2);
	feed_malloc(c, P2, 200, HEAP1 + 200);
	feed_malloc(c, P2, 300, HEAP1 + 500);
	feed_sys(c, P2, FL_SYS_MMAP, false, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 (int64_t)MAP);
	feed_fault(c, P2, MAP);
	corr_finish(c);
	r = processes_rows(ps, &n);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].pid, P1);
	assert_int_equal(r[0].n.calls, 1);
	assert_int_equal(r[0].n.bytes_requested, 100);
	assert_int_equal(r[0].n.syscalls[FL_SYS_BRK], 1);
	assert_int_equal(r[1].pid, P2);
	assert_int_equal(r[1].n.calls, 2);
	assert_int_equal(r[1].n.bytes_requested, 500);
	assert_int_equal(r[1].n.syscalls[FL_SYS_MMAP], 1);
	assert_int_equal(r[1].n.first_touch_owner[FL_OWNER_RUNTIME], 1);
	assert_int_equal(r[1].proc->ppid, P1);
	processes_free(ps);
	corr_free(c);
}

/* fl_meta_proc_ok: a path, its NUL, then a command within the limits. */
static void test_meta_proc_limits(void **state)
{
	char *big = calloc(1, FL_META_MAX_PATH_BYTES + 8);

	(void)state;
	assert_true(fl_meta_proc_ok(proc_data, sizeof(proc_data)));
	assert_true(fl_meta_proc_ok("/x", 3)); /* no argv */
	assert_false(fl_meta_proc_ok("/x", 2));
	assert_non_null(big);
	memset(big, 'a', FL_META_MAX_PATH_BYTES + 4);
	assert_false(fl_meta_proc_ok(big, FL_META_MAX_PATH_BYTES + 8)); /* the path past its limit */
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peaks_per_process),
		cmocka_unit_test(test_proc_info),
		cmocka_unit_test(test_runtime_owner),
		cmocka_unit_test(test_attach_heap),
		cmocka_unit_test(test_process_counts),
		cmocka_unit_test(test_meta_proc_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
