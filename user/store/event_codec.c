/* event_codec.c - the compact form of a trace file's records (format
 * versions 2 to 5): ec_encoder (records -> payload of one block, version 5) and ec_decoder
 * (payload -> byte-identical aligned records, rejecting any malformed input
 * without reading out of bounds). The layout is described in event_codec.h;
 * the per-type bodies are:
 *   call:    mask byte (bit 0 a0, 1 a1, 2 a2, 3 ret: set when non-zero), then
 *            (in the value streams from version 5 on, enum val; in the
 *            argument stream in 4; in the main stream before) a0, a1 varints, a2 and ret zigzag deltas against the thread's
 *            last pointer (a2 becomes the last pointer before ret is coded);
 *            from format version 4, bit 4 instead of 2: a2 is the varint age
 *            k of a pointer in the thread's live ring (the (k+1)th last one
 *            its calls returned: a free of a block it allocated), bit 5
 *            instead of 3: ret is the (k+1)th last pointer in its freed ring
 *            (the allocator handed back a block just freed). A call's a2
 *            then goes into the freed ring, its ret into the live ring
 *   syscall: varint sys, mask byte (bits 0-4 args, 5 ret), each zigzag
 *   fault:   addr, ip: zigzag deltas against the thread's last fault's
 *   proc:    varint kind, varint child, zigzag exit_code
 *   reason:  varint kind, mask byte (bits 0-4), each a[i] zigzag
 *   stack:   varint kind, varint len, ip, sp, bp zigzag deltas against the
 *            thread's last stack's, then the len bytes, each XORed with the
 *            byte at the same address in the thread's last stack where the
 *            two overlap: a stack taken again from the same place is mostly
 *            zeros, which the compressor takes fast and small
 */
#include "store/event_codec.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faultline.h"

_Static_assert(sizeof(struct fl_hdr) == 24, "fl_hdr layout");
_Static_assert(sizeof(struct fl_ev_call) == 64, "fl_ev_call layout");
_Static_assert(sizeof(struct fl_ev_syscall) == 80, "fl_ev_syscall layout");
_Static_assert(sizeof(struct fl_ev_fault) == 40, "fl_ev_fault layout");
_Static_assert(sizeof(struct fl_ev_proc) == 40, "fl_ev_proc layout");
_Static_assert(sizeof(struct fl_ev_reason) == 72, "fl_ev_reason layout");
/* Format version 2 predicts the times of the first EC_NFUNC entry points
 * (fl_funcs.h's first ten lines, which never change); lines added after them
 * are coded without that prediction. Changing EC_NFUNC changes the format. */
_Static_assert(EC_NFUNC <= FL_NFUNC, "the entry points whose times are predicted exist");

/* Worst-case main-stream bytes of an event besides a verbatim record's data. */
#define EVENT_MAIN_MAX 128
#define EVENT_TIME_MAX 20
#define EVENT_VAL_MAX 20 /* bytes of a call's values in any one value stream (two varints) */
#define VAL_ROOM_RECORDS 64u /* records the value streams are made room for at a time */

/* ---- shared: zigzag, thread slots ---- */

union event {
	struct fl_hdr h;
	struct fl_ev_call call;
	struct fl_ev_syscall sys;
	struct fl_ev_fault fault;
	struct fl_ev_proc proc;
	struct fl_ev_reason reason;
};

/* A call's value streams (format version 5), by the values they hold. */
enum val {
	VAL_ARG,       /* a0, a1: sizes, counts, alignments */
	VAL_A2_AGE,    /* a2 (a pointer passed in) as its age in the live ring */
	VAL_A2_DELTA,  /* a2 as a delta against the thread's last pointer */
	VAL_RET_AGE,   /* ret as its age in the freed ring */
	VAL_RET_DELTA, /* ret as a delta */
};
_Static_assert(VAL_RET_DELTA + 1 == EC_VALS, "one pair of streams each");

/* A time in units of the resolution r (r 1: exact, no division). */
static inline uint64_t in_units(uint64_t ts, uint64_t r)
{
	return r > 1 ? ts / r : ts;
}

static inline uint64_t zigzag(uint64_t delta)
{
	return (delta << 1) ^ (uint64_t)-(int64_t)(delta >> 63);
}

static inline uint64_t unzigzag(uint64_t v)
{
	return (v >> 1) ^ (uint64_t)-(int64_t)(v & 1);
}

static void state_reset(struct ec_state *st)
{
	memset(st, 0, sizeof(*st));
}

static inline unsigned set_of(uint32_t tid)
{
	return (unsigned)((tid * 0x9e3779b1u) >> 26) * EC_WAYS; /* 64 sets */
}

_Static_assert(EC_SETS == 64, "set_of assumes 64 sets");

static struct ec_thread *thread_find(struct ec_state *st, uint32_t tid)
{
	struct ec_thread *t = &st->slot[set_of(tid)];

	for (unsigned w = 0; w < EC_WAYS; w++)
		if (t[w].last_use && t[w].tid == tid)
			return &t[w];
	return NULL;
}

/* Takes the least recently used (or an empty) slot of tid's set for a new
 * thread: encoder and decoder evict the same one. */
static struct ec_thread *thread_add(struct ec_state *st, uint32_t tid)
{
	struct ec_thread *t = &st->slot[set_of(tid)], *victim = t;

