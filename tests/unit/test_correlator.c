/* test_correlator.c - attribution: which call caused each syscall, which
 * block (or the allocator, or other memory) owns each fault. Synthetic
 * kernel records, in the order the ring buffer delivers them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "analyze/correlator.h"
#include "store/meta.h"

#define TGID 100
#define TID 100
#define HEAP 0x555555559000ull
#define MAP 0x7ffff7000000ull

struct capture {
	struct corr_item items[64];
	uint8_t recs[64][FL_EV_MAX_SIZE]; /* items[i].rec points here */
	uint64_t stack_ip[64];            /* the ip of items[i].stack, 0 without */
	uint32_t stack_len[64];
	int n;
};

static void capture_item(void *ctx, const struct corr_item *it)
{
	struct capture *cap = ctx;

	if (cap->n < 64) {
		cap->items[cap->n] = *it;
		memcpy(cap->recs[cap->n], it->rec, it->rec->type == FL_EV_SYSCALL ? sizeof(struct fl_ev_syscall)
			: it->rec->type == FL_EV_CALL ? sizeof(struct fl_ev_call) : sizeof(struct fl_ev_fault));
		cap->items[cap->n].rec = (const struct fl_hdr *)cap->recs[cap->n];
		cap->items[cap->n].block = NULL; /* not valid after the callback */
		cap->stack_ip[cap->n] = it->stack ? it->stack->ip : 0;
		cap->stack_len[cap->n] = it->stack ? it->stack->len : 0;
		cap->items[cap->n].stack = NULL;
		cap->n++;
	}
}

static struct fl_hdr hdr(uint8_t type, uint8_t func, uint16_t flags, uint32_t tid)
{
	static uint64_t ts = 1000;

	return (struct fl_hdr){ .type = type, .func = func, .flags = flags, .tid = tid, .tgid = TGID, .ts = ts++ };
}

