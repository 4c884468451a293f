/* test_event_codec.c - unit tests for the trace file's compact record form
 * (user/event_codec.c): byte-identical round trips of realistic and extreme
 * event sequences, meta and unknown records kept verbatim, per-block state,
 * version 1 framing, and truncated, garbled or random payloads (never a
 * crash, always an error for a cut-short payload).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/event_codec.h"
#include "faultline.h"
#include "store/meta.h"

#define MAX_OUT (256u << 20)

/* ---- a list of records to encode ---- */

struct rec {
	uint32_t len;
	unsigned char *p;
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static void recs_add(struct recs *rs, const void *p, uint32_t len)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 256;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		assert_non_null(rs->r);
	}
	rs->r[rs->n].len = len;
	rs->r[rs->n].p = malloc(len ? len : 1);
	assert_non_null(rs->r[rs->n].p);
	if (len)
		memcpy(rs->r[rs->n].p, p, len);
	rs->n++;
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].p);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct fl_hdr hdr(unsigned type, unsigned func, uint32_t tid, uint64_t ts)
{
	struct fl_hdr h = { .type = (uint8_t)type, .func = (uint8_t)func, .tid = tid,
			    .tgid = 1000, .cpu = tid % 4, .ts = ts };
	return h;
}

static void add_call(struct recs *rs, unsigned func, uint32_t tid, uint64_t ts, uint64_t a0,
		     uint64_t a2, uint64_t ret)
{
	struct fl_ev_call c = { .h = hdr(FL_EV_CALL, func, tid, ts), .a0 = a0, .a2 = a2,
				.ret = ret, .ts_ret = ts + 900 + rnd() % 200 };
	recs_add(rs, &c, sizeof(c));
}

static void add_meta(struct recs *rs, unsigned kind, const char *data)
{
	unsigned char buf[256];
	struct fl_meta m = { .type = FL_REC_META, .kind = (uint8_t)kind, .tgid = 1000, .value = 7 };
	size_t n = strlen(data);

	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), data, n);
	recs_add(rs, buf, (uint32_t)(sizeof(m) + n));
}

/* A recording-like sequence: meta records, then nthreads threads doing
 * malloc/free with faults and syscalls, interleaved. */
static void realistic(struct recs *rs, unsigned nthreads, unsigned nevents)
{
	uint64_t ts = 3092199261735ull, heap = 0x555555559000ull;

	add_meta(rs, FL_META_START, "12345678");
	add_meta(rs, FL_META_COMMAND, "churn\0001000");
	add_meta(rs, FL_META_MAPS, "555555554000-555555556000 r--p 00000000 08:01 1 /bin/x\n");
	for (unsigned i = 0; i < nevents; i++) {
		uint32_t tid = 30386 + (uint32_t)(rnd() % nthreads) * 7;
		uint64_t p = heap + (rnd() % 64) * 0x40;

		ts += 1000 + rnd() % 3000;
		switch (rnd() % 16) {
		case 0: {
			struct fl_ev_fault f = { .h = hdr(FL_EV_FAULT, FL_MALLOC, tid, ts), .addr = p + 4096,
						 .ip = 0x7ffff7e5a000ull + rnd() % 4096 };
			f.h.flags = FL_F_IN_CALL | FL_F_FAULT_WRITE;
			recs_add(rs, &f, sizeof(f));
			break;
		}
		case 1: {
			struct fl_ev_syscall s = { .h = hdr(FL_EV_SYSCALL, FL_MALLOC, tid, ts), .sys = FL_SYS_MMAP,
						   .args = { 0, 208896, 3, 0x22, (uint64_t)-1 },
						   .ret = 0x7ffff7d00000ll };
			s.h.flags = FL_F_IN_CALL;
			recs_add(rs, &s, sizeof(s));
			break;
		}
		case 2:
			add_call(rs, FL_REALLOC, tid, ts, 300, p, p + 0x100);
			break;
		default:
			add_call(rs, FL_MALLOC, tid, ts, 16u << (rnd() % 8), 0, p);
			ts += 2000;
			add_call(rs, FL_FREE, tid, ts, 0, p, 0);
		}
	}
	add_meta(rs, FL_META_END, "");
}