	for (unsigned w = 1; w < EC_WAYS; w++)
		if (t[w].last_use < victim->last_use)
			victim = &t[w];
	memset(victim, 0, sizeof(*victim));
	victim->tid = tid;
	victim->tgid = tid;
	victim->ts = st->ts;
	return victim;
}

/* ---- encoder ---- */

static int buf_grow(struct ec_buf *b, size_t more)
{
	size_t n = b->cap ? b->cap : 4096;
	unsigned char *p;

	while (n - b->len < more)
		n *= 2;
	p = realloc(b->p, n);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->p = p;
	b->cap = n;
	return 0;
}

static inline int buf_reserve(struct ec_buf *b, size_t more)
{
	return b->cap - b->len >= more ? 0 : buf_grow(b, more);
}

/* Writes a varint at p (room for 10 bytes); returns the bytes written. */
static inline size_t varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Unchecked appends: ec_encode reserved the room first. */
static inline void put_byte(struct ec_buf *b, unsigned v)
{
	b->p[b->len++] = (unsigned char)v;
}

static inline void put_varint(struct ec_buf *b, uint64_t v)
{
	b->len += varint_put(b->p + b->len, v);
}

struct ec_encoder *ec_encoder_new(bool verbatim_only)
{
	struct ec_encoder *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->verbatim_only = verbatim_only;
	e->time_res = e->next_time_res = 1;
	return e;
}

void ec_encoder_set_time_res(struct ec_encoder *e, uint64_t ns)
{
	e->next_time_res = ns < 1 ? 1 : ns > EC_MAX_TIME_RES ? EC_MAX_TIME_RES : ns;
	if (!e->records) /* nothing coded with the old one yet */
		e->time_res = e->next_time_res;
}

void ec_encoder_free(struct ec_encoder *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < EC_SLOTS; i++)
		free(e->stack_buf[i]);
	free(e->main.p);
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
		free(e->val[i].p);
	free(e->time.p);
	free(e);
}

void ec_encoder_reset(struct ec_encoder *e)
{
	state_reset(&e->st);
	e->main.len = 0;
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
		e->val[i].len = 0;
	e->time.len = 0;
	e->records = 0;
	e->out_bytes = 0;
	e->val_room = 0;
	e->time_res = e->next_time_res;
}

size_t ec_encoder_payload(struct ec_encoder *e, struct ec_chunk chunk[EC_CHUNKS])
{
	size_t n = varint_put(e->prelude, e->records), total;

	n += varint_put(e->prelude + n, e->out_bytes);
	n += varint_put(e->prelude + n, e->time_res);
	n += varint_put(e->prelude + n, e->main.len);
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
		n += varint_put(e->prelude + n, e->val[i].len);
	chunk[0] = (struct ec_chunk){ e->prelude, n };
	chunk[1] = (struct ec_chunk){ e->main.p, e->main.len };
	total = n + e->main.len + e->time.len;
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++) {
		chunk[2 + i] = (struct ec_chunk){ e->val[i].p, e->val[i].len };
		total += e->val[i].len;
	}
	chunk[2 + EC_VAL_STREAMS] = (struct ec_chunk){ e->time.p, e->time.len };
	return total;
}

/* True if rec is an event the compact form reproduces exactly: a known type,
 * its exact size, zero padding. */
static bool encodable(const void *rec, uint32_t len)
{
	struct fl_hdr h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, rec, sizeof(h));
	if (fl_event_size(h.type) != len)
		return false;
	if (h.type == FL_EV_SYSCALL) {
		struct fl_ev_syscall s;

		memcpy(&s, rec, sizeof(s));
		return s.pad == 0;
	}
	if (h.type == FL_EV_PROC) {
		struct fl_ev_proc p;

		memcpy(&p, rec, sizeof(p));
		return p.pad == 0;
	}
	if (h.type == FL_EV_REASON) {
		struct fl_ev_reason r;

		memcpy(&r, rec, sizeof(r));
		return r.pad == 0;
	}
	return true;
}

/* A stack record the compact form reproduces: its length is its header's. */
static bool stack_encodable(const void *rec, uint32_t len)
{
	struct fl_ev_stack s;

	if (len < sizeof(s))
		return false;
	memcpy(&s, rec, sizeof(s));
	return s.h.type == FL_EV_STACK && s.len <= FL_STACK_MAX && len == sizeof(s) + s.len;
}

/* XORs dst (the stack bytes at address sp) with the thread's last stack
 * where their addresses overlap: the same on both sides of the codec. */
static void xor_with_last(unsigned char *dst, uint64_t sp, uint32_t len, const struct ec_thread *t,
			  const unsigned char *last)
{
	uint64_t lo = sp > t->stack_sp ? sp : t->stack_sp;
	uint64_t hi_new = sp + len, hi_old = t->stack_sp + t->stack_len;
	uint64_t hi = hi_new < hi_old ? hi_new : hi_old;

	if (!last || !t->stack_len || lo >= hi || hi_new < sp || hi_old < t->stack_sp)
		return;
	for (uint64_t a = lo; a < hi; a++)
		dst[a - sp] ^= last[a - t->stack_sp];
}

/* The slot's stack buffer (made on first use), or NULL when out of memory. */
static unsigned char *stack_buf_of(ec_stack_bufs bufs, const struct ec_state *st, const struct ec_thread *t)
{
	size_t i = (size_t)(t - st->slot);

	if (!bufs[i])
		bufs[i] = malloc(FL_STACK_MAX);
	return bufs[i];
}

