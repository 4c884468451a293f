/* tracefile.h - the trace file container: writing and reading the file that
 * `faultline record` produces (header, checksummed compressed blocks of
 * records, end block).
 *
 * Layout (all integers little-endian):
 *   file header, 24 bytes: "FAULTLN\0", u32 format version, u32 event ABI,
 *                          u32 flags (0), u32 crc32 of the 20 bytes before it
 *   blocks, each a 24-byte header: u32 magic "FBLK", u32 kind, u32 raw_len,
 *                          u32 comp_len, u32 crc32(compressed payload),
 *                          u32 crc32 of the 20 header bytes before it,
 *                          then comp_len bytes: zstd frames, one for each
 *                          non-empty stream of the payload (format versions
 *                          3 and 4: one frame; 2: raw deflate data; 1: zlib data).
 *   A data block's raw payload is its records in the compact form of
 *   event_codec.h, which decodes on its own (version 1: a run of
 *   u32 len + len bytes).
 *   The end block's raw payload is u64 record count + u64 total raw payload
 *   bytes of all data blocks; without it the file is truncated.
 * The writer writes version 5; the reader reads versions 1 to 5 (the
 * records' compact form is the same in 2 and 3; 4 adds the pointer rings of
 * event_codec.h, which no earlier file holds; 5 its value streams and call
 * time resolution, and a frame per stream).
 */
#ifndef FAULTLINE_TRACEFILE_H
#define FAULTLINE_TRACEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TF_FORMAT_VERSION 5
#define TF_OLDEST_FORMAT_VERSION 1

#define TF_FILE_HEADER_LEN 24
#define TF_BLOCK_HEADER_LEN 24
#define TF_BLOCK_MAGIC 0x4b4c4246u /* "FBLK" */
#define TF_BLOCK_DATA 1u
#define TF_BLOCK_END 2u
#define TF_END_PAYLOAD_LEN 16
/* The reader rejects blocks whose raw or compressed length exceeds this. */
#define TF_MAX_BLOCK_LEN (256u << 20)
/* The writer keeps a block's raw payload, and the memory its records take
 * when read, below this, so that its compressed form also stays under
 * TF_MAX_BLOCK_LEN. */
#define TF_MAX_BLOCK_RAW (TF_MAX_BLOCK_LEN - (1u << 20))
/* Largest record tf_writer_add accepts. */
#define TF_MAX_RECORD_LEN (TF_MAX_BLOCK_RAW - 512u)
#define TF_DEFAULT_BLOCK_SIZE (32u << 20)
/* zstd levels: the writer's default and the lowest it takes (zstd's fast
 * levels are negative). */
#define TF_DEFAULT_LEVEL 1
#define TF_MIN_LEVEL (-7)
/* The level a repetitive stream of a block is compressed at (tracefile.c). */
#define TF_DENSE_LEVEL 7

struct tf_writer;

/* Starts writing path (path "-" is not supported) the safe way of
 * util/safe_file.h: a new file of mode 0600 under a temporary name beside
 * path, renamed over it by tf_writer_publish, tf_writer_close or
 * tf_writer_cut, whichever comes first; no symbolic
 * link is followed unless root owns it; an existing file is not touched
 * before then (an existing device such as /dev/null is written directly). On failure returns NULL and writes a one-line message like
 * "cannot create out.data: Permission denied" into err. The file header is
 * written with the first block (or by tf_writer_flush). */
struct tf_writer *tf_writer_open(const char *path, uint32_t event_abi, char *err, size_t errlen);
/* Size of a block's records (as the reader holds them: each 8 bytes plus its
 * length rounded up to 8) at which the block is written; 0 means the default
 * (32 MiB), larger values are capped at TF_MAX_BLOCK_RAW. */
void tf_writer_set_block_size(struct tf_writer *w, size_t bytes);
/* From now on a thread of w's compresses and writes each block while the
 * caller fills the next (record: the collector does not stop draining the
 * rings for the few ms a block takes). A write error then shows at a later
 * call (tf_writer_add, _flush, _close: never lost); tf_writer_flush hands the
 * pending block over, after waiting for the one before it. 0, or -1 when no
 * thread could be started (w goes on as before). */
int tf_writer_compress_behind(struct tf_writer *w);
/* The calls' times go into the file rounded down to multiples of ns
 * (1: exact, the default; event_codec.h's ec_encoder_set_time_res). Before
 * the first tf_writer_add. */