/* Every record type and field at its extremes. */
static void extremes(struct recs *rs)
{
	static const uint64_t v[] = { 0, 1, 0x7f, 0x80, 0x3fff, 0x4000, INT64_MAX,
				      (uint64_t)INT64_MIN, UINT64_MAX - 1, UINT64_MAX };
	const unsigned nv = sizeof(v) / sizeof(v[0]);

	for (unsigned i = 0; i < nv; i++) {
		uint64_t a = v[i], b = v[(i + 3) % nv];
		struct fl_ev_call c = { .h = { FL_EV_CALL, (uint8_t)(i % 3 ? i : 0xfe), (uint16_t)a,
					       (uint32_t)a, (uint32_t)b, (uint32_t)(a >> 32), a },
					.a0 = a, .a1 = b, .a2 = ~a, .ret = b ^ a, .ts_ret = b };
		struct fl_ev_syscall s = { .h = { FL_EV_SYSCALL, FL_FUNC_NONE, 0xffff, (uint32_t)b,
						  0, UINT32_MAX, b },
					   .sys = (uint32_t)a, .args = { a, b, ~a, ~b, 0 },
					   .ret = -(int64_t)(i + 1) };
		struct fl_ev_fault f = { .h = { FL_EV_FAULT, 0, FL_F_FAULT_KERNEL, (uint32_t)a, 1, 0, a },
					 .addr = b, .ip = a };
		struct fl_ev_proc p = { .h = { FL_EV_PROC, FL_FUNC_NONE, 0, 1, 1, 1, 0 },
					.kind = FL_PROC_EXIT, .child = (uint32_t)b,
					.exit_code = i % 2 ? INT32_MIN : INT32_MAX };
		struct fl_ev_reason r = { .h = { FL_EV_REASON, FL_MALLOC, 0, 5, 5, 5, b },
					  .kind = FL_R_BLOCK_MREMAP, .a = { a, b, 0, ~a, UINT64_MAX } };

		recs_add(rs, &c, sizeof(c));
		recs_add(rs, &s, sizeof(s));
		recs_add(rs, &f, sizeof(f));
		recs_add(rs, &p, sizeof(p));
		recs_add(rs, &r, sizeof(r));
	}
}

/* Records the codec must store verbatim: meta, unknown types, odd sizes,
 * non-zero padding, empty. */
static void oddities(struct recs *rs)
{
	unsigned char buf[300];
	struct fl_ev_syscall s = { .h = hdr(FL_EV_SYSCALL, FL_FUNC_NONE, 1, 5), .pad = 1 };
	struct fl_ev_proc p = { .h = hdr(FL_EV_PROC, FL_FUNC_NONE, 1, 5), .pad = 2 };
	struct fl_ev_reason r = { .h = hdr(FL_EV_REASON, FL_FUNC_NONE, 1, 5), .pad = 3 };
	struct fl_ev_call c = { .h = hdr(FL_EV_CALL, FL_MALLOC, 1, 5) };

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	recs_add(rs, buf, 0);
	buf[0] = 0x80;
	recs_add(rs, buf, 1);
	recs_add(rs, buf, 300);
	buf[0] = 9; /* an event type this codec does not know */
	recs_add(rs, buf, 64);
	buf[0] = 0;
	recs_add(rs, buf, 40);
	recs_add(rs, &s, sizeof(s));
	recs_add(rs, &p, sizeof(p));
	recs_add(rs, &r, sizeof(r));
	recs_add(rs, &c, sizeof(c) - 1); /* a call one byte short */
	memcpy(buf, &c, sizeof(c));
	recs_add(rs, buf, sizeof(c) + 8); /* and one with a tail */
	recs_add(rs, &c, 3);		  /* shorter than a header */
}

/* ---- encode / decode helpers ---- */

/* Encodes rs[from, to) as one block; returns a malloc'd payload. */
static unsigned char *encode_range(struct ec_encoder *e, const struct recs *rs, size_t from,
				   size_t to, size_t *n)
{
	struct ec_chunk ch[EC_CHUNKS];
	unsigned char *p;
	size_t total, off = 0;

	ec_encoder_reset(e);
	for (size_t i = from; i < to; i++)
		assert_int_equal(ec_encode(e, rs->r[i].p, rs->r[i].len), 0);
	assert_int_equal(ec_encoder_records(e), to - from);
	total = ec_encoder_payload(e, ch);
	assert_true(total <= ec_encoder_bytes(e));
	p = malloc(total ? total : 1);
	assert_non_null(p);
	for (int k = 0; k < EC_CHUNKS; k++) {
		if (ch[k].len)
			memcpy(p + off, ch[k].p, ch[k].len);
		off += ch[k].len;
	}
	assert_int_equal(off, total);
	*n = total;
	return p;
}

/* Stack records of nthreads threads, as --stacks writes them: each thread's
 * stack pointer wanders a little, most bytes stay as they were, some change;
 * lengths up to max_len (FL_STACK_MAX: the largest); one record whose length
 * field lies (kept verbatim). */