static void remember_stack(struct ec_thread *t, unsigned char *buf, const struct fl_ev_stack *s,
			   const unsigned char *data)
{
	if (s->len == 0)
		return; /* a repeat (or an empty copy): the last whole stack stays the reference */
	t->stack_ip = s->ip;
	t->stack_sp = s->sp;
	t->stack_bp = s->bp;
	t->stack_len = buf ? s->len : 0;
	if (buf && s->len)
		memcpy(buf, data, s->len);
}

static void encode_verbatim(struct ec_encoder *e, const void *rec, uint32_t len)
{
	put_byte(&e->main, 0);
	put_varint(&e->main, len);
	if (len)
		memcpy(e->main.p + e->main.len, rec, len);
	e->main.len += len;
}

/* Tag and header fields; returns the event's thread. */
static struct ec_thread *encode_header(struct ec_encoder *e, const struct fl_hdr *h)
{
	struct ec_state *st = &e->st;
	struct ec_thread *t = st->cur;
	unsigned tag = h->type;
	size_t tag_at = e->main.len;

	put_byte(&e->main, 0); /* the tag, filled in below */
	if (!t || t->tid != h->tid) {
		tag |= EC_TAG_THREAD;
		t = thread_find(st, h->tid);
		if (t) {
			put_varint(&e->main, (uint64_t)(t - st->slot) + 1);
		} else {
			put_varint(&e->main, 0);
			put_varint(&e->main, h->tid);
			t = thread_add(st, h->tid);
		}
	}
	if (h->cpu != t->cpu) {
		tag |= EC_TAG_CPU;
		put_varint(&e->main, h->cpu);
	}
	if (h->tgid != t->tgid) {
		tag |= EC_TAG_TGID;
		put_varint(&e->main, h->tgid);
	}
	if (h->flags) {
		tag |= EC_TAG_FLAGS;
		put_varint(&e->main, h->flags);
	}
	if (h->func != FL_FUNC_NONE) {
		tag |= EC_TAG_FUNC;
		put_byte(&e->main, h->func);
	}
	e->main.p[tag_at] = (unsigned char)tag;
	t->cpu = h->cpu;
	t->tgid = h->tgid;
	t->last_use = ++st->clock;
	st->cur = t;
	return t;
}

/* A call's entry and return times in units of the resolution, each against
 * the thread's previous call of the same func; returns its return time as
 * the decoder will have it (rounded down). */
static uint64_t encode_call_times(struct ec_encoder *e, struct ec_thread *t, const struct fl_ev_call *c)
{
	uint64_t r = e->time_res, ts = in_units(c->h.ts, r), ts_ret = in_units(c->ts_ret, r);
	uint64_t gap = ts - in_units(t->ts, r), dur = ts_ret - ts;
	if (c->h.func < EC_NFUNC) {
		put_varint(&e->time, zigzag(gap - t->gap[c->h.func]));
		put_varint(&e->time, zigzag(dur - t->dur[c->h.func]));
		t->gap[c->h.func] = gap;
		t->dur[c->h.func] = dur;
	} else {
		put_varint(&e->time, zigzag(gap));
		put_varint(&e->time, zigzag(dur));
	}
	return ts_ret * r;
}

static inline struct ec_hint *hint_of(struct ec_hint *table, uint64_t ptr, uint32_t slot)
{
	return &table[((ptr >> 4) ^ slot) * 0x9e3779b97f4a7c15ull >> 52];
}

_Static_assert(EC_HINTS == 1u << 12, "hint_of keeps 12 bits");

/* The age of ptr in a ring of size (a power of two) holding n pointers, as
 * the hint has it: its index from the newest, or -1 if not there. */
static inline int64_t ring_age(const struct ec_hint *h, uint64_t ptr, uint32_t slot, const uint64_t *ring,
			       uint32_t n, uint32_t size)
{
	uint32_t k = n - 1 - h->n;

	if (h->ptr != ptr || h->slot != slot || h->n >= n || k >= size || ring[h->n & (size - 1)] != ptr)
		return -1;
	return k;
}

/* The pointers a call passes and returns into the thread's rings (both sides). */
static inline void ring_push(struct ec_thread *t, const struct fl_ev_call *c)
{
	if (c->a2)
		t->freed[t->nfreed++ & (EC_FREED_RING - 1)] = c->a2;
	if (c->ret)
		t->live[t->nlive++ & (EC_LIVE_RING - 1)] = c->ret;
}

/* ptr's age in the ring: the newest one is looked at first (a block freed
 * right after it was allocated, one allocated again right after its free),
 * then the hint; -1 if not there. */
static inline int64_t find_in_ring(struct ec_hint *table, uint64_t ptr, uint32_t slot, const uint64_t *ring,
				   uint32_t n, uint32_t size)
{
	if (n && ring[(n - 1) & (size - 1)] == ptr)
		return 0;
	return ring_age(hint_of(table, ptr, slot), ptr, slot, ring, n, size);
}

