/* test_preload.c - the preload path's collector (capture/preload.c) fed by
 * hand: a thread's ring written as the library writes it (in the collector's
 * own memfd, mapped a second time), kernel records tagged as the BPF side
 * tags them. Checked: each kernel record lands right after the call count it
 * carries (before the record of the call in flight), its tag cleared; a
 * fork places the records by time, an exit emits them all and frees the
 * ring; the library's own mapping and faults on it are dropped; aliased
 * entry points are counted as the first; threads' records are merged by
 * time; and --probes' words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <cmocka.h>
#include "faultline.h"
#include "fl_preload.h"
#include "capture/preload.h"
#include "capture/probe_path.h"

#define MAXOUT 64

static uint64_t tsc_base;

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct sink {
	int n;
	struct {
		uint8_t type, func;
		uint16_t flags;
		uint32_t tid, cpu, kind, len;   /* kind, len: FL_EV_STACK's */
		uint64_t ts, a0, ip, d[3];      /* ip, d: FL_EV_STACK's, its first return addresses */
	} e[MAXOUT];
};

static int collect(void *ctx, const void *rec, size_t len)
{
	struct sink *s = ctx;
	const struct fl_hdr *h = rec;

	assert_true(len >= sizeof(*h));
	assert_true(s->n < MAXOUT);
	s->e[s->n].type = h->type;
	s->e[s->n].func = h->func;
	s->e[s->n].flags = h->flags;
	s->e[s->n].tid = h->tid;
	s->e[s->n].cpu = h->cpu;
	s->e[s->n].ts = h->ts;
	s->e[s->n].a0 = h->type == FL_EV_CALL ? ((const struct fl_ev_call *)rec)->a0 : 0;
	if (h->type == FL_EV_STACK) {
		const struct fl_ev_stack *st = rec;

		assert_int_equal(len, sizeof(*st) + st->len);
		s->e[s->n].kind = st->kind;
		s->e[s->n].len = st->len;
		s->e[s->n].ip = st->ip;
		memcpy(s->e[s->n].d, st + 1, st->len < sizeof(s->e[s->n].d) ? st->len : sizeof(s->e[s->n].d));
	}
	s->n++;
	return 0;
}

struct fixture {
	struct preload *p;
	struct fl_preload_shm *shm; /* the "library's" mapping */
	struct sink out;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	tsc_base = __builtin_ia32_rdtsc();
	f->p = preload_open(collect, &f->out, err, sizeof(err));
	assert_non_null(f->p);
	f->shm = mmap(NULL, sizeof(*f->shm), PROT_READ | PROT_WRITE, MAP_SHARED, preload_fd(f->p), 0);
	assert_true(f->shm != MAP_FAILED);
	assert_true(f->shm->magic == FL_PRELOAD_MAGIC && f->shm->version == FL_PRELOAD_VERSION);
	preload_add_target(f->p, 100);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->shm, sizeof(*f->shm));
	preload_close(f->p);
	free(f);
	return 0;
}

/* The library's part: ring i owned by tid, one record. */
static void lib_claim(struct fixture *f, int i, uint32_t tid)
{
	struct fl_preload_buf *b = &f->shm->buf[i];

	b->state = FL_PRELOAD_OWNED;
	b->tgid = 100;
	b->tid = tid;
	b->claim_ts = 1;
}

static void lib_call(struct fixture *f, int i, unsigned func, unsigned flags, uint64_t ts, uint64_t a0)
{
	struct fl_preload_buf *b = &f->shm->buf[i];
	struct fl_preload_rec *r = &b->rec[b->head & (FL_PRELOAD_RECS - 1)];

	memset(r, 0, sizeof(*r));
	r->func = (unsigned char)func;
	r->flags = (unsigned short)flags;
	r->ts = tsc_base + ts * 1000; /* the library's stamps are the time stamp counter's */
	r->ts_ret = r->ts + 1;
	r->a0 = a0;
	__atomic_store_n(&b->head, b->head + 1, __ATOMIC_RELEASE);
}

/* The kernel's part: a fault of tid, tagged with the thread's slot or not. */
static void kernel_fault(struct fixture *f, uint32_t tid, uint64_t ts, int tagged, uint32_t done, int in_call,
			 unsigned func, uint64_t addr)
{
	struct fl_ev_fault e;

	memset(&e, 0, sizeof(e));
	e.h.type = FL_EV_FAULT;
	e.h.tid = tid;
	e.h.tgid = 100;
	e.h.ts = ts;
	e.h.func = FL_FUNC_NONE;
	e.addr = addr;
	if (tagged) {
		e.h.flags = FL_F_PRELOAD | (in_call ? FL_F_IN_CALL : 0);
		e.h.cpu = done;
		if (in_call)
			e.h.func = (uint8_t)func;
	}
	assert_int_equal(preload_kernel_record(f->p, &e, sizeof(e)), 0);
}