static void feed_call(struct correlator *c, uint8_t func, uint64_t a0, uint64_t a2, uint64_t ret, uint16_t flags)
{
	struct fl_ev_call e = { .h = hdr(FL_EV_CALL, func, flags, TID), .a0 = a0, .a2 = a2, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_sys(struct correlator *c, uint32_t sys, int in_func, uint64_t a0, uint64_t a1, uint64_t a2,
		     uint64_t a3, int64_t ret)
{
	struct fl_ev_syscall e = {
		.h = hdr(FL_EV_SYSCALL, in_func < 0 ? FL_FUNC_NONE : in_func, in_func < 0 ? 0 : FL_F_IN_CALL, TID),
		.sys = sys, .args = { a0, a1, a2, a3, 0 }, .ret = ret };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

static void feed_fault(struct correlator *c, int in_func, uint64_t addr, uint16_t extra)
{
	struct fl_ev_fault e = {
		.h = hdr(FL_EV_FAULT, in_func < 0 ? FL_FUNC_NONE : in_func,
			 (in_func < 0 ? 0 : FL_F_IN_CALL) | FL_F_FAULT_WRITE | extra, TID),
		.addr = addr };

	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
}

/* A captured stack of len bytes for the thread's next record of that kind. */
static int feed_stack(struct correlator *c, uint32_t kind, uint64_t ip, uint32_t len, uint32_t claimed)
{
	struct {
		struct fl_ev_stack s;
		uint8_t data[256];
	} r = { .s = { .h = hdr(FL_EV_STACK, FL_FUNC_NONE, 0, TID), .len = claimed, .kind = kind, .ip = ip,
		       .sp = 0x7ffc0000 } };

	memset(r.data, 0xab, sizeof(r.data));
	return corr_feed(c, &r, sizeof(r.s) + len);
}

static struct correlator *setup_corr(struct capture *cap)
{
	struct correlator *c = corr_new(16);
	struct corr_sink s = { .item = capture_item, .ctx = cap };

	memset(cap, 0, sizeof(*cap));
	corr_add_sink(c, &s);
	/* the loader's brk(NULL) before any allocator call: the heap's start */
	feed_sys(c, FL_SYS_BRK, -1, 0, 0, 0, 0, HEAP);
	return c;
}

/* malloc(1): brk(NULL) and brk(+132 KiB) inside it, a fault on the chunk
 * header inside the call; the events arrive before the call's record. */
static void test_malloc_brk_attribution(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, 0, 0, 0, 0, HEAP);
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_fault(c, FL_MALLOC, HEAP + 0x298, 0);
	assert_int_equal(cap.n, 1); /* tagged events wait for their call */
	feed_call(c, FL_MALLOC, 1, 0, HEAP + 0x2a0, 0);
	assert_int_equal(cap.n, 5);
	assert_int_equal(cap.items[1].rec->type, FL_EV_CALL);
	assert_int_equal(cap.items[1].syscalls_caused, 2);
	assert_int_equal(cap.items[2].call_seq, cap.items[1].seq);
	assert_int_equal(cap.items[3].call_seq, cap.items[1].seq);
	assert_int_equal(cap.items[3].heap_new - cap.items[3].heap_old, 0x21000);
	assert_int_equal(cap.items[4].owner, FL_OWNER_ALLOCATION); /* header of the block being returned */
	assert_int_equal(cap.items[4].alloc_seq, cap.items[1].seq);
	assert_int_equal(s->by_caller[FL_MALLOC][FL_SYS_BRK], 2);
	assert_int_equal(s->by_caller[FL_CALLER_NONE][FL_SYS_BRK], 1);
	assert_int_equal(s->calls_with_syscall[FL_MALLOC], 1);
	assert_int_equal(s->peak_heap, 0x21000);
	assert_int_equal(s->alloc_faults_in_call, 1);
	corr_free(c);
}

/* An FL_STACK_IPS call stack (the preload library's, unwound) with its
 * addresses. */
static int feed_ips(struct correlator *c, uint32_t kind, uint64_t ip, const uint64_t *ret, unsigned n)
{
	struct {
		struct fl_ev_stack s;
		uint64_t data[8];
	} r = { .s = { .h = hdr(FL_EV_STACK, FL_MALLOC, 0, TID), .len = n * 8, .kind = kind, .ip = ip } };

	if (n)
		memcpy(r.data, ret, n * sizeof(uint64_t));
	return corr_feed(c, &r, sizeof(r.s) + n * 8);
}

/* --stacks=all on the preload path: a repeat names an earlier stack of the
 * thread by its hash; a hash the thread has not sent gives no stack; two
 * stacks in different cache slots are both found. */
static void test_ips_stack_repeats(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	uint64_t a[4] = { 0x1000, 0x401000, 0x402000, 0x403000 }, b[4] = { 0x1000, 0x405000, 0x406000, 0 };
	uint64_t ha = fl_ips_hash(a, 4), hb = fl_ips_hash(b, 3);
	uint32_t ips = FL_STACK_FOR_CALL | FL_STACK_IPS;
	(void)state;
	if (ha % FL_STACK_IPS_CACHE == hb % FL_STACK_IPS_CACHE) /* the test wants two slots */
		b[2] = 0x406010, hb = fl_ips_hash(b, 3);
	assert_int_not_equal(ha % FL_STACK_IPS_CACHE, hb % FL_STACK_IPS_CACHE);
	assert_int_equal(feed_ips(c, ips, a[0], a + 1, 3), 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x10, 0);
	assert_int_equal(feed_ips(c, ips, b[0], b + 1, 2), 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x30, 0);
	assert_int_equal(feed_ips(c, ips | FL_STACK_REPEAT, ha, NULL, 0), 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x50, 0);
	assert_int_equal(feed_ips(c, ips | FL_STACK_REPEAT, hb, NULL, 0), 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x70, 0);
	assert_int_equal(feed_ips(c, ips | FL_STACK_REPEAT, ha ^ 1, NULL, 0), 0); /* never sent */
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x90, 0);
	assert_int_equal(cap.n, 6);
	assert_int_equal(cap.stack_len[1], 24);
	assert_int_equal(cap.stack_len[2], 16);
	assert_int_equal(cap.stack_ip[3], 0x1000); /* a's again */
	assert_int_equal(cap.stack_len[3], 24);
	assert_int_equal(cap.stack_len[4], 16);   /* b's */
	assert_int_equal(cap.stack_ip[5], 0);     /* an empty one: not unwound */
	assert_int_equal(cap.stack_len[5], 0);
	corr_free(c);
}

/* A hostile file's FL_STACK_IPS stack as long as a record may be: hashed
 * and kept without a copy of its own (ASan would see an overflow). */
static void test_ips_stack_longest(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	size_t len = FL_MAX_STACK_BYTES;
	struct fl_ev_stack *s = calloc(1, sizeof(*s) + len);
	(void)state;
	assert_non_null(s);
	s->h = hdr(FL_EV_STACK, FL_MALLOC, 0, TID);
	s->len = (uint32_t)len;
	s->kind = FL_STACK_FOR_CALL | FL_STACK_IPS;
	s->ip = 0x1000;
	memset(s + 1, 0x41, len);
	assert_int_equal(corr_feed(c, s, sizeof(*s) + len), 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x10, 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.stack_len[1], len);
	free(s);
	corr_free(c);
}

/* --stacks: each stack record goes with the thread's next record of its
 * kind, through the pending list; a nested call takes none; a stack whose
 * length runs past the record is refused. */
static void test_stacks_follow_their_records(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);

	(void)state;
	/* a repeat with nothing to repeat: the next event has no stack */
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT | FL_STACK_REPEAT, 0x999, 0, 0), 0);
	feed_fault(c, -1, HEAP + 0x9000, 0);
	assert_int_equal(cap.stack_ip[1], 0);
	cap.n = 1;
	assert_int_equal(feed_stack(c, FL_STACK_FOR_CALL, 0x333, 64, 64), 0);
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT, 0x111, 128, 128), 0);
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT, 0x222, 8, 8), 0);
	feed_fault(c, FL_MALLOC, HEAP + 0x298, 0);
	feed_call(c, FL_MALLOC, 8, 0, HEAP + 0x10, FL_F_NESTED); /* nested: no stack of its own */
	feed_call(c, FL_MALLOC, 1, 0, HEAP + 0x2a0, 0);
	assert_int_equal(cap.n, 5);
	assert_int_equal(cap.items[1].rec->type, FL_EV_CALL);
	assert_int_equal(cap.stack_ip[1], 0x333);
	assert_int_equal(cap.stack_len[1], 64);
	assert_int_equal(cap.items[2].rec->type, FL_EV_SYSCALL);
	assert_int_equal(cap.stack_ip[2], 0x111);
	assert_int_equal(cap.stack_len[2], 128);
	assert_int_equal(cap.items[3].rec->type, FL_EV_FAULT);
	assert_int_equal(cap.stack_ip[3], 0x222);
	assert_int_equal(cap.items[4].rec->type, FL_EV_CALL); /* the nested one */
	assert_int_equal(cap.stack_ip[4], 0);
	/* an untagged fault takes its stack at once */
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT, 0x444, 16, 16), 0);
	feed_fault(c, -1, HEAP + 0x5000, 0);
	assert_int_equal(cap.n, 6);
	assert_int_equal(cap.stack_ip[5], 0x444);
	/* the next event has none left */
	feed_fault(c, -1, HEAP + 0x6000, 0);
	assert_int_equal(cap.stack_ip[6], 0);
	assert_int_equal(corr_stacks(c), 5);
	/* a repeat stands for the thread's last whole event stack (0x444's) */
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT | FL_STACK_REPEAT, 0x999, 0, 0), 0);
	feed_fault(c, -1, HEAP + 0x7000, 0);
	assert_int_equal(cap.stack_ip[7], 0x444);
	assert_int_equal(cap.stack_len[7], 16);
	/* a call stack is no event stack: a repeat after it still means 0x444 */
	assert_int_equal(feed_stack(c, FL_STACK_FOR_CALL, 0x777, 32, 32), 0);
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT | FL_STACK_REPEAT, 0x999, 0, 0), 0);
	feed_fault(c, -1, HEAP + 0x8000, 0);
	assert_int_equal(cap.stack_ip[8], 0x444);
	assert_int_equal(corr_stacks(c), 8);
	/* a stack that claims more bytes than the record has */
	assert_int_equal(feed_stack(c, FL_STACK_FOR_EVENT, 0x555, 16, 4096), -1);
	assert_int_equal(corr_bad_records(c), 1);
	corr_free(c);
}