/* v into stream pair k: its first varint byte, then (v >= 128) the varint of v >> 7. */
static inline void put_val(struct ec_encoder *e, enum val k, uint64_t v)
{
	struct ec_buf *lead = &e->val[2 * k];

	if (v < 0x80) {
		lead->p[lead->len++] = (unsigned char)v;
		return;
	}
	lead->p[lead->len++] = (unsigned char)(v | 0x80);
	put_varint(&e->val[2 * k + 1], v >> 7);
}

static void encode_call(struct ec_encoder *e, struct ec_thread *t, const struct fl_ev_call *c)
{
	uint32_t slot = (uint32_t)(t - e->st.slot);
	int64_t a2_age = c->a2 ? find_in_ring(e->live_hint, c->a2, slot, t->live, t->nlive, EC_LIVE_RING) : -1;
	int64_t ret_age = c->ret ? find_in_ring(e->freed_hint, c->ret, slot, t->freed, t->nfreed, EC_FREED_RING) : -1;
	unsigned mask = (c->a0 != 0) | (c->a1 != 0) << 1;

	if (c->a2)
		mask |= a2_age >= 0 ? 16 : 4;
	if (c->ret)
		mask |= ret_age >= 0 ? 32 : 8;
	uint64_t ts_ret = encode_call_times(e, t, c);

	put_byte(&e->main, mask);
	if (c->a0)
		put_val(e, VAL_ARG, c->a0);
	if (c->a1)
		put_val(e, VAL_ARG, c->a1);
	if (c->a2) {
		if (a2_age >= 0)
			put_val(e, VAL_A2_AGE, (uint64_t)a2_age);
		else
			put_val(e, VAL_A2_DELTA, zigzag(c->a2 - t->addr));
		t->addr = c->a2;
		*hint_of(e->freed_hint, c->a2, slot) = (struct ec_hint){ c->a2, slot, t->nfreed };
	}
	if (c->ret) {
		if (ret_age >= 0)
			put_val(e, VAL_RET_AGE, (uint64_t)ret_age);
		else
			put_val(e, VAL_RET_DELTA, zigzag(c->ret - t->addr));
		t->addr = c->ret;
		*hint_of(e->live_hint, c->ret, slot) = (struct ec_hint){ c->ret, slot, t->nlive };
	}
	ring_push(t, c);
	t->ts = ts_ret;
}

/* mask byte, then the non-zero values of v[0..n) as zigzag varints */
static void encode_masked(struct ec_encoder *e, const uint64_t *v, unsigned n)
{
	unsigned mask = 0;

	for (unsigned i = 0; i < n; i++)
		mask |= (unsigned)(v[i] != 0) << i;
	put_byte(&e->main, mask);
	for (unsigned i = 0; i < n; i++)
		if (v[i])
			put_varint(&e->main, zigzag(v[i]));
}

static void encode_syscall(struct ec_encoder *e, const struct fl_ev_syscall *s)
{
	uint64_t v[6];

	memcpy(v, s->args, sizeof(s->args));
	v[5] = (uint64_t)s->ret;
	put_varint(&e->main, s->sys);
	encode_masked(e, v, 6);
}

static void encode_fault(struct ec_encoder *e, struct ec_thread *t, const struct fl_ev_fault *f)
{
	put_varint(&e->main, zigzag(f->addr - t->fault_addr));
	put_varint(&e->main, zigzag(f->ip - t->fault_ip));
	t->fault_addr = f->addr;
	t->fault_ip = f->ip;
}

static void encode_proc(struct ec_encoder *e, const struct fl_ev_proc *p)
{
	put_varint(&e->main, p->kind);
	put_varint(&e->main, p->child);
	put_varint(&e->main, zigzag((uint64_t)(int64_t)p->exit_code));
}

static void encode_reason(struct ec_encoder *e, const struct fl_ev_reason *r)
{
	put_varint(&e->main, r->kind);
	encode_masked(e, r->a, 5);
}

/* A call's stack record has its time at the calls' resolution, others exact. */
static inline uint64_t stack_time_res(uint32_t kind, uint64_t call_res)
{
	return (kind & 0xff) == FL_STACK_FOR_CALL ? call_res : 1;
}

static void encode_stack(struct ec_encoder *e, const void *rec)
{
	struct fl_ev_stack s;
	const unsigned char *data = (const unsigned char *)rec + sizeof(s);
	struct ec_thread *t;
	unsigned char *buf, *out;
	uint64_t r, q;

	memcpy(&s, rec, sizeof(s));
	t = encode_header(e, &s.h);
	r = stack_time_res(s.kind, e->time_res);
	q = in_units(s.h.ts, r);
	put_varint(&e->time, zigzag(q - in_units(t->ts, r)));
	t->ts = q * r;
	put_varint(&e->main, s.kind);
	put_varint(&e->main, s.len);
	put_varint(&e->main, zigzag(s.ip - t->stack_ip));
	put_varint(&e->main, zigzag(s.sp - t->stack_sp));
	put_varint(&e->main, zigzag(s.bp - t->stack_bp));
	buf = stack_buf_of(e->stack_buf, &e->st, t);
	out = e->main.p + e->main.len;
	memcpy(out, data, s.len);
	xor_with_last(out, s.sp, s.len, t, buf);
	e->main.len += s.len;
	remember_stack(t, buf, &s, data);
}