static void stacks(struct recs *rs, unsigned nthreads, unsigned n, uint32_t max_len)
{
	static unsigned char mem[64][FL_STACK_MAX + 4096]; /* each thread's "stack", from 0x7ffd0000 + k*64K */
	struct {
		struct fl_ev_stack s;
		unsigned char data[FL_STACK_MAX];
	} r;
	uint64_t ts = 5000;

	for (unsigned k = 0; k < 64; k++)
		for (size_t i = 0; i < sizeof(mem[k]); i++)
			mem[k][i] = (unsigned char)rnd();
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (unsigned)(rnd() % nthreads), slot = k % 64;
		uint64_t base = 0x7ffd00000000ull + (uint64_t)k * 0x10000, off = (rnd() % 64) * 8;

		memset(&r, 0, sizeof(r));
		r.s.h = (struct fl_hdr){ .type = FL_EV_STACK, .func = (uint8_t)(rnd() % 2 ? FL_MALLOC : FL_FUNC_NONE),
					 .flags = (uint16_t)(rnd() % 2), .tid = 1000 + k, .tgid = 1000,
					 .cpu = (uint32_t)(rnd() % 2), .ts = ts += rnd() % 5000 };
		r.s.kind = 1 + (uint32_t)(rnd() % 2);
		r.s.len = (uint32_t)(rnd() % (max_len + 1));
		r.s.ip = 0x555555554000ull + rnd() % 4096;
		r.s.sp = base + off;
		r.s.bp = rnd() % 3 ? r.s.sp + 64 : 0;
		if (rnd() % 4 == 0) /* a local changed */
			mem[slot][off + rnd() % (r.s.len + 1)] ^= 0x5a;
		memcpy(r.data, mem[slot] + off, r.s.len);
		recs_add(rs, &r, (uint32_t)(sizeof(r.s) + r.s.len));
	}
	r.s.len = 100; /* says 100, has 8 */
	recs_add(rs, &r, (uint32_t)sizeof(r.s) + 8);
}

static unsigned char *encode_all(const struct recs *rs, bool verbatim_only, size_t *n)
{
	struct ec_encoder *e = ec_encoder_new(verbatim_only);
	unsigned char *p;

	assert_non_null(e);
	p = encode_range(e, rs, 0, rs->n, n);
	ec_encoder_free(e);
	return p;
}

/* The decoder's records are exactly rs[from, from + count), 8-byte aligned. */
static void assert_decoded(struct ec_decoder *d, const struct recs *rs, size_t from, size_t count)
{
	const void *rec;
	uint32_t len;
	size_t i = from;

	while (ec_decoder_next(d, &rec, &len)) {
		assert_true(i < from + count);
		assert_int_equal((uintptr_t)rec % 8, 0);
		assert_int_equal(len, rs->r[i].len);
		if (len)
			assert_memory_equal(rec, rs->r[i].p, len);
		i++;
	}
	assert_int_equal(i, from + count);
}

static void round_trip(const struct recs *rs, bool verbatim_only)
{
	struct ec_decoder *d = ec_decoder_new();
	const char *why = NULL;
	unsigned char *p;
	size_t n;

	assert_non_null(d);
	p = encode_all(rs, verbatim_only, &n);
	assert_int_equal(ec_decode_block(d, p, n, MAX_OUT, &why), 0);
	assert_decoded(d, rs, 0, rs->n);
	free(p);
	ec_decoder_free(d);
}

/* ---- tests ---- */

static void test_realistic_round_trip(void **state)
{
	struct recs rs = { 0 };
	unsigned char *p;
	size_t n, raw = 0;

	(void)state;
	realistic(&rs, 1, 20000);
	round_trip(&rs, false);
	p = encode_all(&rs, false, &n);
	for (size_t i = 0; i < rs.n; i++)
		raw += rs.r[i].len;
	assert_true(n * 4 < raw); /* compact even before deflate */
	free(p);
	recs_free(&rs);
}

static void test_many_threads_interleaved(void **state)
{
	struct recs rs = { 0 };

	(void)state;
	realistic(&rs, 7, 5000);
	round_trip(&rs, false);
	recs_free(&rs);
	/* more threads than slots: evictions on both sides must agree */
	realistic(&rs, 3 * EC_SLOTS, 30000);
	round_trip(&rs, false);
	recs_free(&rs);
}

static void test_same_set_threads(void **state)
{
	struct recs rs = { 0 };
	uint32_t tids[3 * EC_WAYS];
	unsigned found = 0;

	(void)state;
	/* tids sharing one set (64 sets, Fibonacci hash of the top 6 bits) */
	for (uint32_t tid = 1; found < 3 * EC_WAYS; tid++)
		if ((tid * 0x9e3779b1u) >> 26 == 17)
			tids[found++] = tid;
	for (unsigned i = 0; i < 4000; i++)
		add_call(&rs, FL_MALLOC, tids[rnd() % (i < 2000 ? EC_WAYS + 1 : 3 * EC_WAYS)],
			 1000000 + i * 1000ull, 32, 0, 0x1000 + i);
	round_trip(&rs, false);
	recs_free(&rs);
}