/* Faults from the program after return: in a block, in the heap's free
 * space (allocator), and outside (other). */
static void test_fault_owners(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_call(c, FL_MALLOC, 0x100, 0, HEAP + 0x2a0, 0);
	feed_fault(c, -1, HEAP + 0x2a0 + 0x80, 0);      /* in the block */
	feed_fault(c, -1, HEAP + 0x10000, 0);           /* free space of the heap */
	feed_fault(c, -1, 0x7ffffffde000ull, 0);         /* the stack */
	feed_fault(c, -1, HEAP + 0x2a0, FL_F_FAULT_PRESENT | FL_F_FAULT_KERNEL); /* not a first touch */
	assert_int_equal(s->faults_owner[FL_OWNER_ALLOCATION], 2);
	assert_int_equal(s->faults_owner[FL_OWNER_ALLOCATOR], 1);
	assert_int_equal(s->faults_owner[FL_OWNER_OTHER], 1);
	assert_int_equal(s->first_touch, 3);
	assert_int_equal(s->faults_kernel, 1);
	assert_int_equal(s->faults_user, 3);
	assert_int_equal(cap.items[3].call_seq, 0);
	assert_int_equal(cap.items[3].alloc_seq, cap.items[1].seq);
	assert_true(cap.items[3].first_touch);
	assert_false(cap.items[6].first_touch);
	corr_free(c);
}