static void encode_event(struct ec_encoder *e, const void *rec)
{
	union event ev;
	struct ec_thread *t;

	switch (((const unsigned char *)rec)[0]) { /* sizes known here: no copy loop */
	case FL_EV_CALL: memcpy(&ev.call, rec, sizeof(ev.call)); break;
	case FL_EV_SYSCALL: memcpy(&ev.sys, rec, sizeof(ev.sys)); break;
	case FL_EV_FAULT: memcpy(&ev.fault, rec, sizeof(ev.fault)); break;
	case FL_EV_PROC: memcpy(&ev.proc, rec, sizeof(ev.proc)); break;
	default: memcpy(&ev.reason, rec, sizeof(ev.reason)); break;
	}
	t = encode_header(e, &ev.h);
	if (ev.h.type != FL_EV_CALL)
		put_varint(&e->time, zigzag(ev.h.ts - t->ts));
	switch (ev.h.type) {
	case FL_EV_CALL: encode_call(e, t, &ev.call); return;
	case FL_EV_SYSCALL: encode_syscall(e, &ev.sys); break;
	case FL_EV_FAULT: encode_fault(e, t, &ev.fault); break;
	case FL_EV_PROC: encode_proc(e, &ev.proc); break;
	case FL_EV_REASON: encode_reason(e, &ev.reason); break;
	}
	t->ts = ev.h.ts;
}

int ec_encode(struct ec_encoder *e, const void *rec, uint32_t len)
{
	if (buf_reserve(&e->main, (size_t)len + EVENT_MAIN_MAX) < 0 || buf_reserve(&e->time, EVENT_TIME_MAX) < 0)
		return -1;
	if (!e->val_room) { /* room in every value stream for the next VAL_ROOM_RECORDS records */
		for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
			if (buf_reserve(&e->val[i], EVENT_VAL_MAX * VAL_ROOM_RECORDS) < 0)
				return -1;
		e->val_room = VAL_ROOM_RECORDS;
	}
	e->val_room--;
	if (!e->verbatim_only && len == sizeof(struct fl_ev_call) && !((uintptr_t)rec & 7) &&
	    *(const unsigned char *)rec == FL_EV_CALL) {
		/* the common record, read in place: a copy of it just after its writer's
		 * stores (the preload collector's) waits for them to land */
		const struct fl_ev_call *c = rec;

		encode_call(e, encode_header(e, &c->h), c);
		e->st.ts = e->st.cur->ts;
	} else if (!e->verbatim_only && encodable(rec, len)) {
		encode_event(e, rec);
		e->st.ts = e->st.cur->ts;
	} else if (!e->verbatim_only && stack_encodable(rec, len)) {
		encode_stack(e, rec);
		e->st.ts = e->st.cur->ts;
	} else {
		encode_verbatim(e, rec, len);
	}
	e->records++;
	e->out_bytes += EC_OUT_BYTES(len);
	return 0;
}

/* ---- decoder ---- */

/* A bounded reader of one stream; bad is sticky. */
struct cursor {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get_varint_slow(struct cursor *c)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned b;

		if (c->p >= c->end)
			break;
		b = *c->p++;
		if (shift == 63 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

/* With 10 bytes left no bound checks are needed; values of one or two bytes
 * (nearly all of them) are then read without a data-dependent branch, as the
 * noisy time deltas would mispredict one. */
static inline uint64_t get_varint(struct cursor *c)
{
	const unsigned char *p = c->p;
	uint64_t x, more, v;

	if (c->end - p < 10)
		return get_varint_slow(c);
	memcpy(&x, p, 8);
	x = le64toh(x);
	more = (x >> 7) & 1; /* a second byte follows */
	if (!((x >> 15) & more)) {
		c->p = p + 1 + more;
		return (x & 0x7f) | ((x >> 1) & 0x3f80 & -more);
	}
	v = 0;
	for (unsigned shift = 0; shift < 63; shift += 7) {
		unsigned b = *p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			c->p = p;
			return v;
		}
	}
	if (*p > 1) { /* the 10th byte holds bit 63 only */
		c->bad = true;
		return 0;
	}
	v |= (uint64_t)*p++ << 63;
	c->p = p;
	return v;
}

static inline unsigned get_byte(struct cursor *c)
{
	if (c->p >= c->end) {
		c->bad = true;
		return 0;
	}
	return *c->p++;
}

/* A varint that must fit in max. */
static inline uint64_t get_bounded(struct cursor *c, uint64_t max)
{
	uint64_t v = get_varint(c);

	if (v > max) {
		c->bad = true;
		return 0;
	}
	return v;
}

struct ec_decoder *ec_decoder_new(void)
{
	struct ec_decoder *d = calloc(1, sizeof(struct ec_decoder));

	if (d)
		d->format = EC_FORMAT;
	return d;
}

void ec_decoder_free(struct ec_decoder *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < EC_SLOTS; i++)
		free(d->stack_buf[i]);
	free(d->out);
	free(d);
}

/* One block's decoding: the two streams and the output being filled. */
struct block {
	struct ec_decoder *d;
	struct cursor main, args, time;
	struct cursor val[EC_VAL_STREAMS]; /* format 5 */
	struct cursor *vals; /* where the calls' values are before 5: args (format 4), or main */
	uint64_t time_res;
	size_t out_pos, out_size;
	const char *why;
};

static int out_reserve(struct ec_decoder *d, size_t n)
{
	unsigned char *p;

	if (n <= d->out_cap)
		return 0;
	p = realloc(d->out, n);
	if (!p)
		return -1;
	d->out = p;
	d->out_cap = n;
	return 0;
}