static void test_extreme_values(void **state)
{
	struct recs rs = { 0 };

	(void)state;
	extremes(&rs);
	round_trip(&rs, false);
	recs_free(&rs);
}

static void test_every_record_type_alone(void **state)
{
	struct recs all = { 0 };

	(void)state;
	extremes(&all);
	for (size_t i = 0; i < all.n; i++) {
		struct recs one = { 0 };

		recs_add(&one, all.r[i].p, all.r[i].len);
		round_trip(&one, false);
		recs_free(&one);
	}
	recs_free(&all);
}

static void test_meta_and_unknown_verbatim(void **state)
{
	struct recs rs = { 0 };
	unsigned char *p;
	size_t n;

	(void)state;
	oddities(&rs);
	round_trip(&rs, false);
	/* a meta record appears as it is in the payload */
	p = encode_all(&rs, false, &n);
	assert_non_null(memmem(p, n, rs.r[2].p, rs.r[2].len));
	free(p);
	recs_free(&rs);

	realistic(&rs, 3, 500);
	oddities(&rs);
	extremes(&rs);
	round_trip(&rs, false);
	round_trip(&rs, true); /* everything verbatim */
	recs_free(&rs);
}

static void test_empty_block(void **state)
{
	struct recs rs = { 0 };
	struct ec_decoder *d = ec_decoder_new();
	const char *why;
	unsigned char *p;
	size_t n;

	(void)state;
	p = encode_all(&rs, false, &n);
	assert_int_equal(ec_decode_block(d, p, n, MAX_OUT, &why), 0);
	assert_decoded(d, &rs, 0, 0);
	free(p);
	ec_decoder_free(d);
}