void tf_writer_set_call_time_res(struct tf_writer *w, uint64_t ns);
/* zstd level, TF_MIN_LEVEL to ZSTD_maxCLevel() (others: the default),
 * taken from the next block on; default TF_DEFAULT_LEVEL. */
void tf_writer_set_level(struct tf_writer *w, int level);
/* Appends one record. Returns 0, or -1 on a write error (errno kept, message
 * from tf_writer_error). After a write error every later call fails too.
 * A record over TF_MAX_RECORD_LEN fails with EMSGSIZE without poisoning w. */
int tf_writer_add(struct tf_writer *w, const void *rec, uint32_t len);
/* Writes the file header if not done yet and the pending block, so a
 * recording killed later still has them. Returns 0 or -1. */
int tf_writer_flush(struct tf_writer *w);
/* Flushes, writes the end block, fsyncs, closes and renames the file over
 * path (on a write error it is still renamed, cut short: what was written
 * without the end block). Returns 0 or -1 with a
 * message in err (e.g. "writing out.data: No space left on device") and errno
 * set. Frees w in both cases. */
int tf_writer_close(struct tf_writer *w, char *err, size_t errlen);
/* Closes and removes the new file: path is left as it was (used when the
 * run failed before anything was recorded). Frees w. */
void tf_writer_abort(struct tf_writer *w);
/* Flushes and renames the file over path now, while it is still written:
 * from then on a faultline killed leaves a file that reads as cut short
 * (TF_TRUNCATED) at path. 0, or -1 with the message in tf_writer_error
 * (a flush's write error is sticky as for tf_writer_flush). */
int tf_writer_publish(struct tf_writer *w);
/* A recording cut short (a write error, faultline's own failure): flushes
 * what it can, writes no end block, and renames the file into place, so a
 * reader sees TF_TRUNCATED ("cut short"), never a whole recording. 0, or -1
 * if even that failed (the new file is then removed). Frees w. */
int tf_writer_cut(struct tf_writer *w);
/* The last error message, or "" if none. */
const char *tf_writer_error(const struct tf_writer *w);
uint64_t tf_writer_records(const struct tf_writer *w);       /* records added */
uint64_t tf_writer_bytes_written(const struct tf_writer *w); /* file bytes so far */

struct tf_reader;

/* Opens and checks the header. NULL + one-line message naming the file in err
 * for: missing/unreadable file, empty file, not a faultline file (bad magic),
 * short header, unsupported version, header CRC mismatch.
 * *event_abi (if not NULL) receives the header's ABI. */
struct tf_reader *tf_reader_open(const char *path, uint32_t *event_abi, char *err, size_t errlen);

/* Starts a thread that reads, checks, decompresses and decodes the blocks ahead
 * of tf_reader_next (a few blocks at most), which then only hands out their
 * records: on two cores, decoding and the caller's work overlap. Call it
 * before the first tf_reader_next; what tf_reader_next returns is the same.
 * 0, or -1 (nothing changed: the reader still works without the thread). */
int tf_reader_read_ahead(struct tf_reader *r);

enum tf_status { TF_RECORD = 1, TF_END = 0, TF_TRUNCATED = 2, TF_CORRUPT = -1 };

/* Next record: TF_RECORD with *rec and *len pointing into the reader's buffer
 * (8-byte aligned, valid until the next call).
 * TF_END: the end block was seen and its counts match what was read.
 * TF_TRUNCATED: the file ends without an end block (after the last whole
 *   block or inside a block); all records of whole blocks came before.
 * TF_CORRUPT: bad checksum, magic, kind, lengths, compressed data, records
 *   (event codec or version 1 framing), end-block counts, or a read error.
 *   A block's records are checked before any of them is returned, so a
 *   corrupt block yields none.
 * TF_END, TF_TRUNCATED and TF_CORRUPT are sticky; tf_reader_error() then gives
 * a one-line message naming the file and the byte offset of the block. */
enum tf_status tf_reader_next(struct tf_reader *r, const void **rec, uint32_t *len);
const char *tf_reader_error(const struct tf_reader *r);
uint64_t tf_reader_blocks(const struct tf_reader *r);  /* whole blocks read, end block included */
uint64_t tf_reader_records(const struct tf_reader *r); /* records returned */
void tf_reader_close(struct tf_reader *r);

#endif