/* Room for a record of len bytes in the output, its length header written
 * and its padding zeroed; NULL (and why) if the block said it would be smaller. */
static inline unsigned char *out_record(struct block *b, uint64_t len)
{
	uint64_t need = EC_OUT_BYTES(len);
	unsigned char *p;
	uint32_t head[2] = { (uint32_t)len, 0 };

	if (len > UINT32_MAX || need > b->out_size - b->out_pos) {
		b->why = "records larger than the block says";
		return NULL;
	}
	p = b->d->out + b->out_pos;
	memcpy(p, head, 8);
	if (need > 8) /* the last 8 bytes hold the padding, if any */
		memset(p + need - 8, 0, 8);
	b->out_pos += need;
	return p + 8;
}

static bool decode_verbatim(struct block *b)
{
	uint64_t len = get_varint(&b->main);
	unsigned char *dst;

	if (b->main.bad || len > (uint64_t)(b->main.end - b->main.p)) {
		b->why = "a verbatim record runs past the end of its block";
		return false;
	}
	dst = out_record(b, len);
	if (!dst)
		return false;
	if (len)
		memcpy(dst, b->main.p, len);
	b->main.p += len;
	return true;
}

/* Header fields after the tag; returns the event's thread or NULL. */
static struct ec_thread *decode_header(struct block *b, unsigned tag, struct fl_hdr *h)
{
	struct ec_state *st = &b->d->st;
	struct ec_thread *t = st->cur;
	struct cursor *m = &b->main;

	if (tag & EC_TAG_THREAD) {
		uint64_t code = get_bounded(m, EC_SLOTS);

		if (code) {
			t = &st->slot[code - 1];
			if (!t->last_use)
				t = NULL;
		} else {
			uint32_t tid = (uint32_t)get_bounded(m, UINT32_MAX);

			t = (thread_find(st, tid) || m->bad) ? NULL : thread_add(st, tid);
		}
	}
	if (!t || m->bad) {
		b->why = "an event names an unknown thread";
		return NULL;
	}
	if (tag & EC_TAG_CPU)
		t->cpu = (uint32_t)get_bounded(m, UINT32_MAX);
	if (tag & EC_TAG_TGID)
		t->tgid = (uint32_t)get_bounded(m, UINT32_MAX);
	h->type = (uint8_t)(tag & EC_TAG_KIND);
	h->flags = (tag & EC_TAG_FLAGS) ? (uint16_t)get_bounded(m, UINT16_MAX) : 0;
	h->func = (tag & EC_TAG_FUNC) ? (uint8_t)get_byte(m) : FL_FUNC_NONE;
	h->tid = t->tid;
	h->tgid = t->tgid;
	h->cpu = t->cpu;
	t->last_use = ++st->clock;
	st->cur = t;
	return t;
}

static void decode_call_times(struct block *b, struct ec_thread *t, struct fl_ev_call *c)
{
	uint64_t gap = unzigzag(get_varint(&b->time)), dur = unzigzag(get_varint(&b->time));
	uint64_t r = b->time_res;

	if (c->h.func < EC_NFUNC) {
		gap += t->gap[c->h.func];
		dur += t->dur[c->h.func];
		t->gap[c->h.func] = gap;
		t->dur[c->h.func] = dur;
	}
	c->h.ts = (in_units(t->ts, r) + gap) * r;
	c->ts_ret = c->h.ts + dur * r;
}

/* A value of kind k: from its pair of streams (format 5; a bad one makes
 * the main stream bad), or as a varint from the one stream before. */
static inline uint64_t get_val(struct block *b, enum val k)
{
	struct cursor *lead = &b->val[2 * k];
	uint64_t v, more;

	if (b->d->format < 5)
		return get_varint(b->vals);
	if (lead->p >= lead->end) {
		b->main.bad = true;
		return 0;
	}
	v = *lead->p++;
	if (v < 0x80)
		return v;
	more = get_varint(&b->val[2 * k + 1]);
	if (b->val[2 * k + 1].bad || more == 0 || more >> 57) /* 0: not the shortest form; 57: bits lost */
		b->main.bad = true;
	return (v & 0x7f) | more << 7;
}

/* The pointer of age k in a ring of size holding n: bad if it has no such one. */
static inline uint64_t ring_get(struct block *b, uint64_t k, const uint64_t *ring, uint32_t n, uint32_t size)
{
	if (k >= n || k >= size) {
		b->main.bad = true;
		return 0;
	}
	return ring[(n - 1 - (uint32_t)k) & (size - 1)];
}