static void test_kernel_record_after_its_count(void **state)
{
	struct fixture *f = *state;

	lib_claim(f, 0, 101);
	lib_call(f, 0, FL_MALLOC, 0, 10, 1);
	lib_call(f, 0, FL_MALLOC, 0, 20, 2);
	lib_call(f, 0, FL_FREE, FL_F_AT_ENTRY, 30, 0);
	/* a fault inside the second malloc (1 call completed), then one after all three */
	kernel_fault(f, 101, 15, 1, 1, 1, FL_MALLOC, 0x1000);
	assert_int_equal(f->out.n, 2);
	assert_int_equal(f->out.e[0].type, FL_EV_CALL);
	assert_int_equal(f->out.e[0].a0, 1);
	assert_int_equal(f->out.e[1].type, FL_EV_FAULT);
	assert_int_equal(f->out.e[1].flags, FL_F_IN_CALL); /* FL_F_PRELOAD cleared */
	assert_int_equal(f->out.e[1].cpu, 0);
	assert_int_equal(f->out.e[1].func, FL_MALLOC);
	kernel_fault(f, 101, 35, 1, 3, 0, 0, 0x2000);
	assert_int_equal(f->out.n, 5);
	assert_int_equal(f->out.e[2].a0, 2);
	assert_int_equal(f->out.e[3].func, FL_FREE);
	assert_int_equal(f->out.e[3].flags, FL_F_AT_ENTRY);
	assert_int_equal(f->out.e[4].type, FL_EV_FAULT);
	assert_int_equal(f->out.e[4].func, FL_FUNC_NONE);
	assert_int_equal(f->shm->buf[0].tail, 3); /* read, and said so to the library */
}

static void proc_event(struct fixture *f, uint32_t tid, unsigned kind, uint32_t child, uint64_t ts)
{
	struct fl_ev_proc e;

	memset(&e, 0, sizeof(e));
	e.h.type = FL_EV_PROC;
	e.h.tid = tid;
	e.h.tgid = 100;
	e.h.ts = ts;
	e.kind = kind;
	e.child = child;
	preload_kernel_record(f->p, &e, sizeof(e));
}

/* A fork (untagged) places the parent's records by time; an exit emits
 * all of its thread's records first and frees the ring. */
static void test_fork_by_time_exit_all(void **state)
{
	struct fixture *f = *state;

	lib_claim(f, 3, 102);
	lib_call(f, 3, FL_MALLOC, 0, 10, 7);
	lib_call(f, 3, FL_MALLOC, 0, 1000000000, 8); /* stamped after the fork's time */
	proc_event(f, 102, FL_PROC_FORK, 300, mono_ns() + 100000000); /* 0.1 s from now */
	assert_int_equal(f->out.n, 2);
	assert_int_equal(f->out.e[0].a0, 7);
	assert_int_equal(f->out.e[1].type, FL_EV_PROC);
	proc_event(f, 102, FL_PROC_EXIT, 0, mono_ns() + 200000000);
	assert_int_equal(f->out.n, 4);
	assert_int_equal(f->out.e[2].a0, 8);
	assert_int_equal(f->out.e[3].type, FL_EV_PROC);
	assert_int_equal(f->shm->buf[3].state, FL_PRELOAD_FREE);
	assert_int_equal(f->shm->buf[3].head, 0);
}

static void test_own_mapping_dropped(void **state)
{
	struct fixture *f = *state;
	struct fl_ev_syscall s;

	memset(&s, 0, sizeof(s));
	s.h.type = FL_EV_SYSCALL;
	s.h.tid = s.h.tgid = 100;
	s.sys = FL_SYS_MMAP;
	s.args[1] = sizeof(struct fl_preload_shm);
	s.args[3] = MAP_SHARED;
	s.args[4] = (uint64_t)preload_fd(f->p);
	s.ret = 0x7f0000000000;
	preload_kernel_record(f->p, &s, sizeof(s));
	assert_int_equal(f->out.n, 0);
	assert_true(preload_seen(f->p));
	kernel_fault(f, 100, 5, 0, 0, 0, 0, 0x7f0000001000);   /* on the shared memory: dropped */
	assert_int_equal(f->out.n, 0);
	kernel_fault(f, 100, 6, 0, 0, 0, 0, 0x7e0000001000);   /* elsewhere: kept */
	assert_int_equal(f->out.n, 1);
	s.args[4] = (uint64_t)preload_fd(f->p) + 100; /* another file's shared mapping: kept */
	s.ret = 0x7d0000000000;
	preload_kernel_record(f->p, &s, sizeof(s));
	assert_int_equal(f->out.n, 2);
}

static void test_alias_and_threads_by_time(void **state)
{
	struct fixture *f = *state;

	preload_set_alias(f->p, FL_MEMALIGN, FL_ALIGNED_ALLOC);
	lib_claim(f, 1, 201);
	lib_claim(f, 2, 202);
	lib_call(f, 1, FL_MALLOC, 0, 10, 1);
	lib_call(f, 2, FL_FREE, FL_F_AT_ENTRY, 20, 0); /* frees thread 201's block: must come after it */
	lib_call(f, 1, FL_MEMALIGN, 0, 30, 3);
	preload_snapshot(f->p);
	preload_flush(f->p);
	assert_int_equal(f->out.n, 3);
	assert_int_equal(f->out.e[0].tid, 201);
	assert_int_equal(f->out.e[1].tid, 202);
	assert_int_equal(f->out.e[2].func, FL_ALIGNED_ALLOC);
	lib_call(f, 2, FL_MALLOC, 0, 40, 4); /* after the snapshot: waits for the next */
	preload_flush(f->p);
	assert_int_equal(f->out.n, 3);
	preload_flush_all(f->p);
	assert_int_equal(f->out.n, 4);
}

