/* event_codec.h - the compact form of a trace file's records (format
 * versions 2 to 5 of the file: 4 adds the pointer rings of a call's body, 5
 * the value streams and the call time resolution): a stateful encoder that
 * turns the records of one data block (kernel events, include/faultline.h,
 * and meta records, meta.h) into a byte payload, and the decoder that turns
 * such a payload back into 8-byte-aligned records, byte-identical but for the
 * calls' times, which the encoder may round down to its resolution.
 * tracefile.c compresses the payload.
 *
 * Payload of one block:
 *   varint records, varint out_bytes (the decoder's output size:
 *   sum over records of 8 + len rounded up to 8), (format version 5:)
 *   varint time_res (the calls' times are multiples of it, in ns; 1: exact),
 *   varint main_len, (4:) varint args_len / (5:) EC_VAL_STREAMS varint
 *   lengths, the main stream, (4:) the argument stream / (5:) the value
 *   streams in order, then the time stream to the end.
 * Value streams (5): a call's values by what they are (event_codec.c's
 *   enum val), each in two streams: the first byte of every value's varint,
 *   and the rest of the varints that go on. Apart, each kind of byte gets its
 *   own entropy table: the random sizes' first bytes are 8 random bits, the
 *   bytes after them 4, a ring age's 5 (the file of a random-size churn 16%
 *   smaller than with all values in one stream, as version 4 has them;
 *   versions 2 and 3 keep them in the main stream).
 * Main stream, per record: a tag byte, bits 0-2 the kind:
 *   0 verbatim: varint len, len bytes (meta records, unknown records, events
 *     whose length or padding is not the usual one);
 *   1..6 an event of that FL_EV_* type; then, each only if its tag bit is set:
 *     EC_TAG_THREAD varint thread code (0: a new thread, varint tid follows;
 *                   k: the thread in slot k-1); clear: the previous event's thread
 *     EC_TAG_CPU    varint cpu      (clear: the thread's last cpu)
 *     EC_TAG_TGID   varint tgid     (clear: the thread's last tgid)
 *     EC_TAG_FLAGS  varint flags    (clear: 0)
 *     EC_TAG_FUNC   func byte       (clear: FL_FUNC_NONE)
 *   then the type's body (event_codec.c). Addresses are zigzag varint deltas
 *   against the thread's previous ones, other fields plain varints.
 * Time stream, per event: zigzag(ts - the thread's previous time); for a
 *   call (of a known func) that gap minus the gap before the thread's previous
 *   call of that func, then zigzag of (ts_ret - ts) minus that previous call's
 *   duration, all of a call's in units of time_res (its times and the
 *   thread's previous time divided by it), as is the gap of a call's stack
 *   record (FL_STACK_FOR_CALL). Kept apart because timestamps are the noisy
 *   part: the main stream of a steady workload then compresses to almost
 *   nothing.
 * Thread state (slots: EC_SETS sets of EC_WAYS, least recently used evicted)
 * starts empty at every block, so each block decodes on its own.
 */
#ifndef FAULTLINE_EVENT_CODEC_H
#define FAULTLINE_EVENT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EC_TAG_KIND 0x07u
#define EC_TAG_THREAD 0x08u
#define EC_TAG_CPU 0x10u
#define EC_TAG_TGID 0x20u
#define EC_TAG_FLAGS 0x40u
#define EC_TAG_FUNC 0x80u

#define EC_SETS 64u
#define EC_WAYS 4u
#define EC_SLOTS (EC_SETS * EC_WAYS)

/* A call's values, by kind (format version 5), each in two streams: their
 * varints' first bytes, and the rest of them. */
#define EC_VALS 5
#define EC_VAL_STREAMS (2 * EC_VALS)

/* Largest prelude (four varints and the streams' lengths). */
#define EC_PRELUDE_MAX (10 * (4 + EC_VAL_STREAMS))

/* The coarsest call time resolution a block may state (ns): one second. */
#define EC_MAX_TIME_RES 1000000000u

/* The payload layout the encoder writes, and the oldest the decoder reads. */
#define EC_FORMAT 5
#define EC_OLDEST_FORMAT 2

/* Decoder output bytes of a record of len bytes. */
#define EC_OUT_BYTES(len) (8u + (((uint64_t)(len) + 7u) & ~(uint64_t)7u))

/* Calls whose func is below this have their times predicted (part of format
 * version 2: the first ten entry points of fl_funcs.h). */
#define EC_NFUNC 10

/* Per thread, the last pointers its calls returned and the last ones they
 * were passed (format version 4): a free names its block by its age in the
 * first, an allocation that gets back a block just freed by its age in the
 * second (both powers of two). */
#define EC_LIVE_RING 256u
#define EC_FREED_RING 64u

struct ec_thread {
	uint64_t last_use; /* 0: the slot is empty */
	uint64_t ts;       /* time of its last event (a call's return time) */
	uint64_t gap[EC_NFUNC]; /* per func: ts of its last call - the time before */
	uint64_t dur[EC_NFUNC]; /* per func: ts_ret - ts of its last call */
	uint64_t addr;     /* last pointer of its calls (a2, then ret) */
	uint64_t fault_addr, fault_ip;
	uint64_t stack_ip, stack_sp, stack_bp; /* its last stack record's registers */
	uint32_t stack_len; /* bytes of its last stack (in the coder's stack_buf), 0: none */
	uint32_t tid, tgid, cpu;
	uint32_t nlive, nfreed; /* pointers put into live[] and freed[] (those before the block not kept) */
	uint64_t live[EC_LIVE_RING];   /* returned pointers: the nth at n % EC_LIVE_RING */
	uint64_t freed[EC_FREED_RING]; /* pointers passed in (a2) */
};