static void decode_call(struct block *b, struct ec_thread *t, struct fl_ev_call *c)
{
	unsigned mask = get_byte(&b->main);

	decode_call_times(b, t, c);
	if ((mask & ~(b->d->format >= 4 ? 0x3fu : 0xfu)) || (mask & 4 && mask & 16) || (mask & 8 && mask & 32))
		b->main.bad = true;
	c->a0 = (mask & 1) ? get_val(b, VAL_ARG) : 0;
	c->a1 = (mask & 2) ? get_val(b, VAL_ARG) : 0;
	c->a2 = 0;
	c->ret = 0;
	if (mask & 4)
		c->a2 = t->addr + unzigzag(get_val(b, VAL_A2_DELTA));
	else if (mask & 16)
		c->a2 = ring_get(b, get_val(b, VAL_A2_AGE), t->live, t->nlive, EC_LIVE_RING);
	if (c->a2)
		t->addr = c->a2;
	if (mask & 8)
		c->ret = t->addr + unzigzag(get_val(b, VAL_RET_DELTA));
	else if (mask & 32)
		c->ret = ring_get(b, get_val(b, VAL_RET_AGE), t->freed, t->nfreed, EC_FREED_RING);
	if (c->ret)
		t->addr = c->ret;
	if ((mask & 20) && !c->a2) /* a pointer coded is never 0 */
		b->main.bad = true;
	if ((mask & 40) && !c->ret)
		b->main.bad = true;
	ring_push(t, c);
	t->ts = c->ts_ret;
}

static void decode_masked(struct cursor *m, uint64_t *v, unsigned n)
{
	unsigned mask = get_byte(m);

	if (mask >> n)
		m->bad = true;
	for (unsigned i = 0; i < n; i++)
		v[i] = (mask >> i & 1) ? unzigzag(get_varint(m)) : 0;
}

static void decode_syscall(struct block *b, struct fl_ev_syscall *s)
{
	uint64_t v[6];

	s->sys = (uint32_t)get_bounded(&b->main, UINT32_MAX);
	decode_masked(&b->main, v, 6);
	memcpy(s->args, v, sizeof(s->args));
	s->ret = (int64_t)v[5];
}

static void decode_fault(struct block *b, struct ec_thread *t, struct fl_ev_fault *f)
{
	f->addr = t->fault_addr + unzigzag(get_varint(&b->main));
	f->ip = t->fault_ip + unzigzag(get_varint(&b->main));
	t->fault_addr = f->addr;
	t->fault_ip = f->ip;
}

static void decode_proc(struct block *b, struct fl_ev_proc *p)
{
	int64_t code;

	p->kind = (uint32_t)get_bounded(&b->main, UINT32_MAX);
	p->child = (uint32_t)get_bounded(&b->main, UINT32_MAX);
	code = (int64_t)unzigzag(get_varint(&b->main));
	if (code < INT32_MIN || code > INT32_MAX)
		b->main.bad = true;
	p->exit_code = (int32_t)code;
}

static void decode_reason(struct block *b, struct fl_ev_reason *r)
{
	r->kind = (uint32_t)get_bounded(&b->main, UINT32_MAX);
	decode_masked(&b->main, r->a, 5);
}

/* The body of a non-call event, after its time. */
static void decode_other(struct block *b, struct ec_thread *t, union event *ev)
{
	ev->h.ts = t->ts + unzigzag(get_varint(&b->time));
	switch (ev->h.type) {
	case FL_EV_SYSCALL: decode_syscall(b, &ev->sys); break;
	case FL_EV_FAULT: decode_fault(b, t, &ev->fault); break;
	case FL_EV_PROC: decode_proc(b, &ev->proc); break;
	case FL_EV_REASON: decode_reason(b, &ev->reason); break;
	}
	t->ts = ev->h.ts;
}

/* A call (the common case) is written in place, every field set; other
 * events are decoded into a zeroed local (so padding is zero) and copied. */
static bool decode_event(struct block *b, unsigned tag)
{
	size_t size = fl_event_size(tag & EC_TAG_KIND);
	unsigned char *dst = out_record(b, size);
	struct ec_thread *t;
	union event ev;

	if (!dst)
		return false;
	if ((tag & EC_TAG_KIND) == FL_EV_CALL) {
		struct fl_ev_call *c = (struct fl_ev_call *)(void *)dst;

		t = decode_header(b, tag, &c->h);
		if (!t)
			return false;
		decode_call(b, t, c);
	} else {
		memset(&ev, 0, sizeof(ev));
		t = decode_header(b, tag, &ev.h);
		if (!t)
			return false;
		decode_other(b, t, &ev);
		memcpy(dst, &ev, size);
	}
	b->d->st.ts = t->ts;
	if (b->main.bad || b->args.bad || b->time.bad) {
		b->why = "an event runs past the end of its block or has a bad field";
		return false;
	}
	return true;
}

static bool decode_stack(struct block *b, unsigned tag)
{
	struct fl_ev_stack s;
	struct cursor *m = &b->main;
	struct ec_thread *t;
	unsigned char *dst, *buf;
	uint64_t gap, r;

	memset(&s, 0, sizeof(s));
	t = decode_header(b, tag, &s.h);
	if (!t)
		return false;
	gap = unzigzag(get_varint(&b->time));
	s.kind = (uint32_t)get_bounded(m, UINT32_MAX);
	r = stack_time_res(s.kind, b->time_res);
	s.h.ts = (in_units(t->ts, r) + gap) * r;
	t->ts = s.h.ts;
	b->d->st.ts = t->ts;
	s.len = (uint32_t)get_bounded(m, FL_STACK_MAX);
	s.ip = t->stack_ip + unzigzag(get_varint(m));
	s.sp = t->stack_sp + unzigzag(get_varint(m));
	s.bp = t->stack_bp + unzigzag(get_varint(m));
	if (m->bad || b->time.bad || s.len > (uint64_t)(m->end - m->p)) {
		b->why = "a stack record runs past the end of its block or has a bad field";
		return false;
	}
	buf = stack_buf_of(b->d->stack_buf, &b->d->st, t);
	if (!buf) {
		b->why = "out of memory";
		return false;
	}
	dst = out_record(b, sizeof(s) + s.len);
	if (!dst)
		return false;
	memcpy(dst, &s, sizeof(s));
	memcpy(dst + sizeof(s), m->p, s.len);
	m->p += s.len;
	xor_with_last(dst + sizeof(s), s.sp, s.len, t, buf);
	remember_stack(t, buf, &s, dst + sizeof(s));
	return true;
}