/* --stacks=all: a stack group (fl_preload.h) before a call's record comes
 * out as an FL_EV_STACK of FL_STACK_IPS right before the call; a group of
 * no addresses is a repeat, its hash in ip; the kernel's records made while
 * the library worked for itself (FL_PRELOAD_OWN in the slot) are dropped. */
static void lib_stack(struct fixture *f, int i, const uint64_t *ips, unsigned n, uint64_t ts)
{
	struct fl_preload_buf *b = &f->shm->buf[i];
	struct fl_preload_rec g[FL_PRELOAD_STACK_SLOTS_MAX];
	unsigned slots = fl_preload_stack_slots(n);
	uint64_t w[FL_PRELOAD_STACK_SLOTS_MAX * FL_PRELOAD_STACK_PER_SLOT] = { 0 };

	memcpy(w, ips, (n ? n : 1) * sizeof(uint64_t));
	memset(g, 0, sizeof(g));
	g[0].func = FL_PRELOAD_STACK;
	g[0].pad = (unsigned char)n;
	g[0].ts = tsc_base + ts * 1000;
	g[0].ts_ret = g[0].ts + 1;
	g[0].a0 = w[0];
	g[0].a1 = w[1];
	g[0].a2 = w[2];
	g[0].ret = w[3];
	for (unsigned k = 1; k < slots; k++)
		memcpy(&g[k], &w[FL_PRELOAD_STACK_AT(k, 0)], sizeof(g[k]));
	for (unsigned k = 0; k < slots; k++)
		b->rec[(b->head + k) & (FL_PRELOAD_RECS - 1)] = g[k];
	b->head += slots; /* published with the call's record (lib_call) */
}

static void test_stack_groups(void **state)
{
	struct fixture *f = *state;
	uint64_t ips[12], h;

	for (unsigned k = 0; k < 12; k++)
		ips[k] = 0x400000 + 16 * k;
	h = fl_ips_hash(ips, 12);
	lib_claim(f, 0, 100);
	lib_stack(f, 0, ips, 12, 1); /* three slots */
	lib_call(f, 0, FL_MALLOC, 0, 1, 24);
	lib_stack(f, 0, &h, 0, 2); /* the same stack again */
	lib_call(f, 0, FL_MALLOC, 0, 2, 32);
	/* the kernel saw a syscall while the library unwound: its own */
	kernel_fault(f, 100, mono_ns(), 1, 4, 1, FL_PRELOAD_OWN, 0x1000);
	assert_int_equal(f->out.n, 0);
	preload_snapshot(f->p);
	assert_int_equal(preload_flush(f->p), 0);
	assert_int_equal(f->out.n, 4);
	assert_int_equal(f->out.e[0].type, FL_EV_STACK);
	assert_int_equal(f->out.e[0].kind, FL_STACK_FOR_CALL | FL_STACK_IPS);
	assert_int_equal(f->out.e[0].func, FL_MALLOC);
	assert_int_equal(f->out.e[0].ip, ips[0]);
	assert_int_equal(f->out.e[0].len, 11 * sizeof(uint64_t));
	assert_int_equal(f->out.e[0].d[0], ips[1]);
	assert_int_equal(f->out.e[0].d[2], ips[3]);
	assert_int_equal(f->out.e[1].type, FL_EV_CALL);
	assert_int_equal(f->out.e[1].a0, 24);
	assert_int_equal(f->out.e[2].type, FL_EV_STACK);
	assert_int_equal(f->out.e[2].kind, FL_STACK_FOR_CALL | FL_STACK_IPS | FL_STACK_REPEAT);
	assert_int_equal(f->out.e[2].ip, h);
	assert_int_equal(f->out.e[2].len, 0);
	assert_int_equal(f->out.e[3].type, FL_EV_CALL);
	assert_int_equal(f->out.e[3].a0, 32);
}

static void test_probe_words(void **state)
{
	(void)state;
	assert_int_equal(probe_path_parse("auto"), FL_PROBES_AUTO);
	assert_int_equal(probe_path_parse("preload"), FL_PROBES_PRELOAD);
	assert_int_equal(probe_path_parse("uprobes"), FL_PROBES_UPROBES);
	assert_int_equal(probe_path_parse("kprobes"), -1);
	assert_string_equal(probe_path_name(FL_PROBES_PRELOAD), "preload");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kernel_record_after_its_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_by_time_exit_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_mapping_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_and_threads_by_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stack_groups, setup, teardown),
		cmocka_unit_test(test_probe_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
