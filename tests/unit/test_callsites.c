/* test_callsites.c - the call-site table: stacks captured from this very
 * process (as the kernel copies them: registers and the bytes from sp up)
 * are unwound, counted per stack and per call site, and written as text,
 * JSON and folded stacks; maps stored later merge with earlier ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyze/callsites.h"
#include "test_files.h"
#include "test_own_stack.h"

#define STACK_BYTES 8192

struct rec {
	struct fl_ev_stack s;
	uint8_t data[STACK_BYTES];
};

__attribute__((noinline)) static void capture_here(struct rec *r, const char *maps)
{
	struct proc_maps *m = proc_maps_parse(maps, strlen(maps));
	uint64_t ip, sp, bp, top;

	assert_non_null(m);
	__asm__ volatile("mov %%rbp, %2\n\tmov %%rsp, %1\n1:\tlea 1b(%%rip), %0" : "=r"(ip), "=r"(sp), "=r"(bp));
	top = stack_end_of(m, sp);
	proc_maps_free(m);
	memset(r, 0, sizeof(*r));
	r->s.h = (struct fl_hdr){ .type = FL_EV_STACK, .tid = getpid(), .tgid = getpid() };
	r->s.kind = FL_STACK_FOR_EVENT;
	r->s.ip = ip;
	r->s.sp = sp;
	r->s.bp = bp;
	r->s.len = top - sp < STACK_BYTES ? top - sp : STACK_BYTES;
	copy_stack(r->data, sp, r->s.len);
}

static volatile int work; /* distinct bodies: gcc must not fold the two into one */

__attribute__((noinline)) static void grows_the_heap(struct rec *r, const char *maps)
{
	work = 1;
	capture_here(r, maps);
	work += 2; /* no tail call */
}

__attribute__((noinline)) static void maps_a_block(struct rec *r, const char *maps)
{
	work = 3;
	capture_here(r, maps);
	work *= 5;
}

static char *own_maps_text(size_t *len)
{
	char *text = read_file("/proc/self/maps", len);

	assert_non_null(text);
	return text;
}

static struct corr_item syscall_item(struct fl_ev_syscall *e, uint32_t sys, const struct rec *r, uint64_t seq)
{
	memset(e, 0, sizeof(*e));
	e->h = (struct fl_hdr){ .type = FL_EV_SYSCALL, .tid = getpid(), .tgid = getpid() };
	e->sys = sys;
	return (struct corr_item){ .seq = seq, .rec = &e->h, .stack = r ? &r->s : NULL };
}

static char *text_of(struct callsites *cs, int what, enum cs_metric m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (what == 0)
		callsites_write_text(cs, f);
	else if (what == 1)
		callsites_write_json(cs, f);
	else
		assert_int_equal(callsites_write_folded(cs, m, f), 0);
	fclose(f);
	return buf;
}

/* Two syscalls from one place and one from another: two rows, named by
 * function and file:line, innermost first; folded stacks root first. */
static void test_syscall_sites(void **state)
{
	struct rec *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct callsites *cs = callsites_new();
	struct fl_ev_syscall e;
	struct corr_item it;
	size_t len;
	char *maps = own_maps_text(&len), *text, *folded, *json;

	(void)state;
	assert_non_null(cs);
	callsites_add_maps(cs, getpid(), maps, len);
	grows_the_heap(a, maps);
	maps_a_block(b, maps);
	for (int i = 0; i < 2; i++) {
		it = syscall_item(&e, FL_SYS_BRK, a, 10 + i);
		callsites_item(cs, &it);
	}
	it = syscall_item(&e, FL_SYS_MMAP, b, 20);
	callsites_item(cs, &it);
	it = syscall_item(&e, FL_SYS_MMAP, NULL, 21); /* no stack: not counted */
	callsites_item(cs, &it);
	assert_int_equal(callsites_stacks(cs), 3);

	text = text_of(cs, 0, CS_SYSCALLS);
	printf("%s", text);
	assert_non_null(strstr(text, "Top call sites by memory syscalls"));
	/* the heap site first (2), with file:line and its caller after " < " */
	assert_non_null(strstr(text, "brk 2"));
	assert_non_null(strstr(text, "capture_here (test_callsites.c:"));
	assert_non_null(strstr(text, "< grows_the_heap (test_callsites.c:"));
	assert_true(strstr(text, "grows_the_heap") < strstr(text, "maps_a_block"));

	folded = text_of(cs, 2, CS_SYSCALLS);
	printf("%s", folded);
	assert_non_null(strstr(folded, "test_syscall_sites;grows_the_heap;capture_here 2\n"));
	assert_non_null(strstr(folded, "test_syscall_sites;maps_a_block;capture_here 1\n"));
	assert_non_null(strstr(folded, "main;"));

	json = text_of(cs, 1, CS_SYSCALLS);
	assert_non_null(strstr(json, "\"stacks\": 3"));
	assert_non_null(strstr(json, "\"brk\": 2"));
	free(text);
	free(folded);
	free(json);
	callsites_free(cs);
	free(maps);
	free(a);
	free(b);
}