static void test_blocks_decode_alone(void **state)
{
	struct recs rs = { 0 };
	struct ec_encoder *e = ec_encoder_new(false);
	struct ec_decoder *d = ec_decoder_new(), *fresh = ec_decoder_new();
	size_t cut[] = { 0, 1, 777, 1500, 4000, 0 }, n1, n2;
	unsigned char *b1, *b2;
	const char *why;

	(void)state;
	realistic(&rs, 5, 3000);
	cut[5] = rs.n;
	for (int k = 0; k + 1 < 6; k++) {
		b1 = encode_range(e, &rs, cut[k], cut[k + 1], &n1);
		/* a decoder that saw the blocks before and a new one agree */
		assert_int_equal(ec_decode_block(d, b1, n1, MAX_OUT, &why), 0);
		assert_decoded(d, &rs, cut[k], cut[k + 1] - cut[k]);
		assert_int_equal(ec_decode_block(fresh, b1, n1, MAX_OUT, &why), 0);
		assert_decoded(fresh, &rs, cut[k], cut[k + 1] - cut[k]);
		ec_decoder_free(fresh);
		fresh = ec_decoder_new();
		free(b1);
	}
	/* the same records give the same bytes after a reset */
	b1 = encode_range(e, &rs, 10, 900, &n1);
	b2 = encode_range(e, &rs, 10, 900, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	free(b1);
	free(b2);
	ec_encoder_free(e);
	ec_decoder_free(d);
	ec_decoder_free(fresh);
	recs_free(&rs);
}

/* --stacks records: byte-identical through the XOR with each thread's last
 * stack, across threads, slot evictions and stack pointers that move; a
 * stack taken again from the same place codes to (nearly) all zeros. */
static void test_stacks_round_trip(void **state)
{
	struct recs rs = { 0 };
	struct ec_encoder *e = ec_encoder_new(false);
	struct ec_chunk ch[EC_CHUNKS];
	struct {
		struct fl_ev_stack s;
		unsigned char data[4096];
	} r = { .s = { .h = { .type = FL_EV_STACK, .tid = 7, .tgid = 7 }, .kind = 1, .len = 4096,
		       .ip = 0x401000, .sp = 0x7ffc1000 } };
	size_t zeros = 0, n;

	(void)state;
	stacks(&rs, 3, 300, FL_STACK_MAX);
	round_trip(&rs, false);
	recs_free(&rs);
	stacks(&rs, 3 * EC_SLOTS, 2000, 512); /* more threads than slots */
	realistic(&rs, 5, 2000);              /* and other records between */
	stacks(&rs, 5, 200, 2048);
	round_trip(&rs, false);
	recs_free(&rs);

	for (size_t i = 0; i < sizeof(r.data); i++)
		r.data[i] = (unsigned char)rnd();
	assert_non_null(e);
	assert_int_equal(ec_encode(e, &r, sizeof(r)), 0);
	ec_encoder_reset(e);
	assert_int_equal(ec_encode(e, &r, sizeof(r)), 0);
	r.s.h.ts++;
	assert_int_equal(ec_encode(e, &r, sizeof(r)), 0); /* the same stack again */
	n = ec_encoder_payload(e, ch);
	assert_true(n > 2 * 4096);
	for (size_t i = ch[1].len - 4096; i < ch[1].len; i++)
		zeros += ch[1].p[i] == 0;
	assert_int_equal(zeros, 4096);
	ec_encoder_free(e);
}

/* Every strict prefix of a payload is an error, with a reason. */
static void test_truncated_payloads(void **state)
{
	struct recs rs = { 0 };
	struct ec_decoder *d = ec_decoder_new();
	unsigned char *p;
	size_t n;

	(void)state;
	realistic(&rs, 3, 300);
	oddities(&rs);
	extremes(&rs);
	stacks(&rs, 2, 12, 64);
	p = encode_all(&rs, false, &n);
	for (size_t cut = 0; cut < n; cut++) {
		unsigned char *c = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		const char *why = NULL;

		memcpy(c, p, cut);
		assert_int_equal(ec_decode_block(d, c, cut, MAX_OUT, &why), -1);
		assert_non_null(why);
		assert_null(strchr(why, '\n'));
		assert_decoded(d, &rs, 0, 0);
		free(c);
	}
	free(p);
	ec_decoder_free(d);
	recs_free(&rs);
}

/* Decodes a garbled payload: an error, or records that stay in bounds. */
static void decode_garbled(struct ec_decoder *d, const unsigned char *p, size_t n)
{
	unsigned char *c = malloc(n ? n : 1);
	const char *why = NULL;
	const void *rec;
	uint32_t len;
	size_t total = 0;

	memcpy(c, p, n);
	if (ec_decode_block(d, c, n, 1u << 24, &why) == 0) {
		while (ec_decoder_next(d, &rec, &len)) {
			assert_int_equal((uintptr_t)rec % 8, 0);
			total += EC_OUT_BYTES(len);
		}
		assert_true(total <= 1u << 24);
	} else {
		assert_non_null(why);
	}
	free(c);
}

static void test_random_mutations(void **state)
{
	struct recs rs = { 0 };
	struct ec_decoder *d = ec_decoder_new();
	unsigned char *p, *m;
	size_t n;

	(void)state;
	realistic(&rs, 4, 400);
	oddities(&rs);
	extremes(&rs);
	stacks(&rs, 3, 20, 96);
	p = encode_all(&rs, false, &n);
	m = malloc(n);
	for (unsigned round = 0; round < 20000; round++) {
		unsigned flips = 1 + (unsigned)(rnd() % 4);

		memcpy(m, p, n);
		for (unsigned f = 0; f < flips; f++) {
			size_t at = (size_t)(rnd() % n);

			if (rnd() % 2)
				m[at] ^= (unsigned char)(1u << (rnd() % 8));
			else
				m[at] = (unsigned char)rnd();
		}
		decode_garbled(d, m, round % 3 ? n : (size_t)(rnd() % n));
	}
	/* the pristine payload still decodes with the same decoder */
	{
		const char *why;

		assert_int_equal(ec_decode_block(d, p, n, MAX_OUT, &why), 0);
		assert_decoded(d, &rs, 0, rs.n);
	}
	free(m);
	free(p);
	ec_decoder_free(d);
	recs_free(&rs);
}

static void test_random_bytes(void **state)
{
	struct ec_decoder *d = ec_decoder_new();
	unsigned char buf[512];

	(void)state;
	for (unsigned round = 0; round < 20000; round++) {
		size_t n = (size_t)(rnd() % sizeof(buf));

		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rnd();
		if (n > 3 && round % 2) { /* a plausible prelude, random records */
			buf[0] = (unsigned char)(rnd() % 20);
			buf[1] = (unsigned char)(rnd() % 128);
			buf[2] = (unsigned char)(rnd() % n);
		}
		decode_garbled(d, buf, n);
	}
	ec_decoder_free(d);
}

/* Format version 4's layout: the argument stream between main and time. */
static void test_hand_built_version_4(void **state)
{
	struct ec_decoder *d = ec_decoder_new();
	const char *why;
	/* one malloc of thread 5 at time 100: main 5 bytes, arguments 2, time 3 */
	unsigned char ok[] = { 1, 72, 5, 2, FL_EV_CALL | EC_TAG_THREAD | EC_TAG_FUNC, 0, 5, FL_MALLOC, 0x09,
			       16, 0x20, 200, 1, 20 };
	const struct fl_ev_call *c;
	const void *rec;
	uint32_t len;

	(void)state;
	ec_decoder_set_format(d, 4);
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), 0);
	assert_true(ec_decoder_next(d, &rec, &len));
	c = rec;
	assert_int_equal(c->a0, 16);
	assert_int_equal(c->ret, 0x10);
	assert_int_equal(c->ts_ret, 110);
	/* ret by its age in the freed ring, empty yet (version 4: the bit is known, the age is not) */
	ok[8] = 0x21;
	ok[10] = 0;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ok[8] = 0x09;
	ok[10] = 0x20;
	/* an argument stream longer than the payload, or one byte short */
	ok[3] = 10;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ok[3] = 1;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	/* read as version 3 (no argument stream) it is malformed */
	ok[3] = 2;
	ec_decoder_set_format(d, 3);
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ec_decoder_free(d);
}