/* Per slot, the bytes of the thread's last stack record (FL_STACK_MAX each, made when first needed). */
typedef unsigned char *ec_stack_bufs[EC_SLOTS];

/* What encoder and decoder both track, identically. */
struct ec_state {
	struct ec_thread slot[EC_SLOTS];
	struct ec_thread *cur; /* thread of the previous event; NULL at block start */
	uint64_t clock;        /* events so far: the slots' last_use */
	uint64_t ts;           /* time of the previous event */
};

struct ec_buf {
	unsigned char *p;
	size_t len, cap;
};

/* One piece of a block payload. */
struct ec_chunk {
	const unsigned char *p;
	size_t len;
};

/* The encoder's guess where a pointer sits in a thread's ring (checked
 * against the ring before it is used: a stale one costs bytes, never
 * correctness). */
struct ec_hint {
	uint64_t ptr;
	uint32_t slot, n; /* the thread's slot; the pointer was its nth */
};
#define EC_HINTS 4096u

struct ec_encoder {
	struct ec_state st;
	struct ec_hint live_hint[EC_HINTS], freed_hint[EC_HINTS];
	struct ec_buf main, val[EC_VAL_STREAMS], time;
	uint64_t time_res; /* the block's calls' times are rounded down to multiples of it (ns) */
	uint64_t next_time_res; /* and the next blocks' */
	unsigned val_room;      /* records the value streams have room for */
	uint64_t records;
	uint64_t out_bytes;
	bool verbatim_only;
	unsigned char prelude[EC_PRELUDE_MAX];
	ec_stack_bufs stack_buf;
};

/* verbatim_only: store every record as it is (for an event ABI this codec
 * does not know). Returns NULL when out of memory. The calls' times are kept
 * exact until ec_encoder_set_time_res. */
struct ec_encoder *ec_encoder_new(bool verbatim_only);
void ec_encoder_free(struct ec_encoder *e);
/* From the next block on, the calls' times (ts, ts_ret) are rounded down to
 * multiples of ns (1 to EC_MAX_TIME_RES; 1: exact): the file of a program
 * making millions of calls a second then keeps almost no bytes for them.
 * Other events' times stay exact. */
void ec_encoder_set_time_res(struct ec_encoder *e, uint64_t ns);
/* Appends one record to the pending block. 0, or -1 with errno ENOMEM
 * (the block is then unchanged). */
int ec_encode(struct ec_encoder *e, const void *rec, uint32_t len);
/* The pending block's payload as EC_CHUNKS pieces to write in order; returns
 * its total length. Valid until the next ec_encode or ec_encoder_reset. */
#define EC_CHUNKS (3 + EC_VAL_STREAMS)
size_t ec_encoder_payload(struct ec_encoder *e, struct ec_chunk chunk[EC_CHUNKS]);
/* Starts a new block: no records, thread state forgotten. */
void ec_encoder_reset(struct ec_encoder *e);
static inline uint64_t ec_encoder_records(const struct ec_encoder *e) { return e->records; }
/* Bytes the decoder will need for the pending block. */
static inline uint64_t ec_encoder_out_bytes(const struct ec_encoder *e) { return e->out_bytes; }
/* Upper bound of the pending payload's length. */
static inline uint64_t ec_encoder_bytes(const struct ec_encoder *e)
{
	size_t n = EC_PRELUDE_MAX + e->main.len + e->time.len;

	for (unsigned i = 0; i < EC_VAL_STREAMS; i++)
		n += e->val[i].len;
	return n;
}

struct ec_decoder {
	struct ec_state st;
	unsigned format; /* the layout of the payloads it is given: EC_FORMAT unless set */
	unsigned char *out; /* decoded records: u32 len, u32 0, bytes padded to 8 */
	size_t out_len, out_cap, pos;
	uint64_t records; /* in the block decoded last */
	uint64_t time_res; /* the calls' time resolution the block decoded last states (1 before 5) */
	ec_stack_bufs stack_buf;
};

struct ec_decoder *ec_decoder_new(void);
void ec_decoder_free(struct ec_decoder *d);
/* The file format version (EC_OLDEST_FORMAT to EC_FORMAT) whose payload
 * layout the next blocks have. */
static inline void ec_decoder_set_format(struct ec_decoder *d, unsigned format) { d->format = format; }
/* Decodes a whole block payload, all or nothing: 0, or -1 with *why a static
 * one-line reason (the decoder then holds no records). Never reads outside
 * p[0..n) and never needs more than max_out bytes of output. */
int ec_decode_block(struct ec_decoder *d, const unsigned char *p, size_t n, size_t max_out,
		    const char **why);
/* The same for format version 1's payload: records as u32 len + len bytes. */
int ec_decode_framed(struct ec_decoder *d, const unsigned char *p, size_t n, size_t max_out,
		     const char **why);
/* Records of the block decoded last (0 after a failed decode). */
static inline uint64_t ec_decoder_records(const struct ec_decoder *d) { return d->records; }
/* Next decoded record (8-byte aligned, valid until the next decode): true,
 * or false when the block has no more. */
static inline bool ec_decoder_next(struct ec_decoder *d, const void **rec, uint32_t *len)
{
	uint32_t n;

	if (d->pos >= d->out_len)
		return false;
	memcpy(&n, d->out + d->pos, 4);
	*rec = d->out + d->pos + 8;
	*len = n;
	d->pos += EC_OUT_BYTES(n);
	return true;
}

#endif
