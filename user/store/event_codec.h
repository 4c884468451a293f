/* event_codec.h - the compact form of a trace file's records (format
 * versions 2 to 4 of the file: 4 adds the pointer rings of a call's body): a stateful encoder that turns the records of one data block
 * (kernel events, include/faultline.h, and meta records, meta.h) into a byte
 * payload, and the decoder that turns such a payload back into byte-identical,
 * 8-byte-aligned records. tracefile.c compresses the payload.
 *
 * Payload of one block:
 *   varint records, varint out_bytes (the decoder's output size:
 *   sum over records of 8 + len rounded up to 8), varint main_len,
 *   (format version 4:) varint args_len, main_len bytes of the main stream,
 *   (4:) args_len bytes of the argument stream, then the time stream to the
 *   end. The argument stream holds the calls' values (a0, a1 and the
 *   pointers, see event_codec.c), which version 2 and 3 keep in the main
 *   stream: apart, the tags and masks left in the main stream of a random
 *   workload compress to almost nothing, and the values get their own
 *   entropy tables (the file of a random-size churn 16% smaller).
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
 *   duration. Kept apart because timestamps are the noisy part: the main
 *   stream of a steady workload then compresses to almost nothing.
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

/* Largest prelude (four varints). */
#define EC_PRELUDE_MAX 40

/* The payload layout the encoder writes, and the oldest the decoder reads. */
#define EC_FORMAT 4
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
	struct ec_buf main, args, time;
	uint64_t records;
	uint64_t out_bytes;
	bool verbatim_only;
	unsigned char prelude[EC_PRELUDE_MAX];
	ec_stack_bufs stack_buf;
};

/* verbatim_only: store every record as it is (for an event ABI this codec
 * does not know). Returns NULL when out of memory. */
struct ec_encoder *ec_encoder_new(bool verbatim_only);
void ec_encoder_free(struct ec_encoder *e);
/* Appends one record to the pending block. 0, or -1 with errno ENOMEM
 * (the block is then unchanged). */
int ec_encode(struct ec_encoder *e, const void *rec, uint32_t len);
/* The pending block's payload as EC_CHUNKS pieces to write in order; returns
 * its total length. Valid until the next ec_encode or ec_encoder_reset. */
#define EC_CHUNKS 4
size_t ec_encoder_payload(struct ec_encoder *e, struct ec_chunk chunk[EC_CHUNKS]);
/* Starts a new block: no records, thread state forgotten. */
void ec_encoder_reset(struct ec_encoder *e);
static inline uint64_t ec_encoder_records(const struct ec_encoder *e) { return e->records; }
/* Bytes the decoder will need for the pending block. */
static inline uint64_t ec_encoder_out_bytes(const struct ec_encoder *e) { return e->out_bytes; }
/* Upper bound of the pending payload's length. */
static inline uint64_t ec_encoder_bytes(const struct ec_encoder *e)
{
	return EC_PRELUDE_MAX + e->main.len + e->args.len + e->time.len;
}

struct ec_decoder {
	struct ec_state st;
	unsigned format; /* the layout of the payloads it is given: EC_FORMAT unless set */
	unsigned char *out; /* decoded records: u32 len, u32 0, bytes padded to 8 */
	size_t out_len, out_cap, pos;
	uint64_t records; /* in the block decoded last */
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