/* A block with its own mapping: mmap in malloc, munmap in free; the region
 * is allocator memory while mapped; the freed block leaves the index. */
static void test_mmap_block_lifecycle(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_MMAP, FL_MALLOC, 0, 135168, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, MAP);
	feed_call(c, FL_MALLOC, 131072, 0, MAP + 0x10, 0);
	assert_int_equal(s->peak_mmap, 135168);
	assert_int_equal(s->peak_live, 131072);
	feed_fault(c, -1, MAP + 0x20000, 0);        /* last page of the block... */
	feed_fault(c, -1, MAP + 0x20fff, 0);        /* ...and past its requested end: allocator */
	assert_int_equal(cap.items[3].owner, FL_OWNER_ALLOCATION);
	assert_int_equal(cap.items[4].owner, FL_OWNER_ALLOCATOR);
	feed_sys(c, FL_SYS_MUNMAP, FL_FREE, MAP, 135168, 0, 0, 0);
	feed_call(c, FL_FREE, 0, MAP + 0x10, 0, 0);
	assert_int_equal(s->by_caller[FL_FREE][FL_SYS_MUNMAP], 1);
	assert_int_equal(s->frees_returned, 1);
	assert_int_equal(s->cur_mmap, 0);
	assert_int_equal(s->cur_live, 0);
	feed_fault(c, -1, MAP + 0x10, 0); /* after munmap: nobody's */
	assert_int_equal(cap.items[cap.n - 1].owner, FL_OWNER_OTHER);
	corr_free(c);
}

/* free of a pointer never seen, free(NULL), and a free that keeps memory. */
static void test_free_kinds(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_call(c, FL_FREE, 0, 0xdead0, 0, 0);
	feed_call(c, FL_FREE, 0, 0, 0, 0);
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_call(c, FL_MALLOC, 32, 0, HEAP + 0x2a0, 0);
	feed_call(c, FL_FREE, 0, HEAP + 0x2a0, 0, 0);
	assert_int_equal(s->frees_unknown, 1);
	assert_int_equal(s->frees_null, 1);
	assert_int_equal(s->frees_kept, 2); /* the unknown one and the known one: no syscall */
	assert_true(cap.items[1].unknown_free);
	assert_int_equal(s->calls[FL_FREE], 3);
	corr_free(c);
}