static void test_hand_built_errors(void **state)
{
	struct ec_decoder *d = ec_decoder_new();
	const char *why;
	/* one malloc of thread 5 at time 100 */
	unsigned char ok[] = { 1, 72, 7, FL_EV_CALL | EC_TAG_THREAD | EC_TAG_FUNC, 0, 5, FL_MALLOC,
			       0x09, 16, 0x20, 200, 1, 20 };
	unsigned char bad[sizeof(ok)];

	(void)state;
	ec_decoder_set_format(d, 3); /* the layout of versions 2 and 3: values in the main stream */
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), 0);
	{
		const struct fl_ev_call *c;
		const void *rec;
		uint32_t len;

		assert_true(ec_decoder_next(d, &rec, &len));
		assert_int_equal(len, sizeof(*c));
		c = rec;
		assert_int_equal(c->h.tid, 5);
		assert_int_equal(c->h.tgid, 5);
		assert_int_equal(c->h.ts, 100);
		assert_int_equal(c->ts_ret, 110);
		assert_int_equal(c->a0, 16);
		assert_int_equal(c->ret, 0x10);
		assert_false(ec_decoder_next(d, &rec, &len));
	}
	/* the first event of a block must name its thread */
	memcpy(bad, ok, sizeof(ok));
	bad[3] &= (unsigned char)~EC_TAG_THREAD;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	/* a slot that holds no thread */
	memcpy(bad, ok, sizeof(ok));
	bad[4] = 3;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	assert_non_null(strstr(why, "thread"));
	/* kinds 6 and 7, a verbatim tag with flag bits */
	memcpy(bad, ok, sizeof(ok));
	bad[3] = 6;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	bad[3] = 0x10;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	/* unknown call mask bits */
	memcpy(bad, ok, sizeof(ok));
	bad[7] = 0x49;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	/* version 3 knows no ring bits (ret or a2 by its age); a pointer coded
	 * both ways at once */
	memcpy(bad, ok, sizeof(ok));
	bad[7] = 0x21;
	bad[9] = 0;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	bad[7] = 0x11;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	memcpy(bad, ok, sizeof(ok));
	bad[7] = 0x29;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	/* output size that does not match, or over the caller's limit */
	memcpy(bad, ok, sizeof(ok));
	bad[1] = 80;
	assert_int_equal(ec_decode_block(d, bad, sizeof(ok), MAX_OUT, &why), -1);
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), 71, &why), -1);
	assert_non_null(strstr(why, "prelude"));
	/* a 10-byte varint with more than bit 63 in its last byte */
	{
		unsigned char big[] = { 1, 16, 11, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0 };

		assert_int_equal(ec_decode_block(d, big, sizeof(big), MAX_OUT, &why), -1);
		assert_non_null(strstr(why, "verbatim"));
		big[2] = 10; /* the same varint cut short */
		assert_int_equal(ec_decode_block(d, big, sizeof(big), MAX_OUT, &why), -1);
	}
	ec_decoder_free(d);
}

/* A ring of 64 live blocks on each of two threads, a random one freed and
 * the next allocation given back a block just freed (a size-class cache) or
 * a new one; now and then a block freed by the other thread, an allocation
 * that fails, a realloc in place and one that moves. skew (8) is XORed into
 * every pointer freed: then none was returned before, and no ring helps. */
static void hold_pattern(struct recs *rs, unsigned calls, uint64_t skew)
{
	uint64_t live[2][64], next[2] = { 0x555555560000ull, 0x7f0000001000ull }, freed[2][8] = { { 0 } };
	unsigned nfreed[2] = { 0 };
	uint64_t ts = 1000;

	for (unsigned t = 0; t < 2; t++)
		for (unsigned i = 0; i < 64; i++) {
			live[t][i] = next[t];
			next[t] += 16 * (1 + rnd() % 256);
			add_call(rs, FL_MALLOC, 10 + t, ts += 50, 16 + i, 0, live[t][i]);
		}
	for (unsigned k = 0; k < calls; k++) {
		unsigned t = rnd() % 2, i = rnd() % 64, o = rnd() % 97 == 0;
		uint64_t p = live[t ^ o][i], r;

		add_call(rs, FL_FREE, 10 + t, ts += 40, 0, p ^ skew, 0); /* o: the other thread's block */
		freed[t][nfreed[t]++ % 8] = p;
		if (rnd() % 101 == 0) {
			add_call(rs, FL_MALLOC, 10 + t, ts += 40, 1ull << 40, 0, 0); /* fails */
			r = next[t];
			next[t] += 4096;
		} else if (rnd() % 3 && nfreed[t]) {
			r = freed[t][(nfreed[t] - 1 - rnd() % (nfreed[t] < 8 ? nfreed[t] : 8)) % 8];
		} else {
			r = next[t];
			next[t] += 16 * (1 + rnd() % 256);
		}
		if (rnd() % 53 == 0) {
			add_call(rs, FL_REALLOC, 10 + t, ts += 40, 100, live[t ^ o][(i + 1) % 64] ^ skew, r);
		} else {
			add_call(rs, FL_MALLOC, 10 + t, ts += 40, 16 + rnd() % 4000, 0, r);
		}
		live[t ^ o][i] = r;
	}
}