/* A call whose stack is known (here: from its syscall) owns the first
 * touches of its block: they count for its site as "allocated here"; the
 * bytes of the call count there too. */
static void test_faults_follow_the_block(void **state)
{
	struct rec *a = malloc(sizeof(*a));
	struct callsites *cs = callsites_new();
	struct { struct alloc_block b; uint32_t site[2]; } blk = { .b = { .ptr = 0x1000, .size = 262144, .seq = 5 } };
	struct alloc_block *block = &blk.b;
	struct fl_ev_call call = { .h = { .type = FL_EV_CALL, .func = FL_MALLOC, .tid = getpid(), .tgid = getpid() },
				   .a0 = 262144, .ret = 0x1000 };
	struct fl_ev_fault fault = { .h = { .type = FL_EV_FAULT, .tid = getpid(), .tgid = getpid() } };
	struct fl_ev_syscall e;
	struct corr_item it;
	size_t len;
	char *maps = own_maps_text(&len), *folded, *bytes;

	(void)state;
	callsites_add_maps(cs, getpid(), maps, len);
	maps_a_block(a, maps);
	it = (struct corr_item){ .seq = 5, .rec = &call.h, .block = block };
	callsites_item(cs, &it);
	it = syscall_item(&e, FL_SYS_MMAP, a, 6);
	it.call_seq = 5;
	callsites_item(cs, &it);
	assert_int_not_equal(*(uint32_t *)alloc_block_extra(block), 0);
	for (int i = 0; i < 64; i++) {
		it = (struct corr_item){ .seq = 7 + i, .rec = &fault.h, .block = block, .first_touch = true,
					 .owner = FL_OWNER_ALLOCATION, .alloc_seq = 5 };
		callsites_item(cs, &it);
	}
	folded = text_of(cs, 2, CS_FAULTS);
	assert_non_null(strstr(folded, "maps_a_block;capture_here 64\n"));
	bytes = text_of(cs, 2, CS_BYTES);
	assert_non_null(strstr(bytes, "maps_a_block;capture_here 262144\n"));
	free(folded);
	free(bytes);
	callsites_free(cs);
	free(maps);
	free(a);
}

/* Maps stored later win where they overlap; older lines elsewhere stay
 * (code unloaded before the end still has its place). */
static void test_maps_merge(void **state)
{
	struct callsites *cs = callsites_new();
	const char *first = "1000-2000 r-xp 00000000 08:01 11 /a.so\n3000-4000 r-xp 00000000 08:01 12 /b.so\n";
	const char *second = "1000-1800 r-xp 00000000 08:01 13 /c.so\n5000-6000 r-xp 00000000 08:01 14 /d.so\n";
	const char *text;
	size_t len;

	(void)state;
	callsites_add_maps(cs, 7, first, strlen(first));
	callsites_add_maps(cs, 7, second, strlen(second));
	text = callsites_maps_text(cs, 7, &len);
	assert_non_null(text);
	assert_null(strstr(text, "/a.so"));
	assert_non_null(strstr(text, "/b.so"));
	assert_non_null(strstr(text, "/c.so"));
	assert_non_null(strstr(text, "/d.so"));
	assert_null(callsites_maps_text(cs, 8, &len));
	callsites_free(cs);
}

/* A stack of a process whose maps are unknown, and garbage bytes: counted
 * as stacks, no row, no crash. */
static void test_bad_stacks(void **state)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct callsites *cs = callsites_new();
	struct fl_ev_syscall e;
	struct corr_item it;
	size_t len;
	char *maps = own_maps_text(&len), *folded;

	(void)state;
	r->s.h = (struct fl_hdr){ .type = FL_EV_STACK, .tid = 1, .tgid = 999999 };
	r->s.ip = 0x1234;
	r->s.sp = 0x7fff0000;
	r->s.len = 64;
	memset(r->data, 0xff, 64);
	it = syscall_item(&e, FL_SYS_BRK, r, 1);
	callsites_item(cs, &it); /* no maps for that process */
	callsites_add_maps(cs, getpid(), maps, len);
	r->s.h.tgid = getpid();
	callsites_item(cs, &it); /* ip in no mapping */
	assert_int_equal(callsites_stacks(cs), 2);
	folded = text_of(cs, 2, CS_SYSCALLS);
	assert_null(strstr(folded, "main"));
	free(folded);
	callsites_free(cs);
	free(maps);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_sites),
		cmocka_unit_test(test_faults_follow_the_block),
		cmocka_unit_test(test_maps_merge),
		cmocka_unit_test(test_bad_stacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