/* A nested call (e.g. an allocator whose calloc calls malloc) is counted, but
 * the outer call alone owns the block and the syscalls. */
static void test_nested_call(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_CALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_call(c, FL_MALLOC, 400, 0, HEAP + 0x2a0, FL_F_NESTED | FL_F_IN_CALL);
	{
		struct fl_ev_call e = { .h = hdr(FL_EV_CALL, FL_CALLOC, 0, TID), .a0 = 10, .a1 = 40, .ret = HEAP + 0x2a0 };

		corr_feed(c, &e, sizeof(e));
	}
	assert_int_equal(s->calls[FL_MALLOC], 1);
	assert_int_equal(s->calls[FL_CALLOC], 1);
	assert_int_equal(s->calls_nested, 1);
	assert_int_equal(s->bytes_requested, 400);
	assert_int_equal(s->by_caller[FL_CALLOC][FL_SYS_BRK], 1);
	assert_int_equal(cap.items[1].rec->func, FL_CALLOC);
	assert_int_equal(cap.items[3].call_seq, cap.items[1].seq); /* the nested malloc */
	corr_free(c);
}

/* realloc that moves: the old block leaves, the new one enters, faults while
 * copying belong to the blocks they touch. */
static void test_realloc_move(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_call(c, FL_MALLOC, 100, 0, HEAP + 0x2a0, 0);
	feed_sys(c, FL_SYS_MMAP, FL_REALLOC, 0, 0x41000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, MAP);
	feed_fault(c, FL_REALLOC, MAP + 0x1000, 0);
	feed_call(c, FL_REALLOC, 0x40000, HEAP + 0x2a0, MAP + 0x10, 0);
	assert_int_equal(cap.items[cap.n - 1].owner, FL_OWNER_ALLOCATION);
	assert_int_equal(cap.items[cap.n - 1].alloc_seq, cap.items[cap.n - 3].seq);
	assert_int_equal(s->cur_live, 0x40000);
	assert_int_equal(s->by_caller[FL_REALLOC][FL_SYS_MMAP], 1);
	corr_free(c);
}

/* free written at its entry (no return probe): its munmap comes after its
 * record, tagged; the block leaves the index when the thread moves on. */
static void test_free_at_entry(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_MMAP, FL_MALLOC, 0, 135168, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, MAP);
	feed_call(c, FL_MALLOC, 131072, 0, MAP + 0x10, 0);
	feed_call(c, FL_FREE, 0, MAP + 0x10, 0, FL_F_AT_ENTRY);
	feed_fault(c, FL_FREE, MAP + 0x8, 0); /* free touching the header: the block is still live */
	feed_sys(c, FL_SYS_MUNMAP, FL_FREE, MAP, 135168, 0, 0, 0);
	assert_int_equal(cap.items[cap.n - 2].owner, FL_OWNER_ALLOCATION);
	assert_int_equal(cap.items[cap.n - 1].call_seq, cap.items[cap.n - 3].seq);
	assert_int_equal(s->by_caller[FL_FREE][FL_SYS_MUNMAP], 1);
	assert_int_equal(s->cur_live, 131072); /* free still in flight */
	feed_fault(c, -1, 0x7ffffffde000ull, 0); /* the thread moves on */
	assert_int_equal(s->cur_live, 0);
	assert_int_equal(s->frees_returned, 1);
	assert_int_equal(s->calls_with_syscall[FL_FREE], 1);
	/* a free that makes no syscall, ended by the next call */
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	feed_call(c, FL_MALLOC, 32, 0, HEAP + 0x2a0, 0);
	feed_call(c, FL_FREE, 0, HEAP + 0x2a0, 0, FL_F_AT_ENTRY);
	feed_call(c, FL_MALLOC, 32, 0, HEAP + 0x2a0, 0);
	assert_int_equal(s->frees_kept, 1);
	assert_int_equal(s->cur_live, 32);
	corr_finish(c);
	corr_free(c);
}