static bool decode_record(struct block *b)
{
	unsigned tag = get_byte(&b->main);

	if ((tag & EC_TAG_KIND) == 0) {
		if (tag) {
			b->why = "bad record tag";
			return false;
		}
		return decode_verbatim(b);
	}
	if ((tag & EC_TAG_KIND) == FL_EV_STACK)
		return decode_stack(b, tag);
	if (!fl_event_size(tag & EC_TAG_KIND)) {
		b->why = "bad record tag";
		return false;
	}
	return decode_event(b, tag);
}

/* Reads the prelude and sizes the output; false (and why) if it is bad. */
static bool decode_prelude(struct block *b, const unsigned char *p, size_t n, size_t max_out,
			   uint64_t *records)
{
	struct cursor c = { p, p + n, false };
	unsigned format = b->d->format, nval = format >= 5 ? EC_VAL_STREAMS : format == 4;
	uint64_t out_bytes, main_len, len[EC_VAL_STREAMS] = { 0 }, left;
	const unsigned char *at;

	*records = get_varint(&c);
	out_bytes = get_varint(&c);
	b->time_res = format >= 5 ? get_varint(&c) : 1;
	main_len = get_varint(&c);
	for (unsigned i = 0; i < nval; i++)
		len[i] = get_varint(&c);
	left = (uint64_t)(c.end - c.p);
	if (c.bad || *records > n || out_bytes > max_out || out_bytes < 8 * *records || b->time_res < 1 ||
	    b->time_res > EC_MAX_TIME_RES || main_len > left)
		goto bad;
	left -= main_len;
	for (unsigned i = 0; i < nval; i++) {
		if (len[i] > left)
			goto bad;
		left -= len[i];
	}
	if (out_reserve(b->d, out_bytes ? out_bytes : 1) < 0) {
		b->why = "out of memory";
		return false;
	}
	b->main = (struct cursor){ c.p, c.p + main_len, false };
	at = c.p + main_len;
	if (format == 4) {
		b->args = (struct cursor){ at, at + len[0], false };
		at += len[0];
	} else {
		b->args = (struct cursor){ at, at, false };
	}
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++) {
		size_t l = format >= 5 ? len[i] : 0;

		b->val[i] = (struct cursor){ at, at + l, false };
		at += l;
	}
	b->time = (struct cursor){ at, c.end, false };
	b->vals = format >= 4 ? &b->args : &b->main;
	b->out_size = out_bytes;
	return true;
bad:
	b->why = "bad block prelude";
	return false;
}

/* True if every stream of the block was read to its end. */
static bool streams_used_up(const struct block *b)
{
	for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
		if (b->val[i].p != b->val[i].end)
			return false;
	return b->main.p == b->main.end && b->args.p == b->args.end && b->time.p == b->time.end;
}

static void decoder_empty(struct ec_decoder *d)
{
	d->out_len = 0;
	d->pos = 0;
	d->records = 0;
}

int ec_decode_block(struct ec_decoder *d, const unsigned char *p, size_t n, size_t max_out,
		    const char **why)
{
	struct block b = { .d = d };
	uint64_t records;

	decoder_empty(d);
	state_reset(&d->st);
	if (!decode_prelude(&b, p, n, max_out, &records))
		goto bad;
	for (uint64_t i = 0; i < records; i++)
		if (!decode_record(&b))
			goto bad;
	if (!streams_used_up(&b) || b.out_pos != b.out_size) {
		b.why = "the block's records and its sizes do not match";
		goto bad;
	}
	d->out_len = b.out_pos;
	d->records = records;
	d->time_res = b.time_res;
	return 0;
bad:
	*why = b.why;
	return -1;
}

int ec_decode_framed(struct ec_decoder *d, const unsigned char *p, size_t n, size_t max_out,
		     const char **why)
{
	struct block b = { .d = d };
	size_t pos, out = 0, records = 0;
	uint32_t len;

	decoder_empty(d);
	for (pos = 0; pos < n; pos += 4 + (size_t)len) {
		if (n - pos < 4) {
			*why = "a record runs past the end of its block";
			return -1;
		}
		memcpy(&len, p + pos, 4);
		len = le32toh(len);
		if (len > n - pos - 4) {
			*why = "a record runs past the end of its block";
			return -1;
		}
		out += EC_OUT_BYTES(len);
		records++;
	}
	if (out > max_out || out_reserve(d, out ? out : 1) < 0) {
		*why = out > max_out ? "block too large" : "out of memory";
		return -1;
	}
	b.out_size = out;
	for (pos = 0; pos < n; pos += 4 + (size_t)len) {
		memcpy(&len, p + pos, 4);
		len = le32toh(len);
		memcpy(out_record(&b, len), p + pos + 4, len);
	}
	d->out_len = out;
	d->records = records;
	return 0;
}