/* rs decoded from p by d: the calls' times rounded down to res, all else
 * byte-identical. */
static void assert_decoded_at_res(struct ec_decoder *d, const struct recs *rs, uint64_t res)
{
	const void *rec;
	uint32_t len;
	size_t i = 0, calls = 0;

	while (ec_decoder_next(d, &rec, &len)) {
		const struct fl_ev_call *orig = (const void *)rs->r[i].p;

		assert_true(i < rs->n);
		assert_int_equal(len, rs->r[i].len);
		if (len == sizeof(struct fl_ev_call) && orig->h.type == FL_EV_CALL) {
			struct fl_ev_call want = *orig;

			want.h.ts = orig->h.ts / res * res;
			want.ts_ret = orig->ts_ret / res * res;
			assert_memory_equal(rec, &want, len);
			calls++;
		} else if (len) {
			assert_memory_equal(rec, rs->r[i].p, len);
		}
		i++;
	}
	assert_int_equal(i, rs->n);
	assert_true(calls > rs->n / 4);
	assert_int_equal(d->time_res, res);
}

/* A coarser call time resolution: the calls' times come back rounded down,
 * other events' exact, and the time stream shrinks; a resolution set while a
 * block is filled applies from the next one. */
static void test_call_time_resolution(void **state)
{
	struct recs rs = { 0 };
	struct ec_encoder *e = ec_encoder_new(false);
	struct ec_decoder *d = ec_decoder_new();
	struct ec_chunk ch[EC_CHUNKS];
	const char *why;
	unsigned char *p;
	size_t n, exact_time, coarse_time;

	(void)state;
	realistic(&rs, 3, 20000);
	p = encode_range(e, &rs, 0, rs.n, &n);
	ec_encoder_payload(e, ch);
	exact_time = ch[EC_CHUNKS - 1].len;
	assert_int_equal(ec_decode_block(d, p, n, MAX_OUT, &why), 0);
	assert_decoded_at_res(d, &rs, 1);
	free(p);

	ec_encoder_reset(e);
	assert_int_equal(ec_encode(e, rs.r[0].p, rs.r[0].len), 0);
	ec_encoder_set_time_res(e, 10000); /* a record in: from the next block */
	ec_encoder_payload(e, ch);
	assert_int_equal(ch[0].p[2], 1);

	p = encode_range(e, &rs, 0, rs.n, &n);
	ec_encoder_payload(e, ch);
	coarse_time = ch[EC_CHUNKS - 1].len;
	assert_int_equal(ec_decode_block(d, p, n, MAX_OUT, &why), 0);
	assert_decoded_at_res(d, &rs, 10000);
	print_message("time stream: %zu bytes exact, %zu to 10 us\n", exact_time, coarse_time);
	assert_true(coarse_time < exact_time * 3 / 4);
	free(p);
	ec_encoder_free(e);
	ec_decoder_free(d);
	recs_free(&rs);
}

/* Format version 5's layout: the time resolution, then the value streams,
 * each value's first varint byte apart from the rest. */