/* free(p[i]) in a loop: each free after the first enters where the first
 * did, so the kernel flags it nested in that free (FL_F_IN_FREE). Each is a
 * call of its own and releases its block; a nested free of the open free's
 * own pointer (delete tail-calling free) stays nested. A realloc resized in
 * place hands on the block as it was. */
static void test_free_loop(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);
	const uint16_t in_free = FL_F_AT_ENTRY | FL_F_NESTED | FL_F_IN_FREE;

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	for (int i = 0; i < 3; i++)
		feed_call(c, FL_MALLOC, 100, 0, HEAP + 0x2a0 + i * 0x70, 0);
	assert_int_equal(s->cur_live, 300);
	feed_call(c, FL_FREE, 0, HEAP + 0x2a0, 0, FL_F_AT_ENTRY);
	feed_call(c, FL_FREE, 0, HEAP + 0x310, 0, in_free);
	feed_call(c, FL_FREE, 0, HEAP + 0x380, 0, in_free);
	assert_non_null(cap.items[cap.n - 1].released);
	assert_int_equal(cap.items[cap.n - 1].call_seq, 0); /* not nested */
	feed_fault(c, -1, 0x7ffffffde000ull, 0); /* the thread moves on */
	assert_int_equal(s->cur_live, 0);
	assert_int_equal(s->calls_nested, 0);
	assert_int_equal(s->calls[FL_FREE], 3);
	/* real nesting: the same pointer freed inside the open free */
	feed_call(c, FL_MALLOC, 100, 0, HEAP + 0x2a0, 0);
	feed_call(c, FL_FREE, 0, HEAP + 0x2a0, 0, FL_F_AT_ENTRY);
	feed_call(c, FL_FREE, 0, HEAP + 0x2a0, 0, in_free);
	assert_int_equal(s->calls_nested, 1);
	assert_int_equal(cap.items[cap.n - 1].call_seq, cap.items[cap.n - 2].seq);
	feed_fault(c, -1, 0x7ffffffde000ull, 0);
	assert_int_equal(s->cur_live, 0);
	/* realloc in place: the block as it was is handed on */
	feed_call(c, FL_MALLOC, 100, 0, HEAP + 0x2a0, 0);
	feed_call(c, FL_REALLOC, 200, HEAP + 0x2a0, HEAP + 0x2a0, 0);
	assert_non_null(cap.items[cap.n - 1].released);
	assert_int_equal(s->cur_live, 200);
	corr_finish(c);
	corr_free(c);
}

/* Events tagged with a call that never returned are flushed at the end, not lost. */
static void test_orphans_flushed(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	const struct summary *s = corr_summary(c);

	(void)state;
	feed_sys(c, FL_SYS_BRK, FL_MALLOC, HEAP + 0x21000, 0, 0, 0, HEAP + 0x21000);
	assert_int_equal(s->syscalls[FL_SYS_BRK], 1);
	corr_finish(c);
	assert_int_equal(s->syscalls[FL_SYS_BRK], 2);
	assert_int_equal(s->orphan_events, 1);
	assert_int_equal(s->by_caller[FL_MALLOC][FL_SYS_BRK], 1);
	corr_free(c);
}

/* Short or unknown records are counted as bad, never read past their end. */
static void test_bad_records(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	uint8_t junk[8] = { FL_EV_SYSCALL, 0 };
	uint8_t unknown[64] = { 77 };

	(void)state;
	assert_int_equal(corr_feed(c, junk, sizeof(junk)), -1);
	assert_int_equal(corr_feed(c, unknown, sizeof(unknown)), -1);
	assert_int_equal(corr_feed(c, junk, 0), -1);
	assert_int_equal(corr_bad_records(c), 3);
	corr_free(c);
}

/* Meta records fill the run information. */
static void test_meta(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	uint8_t buf[sizeof(struct fl_meta) + 16] = { 0 };
	struct fl_meta *m = (struct fl_meta *)buf;

	(void)state;
	m->type = FL_REC_META;
	m->kind = FL_META_COMMAND;
	memcpy(buf + sizeof(*m), "ls\0-l\0", 6);
	corr_feed(c, buf, sizeof(*m) + 6);
	m->kind = FL_META_LOST;
	m->value = 7;
	corr_feed(c, buf, sizeof(*m));
	assert_int_equal(corr_run_info(c)->argc, 2);
	assert_string_equal(corr_run_info(c)->argv[1], "-l");
	assert_int_equal(corr_run_info(c)->lost, 7);
	corr_free(c);
}

/* Meta records past meta.h's limits are bad records, and nothing is kept
 * from them: a command of too many bytes or arguments, maps of too many
 * bytes or lines, a stack past FL_MAX_STACK_BYTES. Within them they count. */
static void test_record_limits(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	size_t big = FL_META_MAX_MAPS_BYTES + 64;
	uint8_t *buf = calloc(1, sizeof(struct fl_meta) + big);
	struct fl_meta *m = (struct fl_meta *)buf;
	struct fl_ev_stack *st = (struct fl_ev_stack *)buf;

	(void)state;
	assert_non_null(buf);
	m->type = FL_REC_META;
	m->kind = FL_META_COMMAND;
	memcpy(buf + sizeof(*m), "ok\0", 3);
	corr_feed(c, buf, sizeof(*m) + 3);
	assert_int_equal(corr_run_info(c)->argc, 1);
	/* FL_META_MAX_COMMAND_ARGS + 1 empty arguments, within the byte limit */
	memset(buf + sizeof(*m), 0, FL_META_MAX_COMMAND_ARGS + 1);
	corr_feed(c, buf, sizeof(*m) + FL_META_MAX_COMMAND_ARGS + 1);
	assert_int_equal(corr_bad_records(c), 1);
	/* exactly the limit: accepted, replacing the command */
	corr_feed(c, buf, sizeof(*m) + FL_META_MAX_COMMAND_ARGS);
	assert_int_equal(corr_bad_records(c), 1);
	assert_int_equal(corr_run_info(c)->argc, FL_META_MAX_COMMAND_ARGS);
	/* too many bytes (one argument) */
	memset(buf + sizeof(*m), 'a', FL_META_MAX_COMMAND_BYTES + 1);
	corr_feed(c, buf, sizeof(*m) + FL_META_MAX_COMMAND_BYTES + 1);
	assert_int_equal(corr_bad_records(c), 2);
	assert_int_equal(corr_run_info(c)->argc, FL_META_MAX_COMMAND_ARGS);
	/* maps: too many lines, too many bytes; then a good one */
	m->kind = FL_META_MAPS;
	memset(buf + sizeof(*m), '\n', FL_META_MAX_MAPS_LINES + 1);
	corr_feed(c, buf, sizeof(*m) + FL_META_MAX_MAPS_LINES + 1);
	assert_int_equal(corr_bad_records(c), 3);
	memset(buf + sizeof(*m), 'x', big);
	corr_feed(c, buf, sizeof(*m) + big);
	assert_int_equal(corr_bad_records(c), 4);
	corr_feed(c, buf, sizeof(*m) + 100);
	assert_int_equal(corr_bad_records(c), 4);
	/* a stack record longer than FL_MAX_STACK_BYTES */
	memset(buf, 0, sizeof(*st));
	st->h = hdr(FL_EV_STACK, FL_FUNC_NONE, 0, TID);
	st->kind = FL_STACK_FOR_EVENT;
	st->len = FL_MAX_STACK_BYTES + 8;
	assert_int_equal(corr_feed(c, buf, sizeof(*st) + st->len), -1);
	assert_int_equal(corr_bad_records(c), 5);
	st->len = 64;
	assert_int_equal(corr_feed(c, buf, sizeof(*st) + st->len), 0);
	assert_int_equal(corr_bad_records(c), 5);
	free(buf);
	corr_free(c);
}

/* Stacks that never meet their records (a thread per stack, no event):
 * the copies held stop at FL_MAX_HELD_STACK_BYTES and the rest are counted
 * as dropped; threads that exit give theirs back, and a stack then reaches
 * its syscall again. */