static void test_hand_built_version_5(void **state)
{
	struct ec_decoder *d = ec_decoder_new();
	const char *why;
	/* one malloc(300) of thread 5 at time 100 (to 10 ns) returning 0x10 */
	unsigned char ok[] = { 1, 72, 10, 5, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, /* prelude */
			       FL_EV_CALL | EC_TAG_THREAD | EC_TAG_FUNC, 0, 5, FL_MALLOC, 0x09, /* main */
			       0xac, 0x02, 0x20, /* 300 = 44 + 2 << 7; ret 0x10 as a zigzag delta */
			       20, 2 };          /* 10 units after 0, lasting 1 */
	const struct fl_ev_call *c;
	const void *rec;
	uint32_t len;

	(void)state;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), 0);
	assert_true(ec_decoder_next(d, &rec, &len));
	c = rec;
	assert_int_equal(c->a0, 300);
	assert_int_equal(c->ret, 0x10);
	assert_int_equal(c->h.ts, 100);
	assert_int_equal(c->ts_ret, 110);
	assert_int_equal(d->time_res, 10);
	/* the rest of a varint that does not go on (not the shortest form) */
	ok[20] = 0;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ok[20] = 2;
	/* a resolution of 0 */
	ok[2] = 0;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	assert_non_null(strstr(why, "prelude"));
	ok[2] = 10;
	/* the size's first byte in the wrong stream (an age's): a stream short, another left over */
	ok[4] = 0;
	ok[6] = 1;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ok[4] = 1;
	ok[6] = 0;
	/* value streams longer than the payload */
	ok[13] = 40;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), -1);
	ok[13] = 0;
	assert_int_equal(ec_decode_block(d, ok, sizeof(ok), MAX_OUT, &why), 0);
	ec_decoder_free(d);
}

/* Format version 4's rings: byte-identical round trip, and a free or an
 * allocation named by its place in a ring costs fewer bytes than an address
 * delta (the same pattern with its frees skewed, where no ring helps: more
 * than 1.2 bytes a call fewer). */
static size_t call_bytes(const struct recs *rs)
{
	struct ec_encoder *e = ec_encoder_new(false);
	struct ec_chunk chunk[EC_CHUNKS];
	size_t n;

	assert_non_null(e);
	for (size_t i = 0; i < rs->n; i++)
		assert_int_equal(ec_encode(e, rs->r[i].p, rs->r[i].len), 0);
	ec_encoder_payload(e, chunk);
	n = 0;
	for (unsigned i = 1; i < EC_CHUNKS - 1; i++) /* tags and masks, and the values */
		n += chunk[i].len;
	ec_encoder_free(e);
	return n;
}

static void test_pointer_rings(void **state)
{
	struct recs rs = { 0 }, skewed = { 0 };
	size_t ringed, plain;
	uint64_t seed = rng_state;

	(void)state;
	hold_pattern(&rs, 50000, 0);
	rng_state = seed;
	hold_pattern(&skewed, 50000, 8);
	round_trip(&rs, false);
	round_trip(&skewed, false);
	ringed = call_bytes(&rs);
	plain = call_bytes(&skewed);
	print_message("hold pattern, %zu calls: main and argument streams %.2f bytes a call with the rings, %.2f without\n",
		      rs.n, (double)ringed / (double)rs.n, (double)plain / (double)rs.n);
	/* a pair's free and its reused block: 1 byte each, against 3 for a delta */
	assert_true(plain > ringed + rs.n * 6 / 5);
	recs_free(&rs);
	recs_free(&skewed);
}

static void test_version_1_framing(void **state)
{
	struct ec_decoder *d = ec_decoder_new();
	unsigned char raw[] = { 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 9, 0, 0, 0,
				1, 2, 3, 4, 5, 6, 7, 8, 9 };
	const void *rec;
	uint32_t len;
	const char *why;

	(void)state;
	assert_int_equal(ec_decode_framed(d, raw, sizeof(raw), MAX_OUT, &why), 0);
	assert_true(ec_decoder_next(d, &rec, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(rec, "ab", 2);
	assert_true(ec_decoder_next(d, &rec, &len));
	assert_int_equal(len, 0);
	assert_true(ec_decoder_next(d, &rec, &len));
	assert_int_equal(len, 9);
	assert_int_equal((uintptr_t)rec % 8, 0);
	assert_memory_equal(rec, raw + 14, 9);
	assert_false(ec_decoder_next(d, &rec, &len));
	for (size_t cut = 1; cut < sizeof(raw); cut++)
		if (cut != 6 && cut != 10)
			assert_int_equal(ec_decode_framed(d, raw, cut, MAX_OUT, &why), -1);
	assert_int_equal(ec_decode_framed(d, raw, sizeof(raw), 16, &why), -1);
	ec_decoder_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realistic_round_trip),
		cmocka_unit_test(test_stacks_round_trip),
		cmocka_unit_test(test_many_threads_interleaved),
		cmocka_unit_test(test_same_set_threads),
		cmocka_unit_test(test_extreme_values),
		cmocka_unit_test(test_every_record_type_alone),
		cmocka_unit_test(test_meta_and_unknown_verbatim),
		cmocka_unit_test(test_empty_block),
		cmocka_unit_test(test_blocks_decode_alone),
		cmocka_unit_test(test_truncated_payloads),
		cmocka_unit_test(test_random_mutations),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_hand_built_errors),
		cmocka_unit_test(test_hand_built_version_4),
		cmocka_unit_test(test_hand_built_version_5),
		cmocka_unit_test(test_call_time_resolution),
		cmocka_unit_test(test_pointer_rings),
		cmocka_unit_test(test_version_1_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