static void test_held_stacks_bounded(void **state)
{
	struct capture cap;
	struct correlator *c = setup_corr(&cap);
	size_t len = 60000, per = 2 * (sizeof(struct fl_ev_stack) + len); /* the slot and last whole */
	uint32_t threads = (uint32_t)(FL_MAX_HELD_STACK_BYTES / per) + 200;
	uint8_t *buf = calloc(1, sizeof(struct fl_ev_stack) + len);
	struct fl_ev_stack *st = (struct fl_ev_stack *)buf;
	struct fl_ev_syscall e;

	(void)state;
	assert_non_null(buf);
	for (uint32_t i = 0; i < threads; i++) {
		st->h = hdr(FL_EV_STACK, FL_FUNC_NONE, 0, 5000 + i);
		st->kind = FL_STACK_FOR_EVENT;
		st->len = (uint32_t)len;
		st->ip = 0x401000;
		assert_int_equal(corr_feed(c, buf, sizeof(*st) + len), 0);
	}
	assert_true(corr_stacks_dropped(c) >= 200);
	assert_int_equal(corr_bad_records(c), 0);
	for (uint32_t i = 0; i < threads; i++) {
		struct fl_ev_proc x = { .h = hdr(FL_EV_PROC, FL_FUNC_NONE, 0, 5000 + i), .kind = FL_PROC_EXIT };

		assert_int_equal(corr_feed(c, &x, sizeof(x)), 0);
	}
	cap.n = 0;
	st->h = hdr(FL_EV_STACK, FL_FUNC_NONE, 0, TID);
	st->ip = 0x402000;
	st->len = 256;
	assert_int_equal(corr_feed(c, buf, sizeof(*st) + 256), 0);
	e = (struct fl_ev_syscall){ .h = hdr(FL_EV_SYSCALL, FL_FUNC_NONE, 0, TID), .sys = FL_SYS_BRK, .ret = HEAP };
	assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
	assert_int_equal(cap.stack_ip[cap.n - 1], 0x402000);
	assert_int_equal(cap.stack_len[cap.n - 1], 256);
	free(buf);
	corr_free(c);
}

/* Many threads and processes: each keeps its own state (hash-table lookups,
 * not the neighbour's). */
static void test_many_threads(void **state)
{
	struct correlator *c = corr_new(16);

	(void)state;
	for (uint32_t i = 0; i < 50000; i++) {
		struct fl_ev_call e = { .h = hdr(FL_EV_CALL, FL_MALLOC, 0, 1000 + i), .a0 = 64,
					.ret = 0x100000 + (uint64_t)i * 128 };

		e.h.tgid = 1000 + i % 777;
		assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
	}
	for (uint32_t i = 0; i < 50000; i++) {
		struct fl_ev_call e = { .h = hdr(FL_EV_CALL, FL_FREE, 0, 1000 + i), .a2 = 0x100000 + (uint64_t)i * 128 };

		e.h.tgid = 1000 + i % 777;
		assert_int_equal(corr_feed(c, &e, sizeof(e)), 0);
	}
	corr_finish(c);
	assert_int_equal(corr_summary(c)->calls[FL_MALLOC], 50000);
	assert_int_equal(corr_summary(c)->frees_unknown, 0); /* each free found its process's block */
	assert_int_equal(corr_summary(c)->frees_kept, 50000);
	corr_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malloc_brk_attribution),
		cmocka_unit_test(test_stacks_follow_their_records),
		cmocka_unit_test(test_fault_owners),
		cmocka_unit_test(test_mmap_block_lifecycle),
		cmocka_unit_test(test_free_kinds),
		cmocka_unit_test(test_nested_call),
		cmocka_unit_test(test_realloc_move),
		cmocka_unit_test(test_free_at_entry),
		cmocka_unit_test(test_free_loop),
		cmocka_unit_test(test_orphans_flushed),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_record_limits),
		cmocka_unit_test(test_many_threads),
		cmocka_unit_test(test_held_stacks_bounded),
		cmocka_unit_test(test_ips_stack_repeats),
		cmocka_unit_test(test_ips_stack_longest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
