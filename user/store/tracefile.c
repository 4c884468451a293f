/* tracefile.c - the trace file container: tf_writer (records -> event codec
 * payload -> checksummed zstd blocks on disk) and tf_reader (blocks ->
 * aligned records, detecting truncation and corruption without ever reading
 * out of bounds; reads format versions 1 to 5, 1 and 2 deflated; on
 * request a thread loads the blocks ahead of the caller). Layout in
 * tracefile.h, the records' compact form in event_codec.h.
 */
#include "store/tracefile.h"
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "store/event_codec.h"
#include "util/safe_file.h"
#include "faultline.h"

static const unsigned char file_magic[8] = { 'F', 'A', 'U', 'L', 'T', 'L', 'N', '\0' };

/* ---- little-endian packing ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static uint32_t crc_of(const unsigned char *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static void set_msg(char *dst, size_t dstlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;

	if (!dst || dstlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
}

/* ---- raw I/O ---- */


static int grow(unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	unsigned char *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	p = realloc(*buf, n);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	*buf = p;
	*cap = n;
	return 0;
}

static void pack_file_header(unsigned char h[TF_FILE_HEADER_LEN], uint32_t event_abi)
{
	memcpy(h, file_magic, 8);
	put_u32(h + 8, TF_FORMAT_VERSION);
	put_u32(h + 12, event_abi);
	put_u32(h + 16, 0);
	put_u32(h + 20, crc_of(h, 20));
}

static void pack_block_header(unsigned char h[TF_BLOCK_HEADER_LEN], uint32_t kind,
			      uint32_t raw_len, const unsigned char *comp, uint32_t comp_len)
{
	put_u32(h, TF_BLOCK_MAGIC);
	put_u32(h + 4, kind);
	put_u32(h + 8, raw_len);
	put_u32(h + 12, comp_len);
	put_u32(h + 16, crc_of(comp, comp_len));
	put_u32(h + 20, crc_of(h, 20));
}

/* ---- writer ---- */

/* tf_writer_compress_behind: a thread compresses and writes each full block
 * while the caller encodes the next one into the other encoder. */
struct behind {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ec_encoder *queued; /* the block the thread is writing; NULL: it is idle */
	struct ec_encoder *spare;  /* the other encoder, empty, while the thread is idle */
	bool stop;
	pthread_mutex_t msg_lock;  /* the message and errno, which both sides may set */
};

struct tf_writer {
	int fd;
	struct behind *bg;      /* NULL: blocks are compressed and written by the caller */
	struct sf_out out;	/* the temporary file, renamed over path when done */
	char *path;
	uint32_t event_abi;
	int level;
	size_t block_size;
	struct ec_encoder *enc;	/* pending data block */
	ZSTD_CCtx *zc;		/* one zstd frame per block (per chunk of it from version 5) */
	uint64_t time_res;	/* the calls' time resolution, ns (event_codec.h) */
	unsigned char *comp;	/* compression scratch */
	size_t comp_cap;
	bool header_written;
	bool failed;            /* set last, with __atomic (the thread may set it) */
	int failed_errno;
	uint64_t records;	/* records added */
	uint64_t raw_total;	/* raw payload bytes of data blocks written */
	uint64_t file_bytes;
	char msg[256];
};

/* Records a sticky write failure (errno is the cause) and returns -1. */
static int writer_fail(struct tf_writer *w)
{
	int e = errno ? errno : EIO;

	if (w->bg)
		pthread_mutex_lock(&w->bg->msg_lock);
	if (!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE)) {
		w->failed_errno = e;
		set_msg(w->msg, sizeof(w->msg), "writing %s: %s", w->path, strerror(e));
		__atomic_store_n(&w->failed, true, __ATOMIC_RELEASE);
	}
	e = w->failed_errno;
	if (w->bg)
		pthread_mutex_unlock(&w->bg->msg_lock);
	errno = e;
	return -1;
}

static int writer_check(const struct tf_writer *w)
{
	if (!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
		return 0;
	errno = w->failed_errno;
	return -1;
}

static int writer_put(struct tf_writer *w, const unsigned char *p, size_t n)
{
	if (io_write_all(w->fd, p, n) < 0)
		return writer_fail(w);
	__atomic_add_fetch(&w->file_bytes, n, __ATOMIC_RELAXED);
	return 0;
}

_Static_assert(TF_FORMAT_VERSION == EC_FORMAT, "the writer writes the codec's layout");

static int write_file_header(struct tf_writer *w)
{
	unsigned char h[TF_FILE_HEADER_LEN];

	if (w->header_written)
		return 0;
	pack_file_header(h, w->event_abi);
	if (writer_put(w, h, sizeof(h)) < 0)
		return -1;
	w->header_written = true;
	return 0;
}

/* A chunk of this length range that the writer's level makes more than 32
 * times smaller is repetitive (the tags and values of a steady workload such
 * as sqlite3's): it is compressed again at TF_DENSE_LEVEL, which takes such
 * input 1.1-9 times smaller still, at 1-3 GB/s (2-3 ms a 32 MiB block of
 * churn or sqlite3, about 5 ns a call). A random chunk (sizes, addresses,
 * times) costs no second pass, nor does a longer one (the stacks of
 * --stacks=all, tens of MB a block, where the pass took longer than the
 * collector has). */
#define DENSE_MIN_LEN 65536u
#define DENSE_MAX_LEN (4u << 20)
#define DENSE_MIN_RATIO 32u

static size_t compress_frame(ZSTD_CCtx *zc, unsigned char *dst, size_t cap, const struct ec_chunk *c, int level)
{
	size_t n;

	if (ZSTD_isError(ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, level)))
		return 0;
	n = ZSTD_compress2(zc, dst, cap, c->p, c->len);
	return ZSTD_isError(n) ? 0 : n;
}

/* Compresses the n chunks, in order, into w->comp: each non-empty one a zstd
 * frame of its own (content size stated), so each gets its own entropy
 * tables and level. Returns the compressed length, or 0 on failure. */
static size_t compress_chunks(struct tf_writer *w, const struct ec_chunk *chunk, int n)
{
	size_t bound = 0, longest = 0, pos = 0;

	for (int i = 0; i < n; i++) {
		bound += ZSTD_compressBound(chunk[i].len);
		longest = chunk[i].len > longest ? chunk[i].len : longest;
	}
	bound += ZSTD_compressBound(longest); /* room for a dense pass behind the fast one */
	if (!w->zc && !(w->zc = ZSTD_createCCtx()))
		return 0;
	if (grow(&w->comp, &w->comp_cap, bound) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		size_t k, dense;

		if (!chunk[i].len)
			continue;
		k = compress_frame(w->zc, w->comp + pos, w->comp_cap - pos, &chunk[i], w->level);
		if (!k)
			return 0;
		if (chunk[i].len >= DENSE_MIN_LEN && chunk[i].len <= DENSE_MAX_LEN && w->level < TF_DENSE_LEVEL &&
		    k * DENSE_MIN_RATIO < chunk[i].len) {
			dense = compress_frame(w->zc, w->comp + pos + k, w->comp_cap - pos - k, &chunk[i], TF_DENSE_LEVEL);
			if (dense && dense < k) {
				memmove(w->comp + pos, w->comp + pos + k, dense);
				k = dense;
			}
		}
		pos += k;
	}
	return pos;
}

static int write_block(struct tf_writer *w, uint32_t kind, const struct ec_chunk *chunk, int n,
		       size_t raw_len)
{
	unsigned char h[TF_BLOCK_HEADER_LEN];
	size_t comp_len;

	if (write_file_header(w) < 0)
		return -1;
	comp_len = compress_chunks(w, chunk, n);
	if (comp_len == 0) {
		errno = ENOMEM;
		return writer_fail(w);
	}
	pack_block_header(h, kind, (uint32_t)raw_len, w->comp, (uint32_t)comp_len);
	if (writer_put(w, h, sizeof(h)) < 0 || writer_put(w, w->comp, comp_len) < 0)
		return -1;
	return 0;
}

/* Compresses and writes e's block, and empties e. */
static int write_data_block(struct tf_writer *w, struct ec_encoder *e)
{
	struct ec_chunk chunk[EC_CHUNKS];
	size_t raw_len = ec_encoder_payload(e, chunk);
	int rc = write_block(w, TF_BLOCK_DATA, chunk, EC_CHUNKS, raw_len);

	if (rc == 0)
		w->raw_total += raw_len;
	ec_encoder_reset(e);
	return rc;
}

static void *behind_run(void *arg)
{
	struct tf_writer *w = arg;
	struct behind *bg = w->bg;

	pthread_mutex_lock(&bg->lock);
	for (;;) {
		struct ec_encoder *e;

		while (!bg->queued && !bg->stop)
			pthread_cond_wait(&bg->cond, &bg->lock);
		if (!bg->queued)
			break;
		e = bg->queued;
		pthread_mutex_unlock(&bg->lock);
		if (!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
			(void)write_data_block(w, e); /* a failure is sticky: the caller sees it */
		else
			ec_encoder_reset(e);
		pthread_mutex_lock(&bg->lock);
		bg->spare = e;
		bg->queued = NULL;
		pthread_cond_broadcast(&bg->cond);
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

/* Waits until the thread has written the block it holds (then only the
 * caller touches the file). */
static void behind_sync(struct tf_writer *w)
{
	struct behind *bg = w->bg;

	if (!bg)
		return;
	pthread_mutex_lock(&bg->lock);
	while (bg->queued)
		pthread_cond_wait(&bg->cond, &bg->lock);
	pthread_mutex_unlock(&bg->lock);
}

static int flush_data_block(struct tf_writer *w)
{
	struct behind *bg = w->bg;

	if (ec_encoder_records(w->enc) == 0)
		return 0;
	if (!bg)
		return write_data_block(w, w->enc);
	pthread_mutex_lock(&bg->lock);
	while (bg->queued) /* the thread is behind by a whole block: wait for it */
		pthread_cond_wait(&bg->cond, &bg->lock);
	bg->queued = w->enc;
	w->enc = bg->spare;
	bg->spare = NULL;
	pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);
	return writer_check(w);
}

/* Tells a thread waiting on cond to stop, and joins it (the writer's and the
 * reader's threads alike). */
static void thread_stop(pthread_t th, pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
	pthread_join(th, NULL);
}

static void behind_free(struct behind *bg)
{
	ec_encoder_free(bg->spare);
	pthread_mutex_destroy(&bg->lock);
	pthread_mutex_destroy(&bg->msg_lock);
	pthread_cond_destroy(&bg->cond);
	free(bg);
}

static void behind_stop(struct tf_writer *w)
{
	if (!w->bg)
		return;
	thread_stop(w->bg->thread, &w->bg->lock, &w->bg->cond, &w->bg->stop);
	behind_free(w->bg);
	w->bg = NULL;
}

static int write_end_block(struct tf_writer *w)
{
	unsigned char end[TF_END_PAYLOAD_LEN];
	struct ec_chunk chunk = { end, sizeof(end) };

	put_u64(end, w->records);
	put_u64(end + 8, w->raw_total);
	return write_block(w, TF_BLOCK_END, &chunk, 1, sizeof(end));
}

static void writer_free(struct tf_writer *w)
{
	behind_stop(w);
	ec_encoder_free(w->enc);
	ZSTD_freeCCtx(w->zc);
	free(w->comp);
	free(w->path);
	free(w);
}

struct tf_writer *tf_writer_open(const char *path, uint32_t event_abi, char *err, size_t errlen)
{
	struct tf_writer *w;

	if (strcmp(path, "-") == 0) {
		set_msg(err, errlen, "cannot create -: writing to standard output is not supported");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path)) ||
	    !(w->enc = ec_encoder_new(event_abi != FL_EVENT_ABI))) {
		set_msg(err, errlen, "cannot create %s: %s", path, strerror(ENOMEM));
		if (w)
			free(w->path);
		free(w);
		return NULL;
	}
	if (sf_out_open(&w->out, path)) {
		set_msg(err, errlen, "cannot create %s: %s", path, sf_strerror(errno));
		writer_free(w);
		return NULL;
	}
	w->fd = w->out.fd;
	w->event_abi = event_abi;
	w->level = TF_DEFAULT_LEVEL;
	w->time_res = 1;
	w->block_size = TF_DEFAULT_BLOCK_SIZE;
	return w;
}

static int thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

int tf_writer_compress_behind(struct tf_writer *w)
{
	struct behind *bg;

	if (w->bg)
		return 0;
	bg = calloc(1, sizeof(*bg));
	if (!bg || !(bg->spare = ec_encoder_new(w->event_abi != FL_EVENT_ABI))) {
		free(bg);
		return -1;
	}
	ec_encoder_set_time_res(bg->spare, w->time_res);
	pthread_mutex_init(&bg->lock, NULL);
	pthread_mutex_init(&bg->msg_lock, NULL);
	pthread_cond_init(&bg->cond, NULL);
	w->bg = bg;
	if (thread_start(&bg->thread, behind_run, w) != 0) {
		behind_free(bg);
		w->bg = NULL;
		return -1;
	}
	return 0;
}

void tf_writer_set_block_size(struct tf_writer *w, size_t bytes)
{
	if (bytes == 0)
		bytes = TF_DEFAULT_BLOCK_SIZE;
	w->block_size = bytes < TF_MAX_BLOCK_RAW ? bytes : TF_MAX_BLOCK_RAW;
}

void tf_writer_set_call_time_res(struct tf_writer *w, uint64_t ns)
{
	w->time_res = ns;
	ec_encoder_set_time_res(w->enc, ns);
	if (w->bg)
		ec_encoder_set_time_res(w->bg->spare, ns);
}

void tf_writer_set_level(struct tf_writer *w, int level)
{
	if (level < TF_MIN_LEVEL || level > ZSTD_maxCLevel())
		level = TF_DEFAULT_LEVEL;
	w->level = level; /* taken by the next block */
}

/* True if a record of len bytes would take the pending block over a limit. */
static bool block_full_for(const struct tf_writer *w, uint32_t len)
{
	return ec_encoder_out_bytes(w->enc) + EC_OUT_BYTES(len) > TF_MAX_BLOCK_RAW ||
	       ec_encoder_bytes(w->enc) + len + 256 > TF_MAX_BLOCK_RAW;
}

int tf_writer_add(struct tf_writer *w, const void *rec, uint32_t len)
{
	if (writer_check(w) < 0)
		return -1;
	if (len > TF_MAX_RECORD_LEN) {
		if (w->bg)
			pthread_mutex_lock(&w->bg->msg_lock);
		set_msg(w->msg, sizeof(w->msg), "writing %s: record of %u bytes is too large",
			w->path, len);
		if (w->bg)
			pthread_mutex_unlock(&w->bg->msg_lock);
		errno = EMSGSIZE;
		return -1;
	}
	if (block_full_for(w, len) && flush_data_block(w) < 0)
		return -1;
	if (ec_encode(w->enc, rec, len) < 0)
		return writer_fail(w);
	w->records++;
	if (ec_encoder_out_bytes(w->enc) >= w->block_size)
		return flush_data_block(w);
	return 0;
}

int tf_writer_flush(struct tf_writer *w)
{
	behind_sync(w); /* the header goes first, written by one thread at a time */
	if (writer_check(w) < 0 || write_file_header(w) < 0)
		return -1;
	return flush_data_block(w);
}

/* Closes w's file and renames it into place (commit) or removes it. */
static int writer_finish(struct tf_writer *w, bool commit, int rc)
{
	w->out.fd = w->fd;
	if (commit && rc == 0) {
		if (sf_out_commit(&w->out) < 0)
			rc = writer_fail(w);
	} else if (commit) { /* cut short: what was written is still kept */
		int saved = errno;

		if (sf_out_commit(&w->out) < 0)
			return -2;
		errno = saved;
	} else {
		sf_out_abort(&w->out);
	}
	return rc;
}

int tf_writer_close(struct tf_writer *w, char *err, size_t errlen)
{
	int rc = 0, saved;

	if (tf_writer_flush(w) < 0)
		rc = -1;
	behind_sync(w);
	if (rc == 0 && (writer_check(w) < 0 || write_end_block(w) < 0))
		rc = -1;
	rc = writer_finish(w, true, rc); /* on an error, kept cut short */
	if (rc < 0)
		set_msg(err, errlen, "%s", w->msg);
	saved = w->failed ? w->failed_errno : 0;
	writer_free(w);
	if (rc < 0)
		errno = saved;
	return rc;
}

int tf_writer_publish(struct tf_writer *w)
{
	if (tf_writer_flush(w) < 0)
		return -1;
	w->out.fd = w->fd;
	if (sf_out_publish(&w->out) < 0) {
		set_msg(w->msg, sizeof(w->msg), "renaming the new %s into place: %s", w->path, strerror(errno));
		return -1;
	}
	return 0;
}

int tf_writer_cut(struct tf_writer *w)
{
	int saved = errno, rc;

	if (!w)
		return -1;
	if (!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
		(void)tf_writer_flush(w);
	behind_sync(w);
	rc = writer_finish(w, true, -1) == -2 ? -1 : 0;
	writer_free(w);
	errno = saved;
	return rc;
}

void tf_writer_abort(struct tf_writer *w)
{
	int saved = errno;

	if (!w)
		return;
	behind_sync(w);
	writer_finish(w, false, -1);
	writer_free(w);
	errno = saved;
}

const char *tf_writer_error(const struct tf_writer *w)
{
	return w->msg;
}

uint64_t tf_writer_records(const struct tf_writer *w)
{
	return w->records;
}

uint64_t tf_writer_bytes_written(const struct tf_writer *w)
{
	return __atomic_load_n(&w->file_bytes, __ATOMIC_RELAXED);
}

/* ---- reader ---- */

/* What reads, checks, inflates and decodes the blocks one after another
 * (owned by the read-ahead thread while that runs). */
struct block_loader {
	int fd;
	char *path;
	uint64_t offset;	/* file offset of the next block header */
	uint64_t block_offset;	/* file offset of the block being checked */
	uint32_t version;	/* the file's format version */
	z_stream zs;		/* versions 1 and 2: inflate, reset for each block */
	bool zs_ready;
	ZSTD_DCtx *zd;		/* since version 3 */
	unsigned char *raw;	/* current block payload */
	size_t raw_len, raw_cap;
	unsigned char *comp;
	size_t comp_cap;
	uint64_t blocks;	/* whole blocks loaded, end block included */
	uint64_t decoded;	/* records in the data blocks loaded */
	uint64_t raw_total;	/* raw bytes of data blocks loaded */
	char msg[320];		/* set with the final status */
};

/* Read-ahead: a thread loads the blocks into a ring of decoders while the
 * reader's user takes the records of the one it holds. */
#define READ_AHEAD_SLOTS 3

struct read_ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ec_decoder *dec[READ_AHEAD_SLOTS];
	enum tf_status status[READ_AHEAD_SLOTS]; /* what loading the slot returned */
	uint64_t blocks[READ_AHEAD_SLOTS];	 /* the loader's block count then */
	unsigned head;	/* the slot the user reads next (or holds) */
	unsigned full;	/* slots loaded, from head on (the held one included) */
	bool holding;	/* the user holds slot head */
	bool stop;
};

struct tf_reader {
	struct block_loader ld;
	struct ec_decoder *dec;	/* the block whose records are returned */
	struct read_ahead *ra;	/* NULL: blocks are loaded by tf_reader_next itself */
	uint64_t blocks;	/* whole blocks read, as the caller has seen them */
	uint64_t records;	/* records returned */
	bool done;
	enum tf_status final;
};

static enum tf_status loader_corrupt(struct block_loader *ld, const char *why)
{
	set_msg(ld->msg, sizeof(ld->msg), "%s: corrupt block at byte %llu: %s", ld->path,
		(unsigned long long)ld->block_offset, why);
	return TF_CORRUPT;
}

static enum tf_status loader_truncated(struct block_loader *ld)
{
	set_msg(ld->msg, sizeof(ld->msg),
		"%s: truncated at byte %llu (no end block; the recording did not finish)",
		ld->path, (unsigned long long)ld->block_offset);
	return TF_TRUNCATED;
}

static enum tf_status loader_io_error(struct block_loader *ld)
{
	set_msg(ld->msg, sizeof(ld->msg), "reading %s at byte %llu: %s", ld->path,
		(unsigned long long)ld->block_offset, strerror(errno));
	return TF_CORRUPT;
}

static void read_ahead_stop(struct tf_reader *r);

static void reader_free(struct tf_reader *r)
{
	read_ahead_stop(r);
	if (r->ld.fd >= 0)
		close(r->ld.fd);
	if (r->ld.zs_ready)
		inflateEnd(&r->ld.zs);
	ZSTD_freeDCtx(r->ld.zd);
	ec_decoder_free(r->dec);
	free(r->ld.raw);
	free(r->ld.comp);
	free(r->ld.path);
	free(r);
}

/* Checks the n bytes read of the file header; returns 0, or -1 with a message in err. */
static int check_file_header(const char *path, const unsigned char *h, ssize_t n,
			     char *err, size_t errlen)
{
	uint32_t version;

	if (n == 0) {
		set_msg(err, errlen, "%s: empty file (no trace header)", path);
		return -1;
	}
	if (n < 8 || memcmp(h, file_magic, 8) != 0) {
		set_msg(err, errlen, "%s: not a faultline trace file (bad magic)", path);
		return -1;
	}
	if (n < TF_FILE_HEADER_LEN) {
		set_msg(err, errlen, "%s: trace header is truncated (%zd of %d bytes)", path, n,
			TF_FILE_HEADER_LEN);
		return -1;
	}
	version = get_u32(h + 8);
	if (version < TF_OLDEST_FORMAT_VERSION || version > TF_FORMAT_VERSION) {
		set_msg(err, errlen,
			"%s: format version %u is not supported (this faultline reads %d to %d)",
			path, version, TF_OLDEST_FORMAT_VERSION, TF_FORMAT_VERSION);
		return -1;
	}
	if (get_u32(h + 20) != crc_of(h, 20)) {
		set_msg(err, errlen, "%s: trace header is corrupt (checksum mismatch)", path);
		return -1;
	}
	return 0;
}

/* Version 1: zlib-wrapped deflate; 2: raw deflate (the payload has a CRC);
 * since 3: a zstd frame. */
static int decompressor_init(struct block_loader *ld)
{
	if (ld->version >= 3)
		return (ld->zd = ZSTD_createDCtx()) ? 0 : -1;
	if (inflateInit2(&ld->zs, ld->version == 1 ? 15 : -15) != Z_OK)
		return -1;
	ld->zs_ready = true;
	return 0;
}

struct tf_reader *tf_reader_open(const char *path, uint32_t *event_abi, char *err, size_t errlen)
{
	unsigned char h[TF_FILE_HEADER_LEN];
	struct tf_reader *r;
	ssize_t n;

	r = calloc(1, sizeof(*r));
	if (!r || !(r->ld.path = strdup(path)) || !(r->dec = ec_decoder_new())) {
		set_msg(err, errlen, "cannot open %s: %s", path, strerror(ENOMEM));
		if (r)
			free(r->ld.path);
		free(r);
		return NULL;
	}
	r->ld.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->ld.fd < 0) {
		set_msg(err, errlen, "cannot open %s: %s", path, strerror(errno));
		reader_free(r);
		return NULL;
	}
	n = io_read_full(r->ld.fd, h, sizeof(h));
	if (n < 0) {
		set_msg(err, errlen, "reading %s: %s", path, strerror(errno));
		reader_free(r);
		return NULL;
	}
	if (check_file_header(path, h, n, err, errlen) < 0) {
		reader_free(r);
		return NULL;
	}
	r->ld.version = get_u32(h + 8);
	if (decompressor_init(&r->ld) < 0) {
		set_msg(err, errlen, "cannot open %s: %s", path, strerror(ENOMEM));
		reader_free(r);
		return NULL;
	}
	if (event_abi)
		*event_abi = get_u32(h + 12);
	r->ld.offset = TF_FILE_HEADER_LEN;
	return r;
}

/* True if a regular file is too short to hold n more bytes at the current
 * position: lets a truncated huge block fail without allocating for it. */
static bool file_too_short(int fd, uint64_t offset, uint64_t n)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return offset + n > (uint64_t)st.st_size;
}

/* True if comp_len bytes of comp are exactly one zstd frame (version 3 and
 * 4), or (5) one to EC_CHUNKS frames. */
static bool zstd_frames_fill(const unsigned char *comp, uint32_t comp_len, uint32_t version)
{
	size_t at = 0;
	unsigned frames = 0;

	while (at < comp_len) {
		size_t n = ZSTD_findFrameCompressedSize(comp + at, comp_len - at);

		if (ZSTD_isError(n) || n == 0 || ++frames > (version >= 5 ? EC_CHUNKS : 1u))
			return false;
		at += n;
	}
	return frames > 0 && at == comp_len;
}

/* Decompresses comp_len bytes of ld->comp into exactly raw_len bytes of
 * ld->raw: zstd frames, or (versions 1 and 2) one deflate stream. */
static bool decompress_payload(struct block_loader *ld, uint32_t raw_len, uint32_t comp_len)
{
	z_stream *zs = &ld->zs;

	if (ld->zd) {
		size_t n;

		if (!zstd_frames_fill(ld->comp, comp_len, ld->version))
			return false;
		n = ZSTD_decompressDCtx(ld->zd, ld->raw, raw_len, ld->comp, comp_len);
		return !ZSTD_isError(n) && n == raw_len;
	}
	if (inflateReset(zs) != Z_OK)
		return false;
	zs->next_in = ld->comp;
	zs->avail_in = comp_len;
	zs->next_out = ld->raw;
	zs->avail_out = raw_len;
	return inflate(zs, Z_FINISH) == Z_STREAM_END && zs->avail_in == 0 && zs->avail_out == 0;
}

/* Decodes the data block payload in ld->raw into dec's aligned records. */
static enum tf_status decode_records(struct block_loader *ld, struct ec_decoder *dec)
{
	const char *why = "bad records";
	int rc;

	if (ld->version == 1) {
		rc = ec_decode_framed(dec, ld->raw, ld->raw_len, 2 * (size_t)TF_MAX_BLOCK_LEN, &why);
	} else {
		ec_decoder_set_format(dec, ld->version);
		rc = ec_decode_block(dec, ld->raw, ld->raw_len, TF_MAX_BLOCK_LEN, &why);
	}
	if (rc < 0)
		return loader_corrupt(ld, why);
	ld->decoded += ec_decoder_records(dec);
	return TF_RECORD;
}

static enum tf_status check_end_block(struct block_loader *ld, const unsigned char *p)
{
	if (get_u64(p) != ld->decoded || get_u64(p + 8) != ld->raw_total)
		return loader_corrupt(ld, "end block counts do not match the records read");
	set_msg(ld->msg, sizeof(ld->msg), "%s: complete", ld->path);
	return TF_END;
}

/* Reads and checks the comp_len payload, decompresses it into ld->raw. */
static enum tf_status load_payload(struct block_loader *ld, uint32_t raw_len, uint32_t comp_len,
				   uint32_t comp_crc)
{
	ssize_t n;

	if (file_too_short(ld->fd, ld->offset + TF_BLOCK_HEADER_LEN, comp_len))
		return loader_truncated(ld);
	if (grow(&ld->comp, &ld->comp_cap, comp_len) < 0 ||
	    grow(&ld->raw, &ld->raw_cap, raw_len ? raw_len : 1) < 0)
		return loader_io_error(ld);
	n = io_read_full(ld->fd, ld->comp, comp_len);
	if (n < 0)
		return loader_io_error(ld);
	if ((size_t)n < comp_len)
		return loader_truncated(ld);
	if (crc_of(ld->comp, comp_len) != comp_crc)
		return loader_corrupt(ld, "payload checksum mismatch");
	if (!decompress_payload(ld, raw_len, comp_len))
		return loader_corrupt(ld, "bad compressed data");
	ld->raw_len = raw_len;
	return TF_RECORD;
}

/* Reads the block at ld->offset. Returns TF_RECORD when a data block was
 * decoded into dec, otherwise the final status (message in ld->msg). */
static enum tf_status load_block(struct block_loader *ld, struct ec_decoder *dec)
{
	unsigned char h[TF_BLOCK_HEADER_LEN];
	uint32_t kind, raw_len, comp_len;
	enum tf_status st;
	ssize_t n;

	ld->block_offset = ld->offset;
	n = io_read_full(ld->fd, h, sizeof(h));
	if (n < 0)
		return loader_io_error(ld);
	if (n < TF_BLOCK_HEADER_LEN)
		return loader_truncated(ld);
	if (get_u32(h) != TF_BLOCK_MAGIC)
		return loader_corrupt(ld, "bad block magic");
	if (get_u32(h + 20) != crc_of(h, 20))
		return loader_corrupt(ld, "block header checksum mismatch");
	kind = get_u32(h + 4);
	raw_len = get_u32(h + 8);
	comp_len = get_u32(h + 12);
	if (kind != TF_BLOCK_DATA && kind != TF_BLOCK_END)
		return loader_corrupt(ld, "unknown block kind");
	if (raw_len > TF_MAX_BLOCK_LEN || comp_len > TF_MAX_BLOCK_LEN || comp_len == 0 ||
	    (kind == TF_BLOCK_END && raw_len != TF_END_PAYLOAD_LEN))
		return loader_corrupt(ld, "bad block length");
	st = load_payload(ld, raw_len, comp_len, get_u32(h + 16));
	if (st != TF_RECORD)
		return st;
	ld->offset += TF_BLOCK_HEADER_LEN + (uint64_t)comp_len;
	ld->blocks++;
	if (kind == TF_BLOCK_END)
		return check_end_block(ld, ld->raw);
	st = decode_records(ld, dec);
	if (st != TF_RECORD)
		return st;
	ld->raw_total += raw_len;
	return TF_RECORD;
}

/* ---- read-ahead ---- */

/* The thread: loads slot after slot until a final status or stop. */
static void *read_ahead_run(void *arg)
{
	struct tf_reader *r = arg;
	struct read_ahead *ra = r->ra;
	enum tf_status st = TF_RECORD;

	while (st == TF_RECORD) {
		unsigned slot;

		pthread_mutex_lock(&ra->lock);
		while (!ra->stop && ra->full == READ_AHEAD_SLOTS)
			pthread_cond_wait(&ra->cond, &ra->lock);
		slot = (ra->head + ra->full) % READ_AHEAD_SLOTS;
		if (ra->stop) {
			pthread_mutex_unlock(&ra->lock);
			break;
		}
		pthread_mutex_unlock(&ra->lock);
		st = load_block(&r->ld, ra->dec[slot]);
		pthread_mutex_lock(&ra->lock);
		ra->status[slot] = st;
		ra->blocks[slot] = r->ld.blocks;
		ra->full++;
		pthread_cond_broadcast(&ra->cond);
		pthread_mutex_unlock(&ra->lock);
	}
	return NULL;
}

/* The user's side: gives the held slot back and waits for the next one. */
static enum tf_status read_ahead_take(struct tf_reader *r)
{
	struct read_ahead *ra = r->ra;
	enum tf_status st;

	pthread_mutex_lock(&ra->lock);
	if (ra->holding) {
		ra->head = (ra->head + 1) % READ_AHEAD_SLOTS;
		ra->full--;
		ra->holding = false;
		pthread_cond_broadcast(&ra->cond);
	}
	while (ra->full == 0)
		pthread_cond_wait(&ra->cond, &ra->lock);
	ra->holding = true;
	st = ra->status[ra->head];
	r->blocks = ra->blocks[ra->head];
	r->dec = st == TF_RECORD ? ra->dec[ra->head] : NULL;
	pthread_mutex_unlock(&ra->lock);
	return st;
}

static void read_ahead_free(struct read_ahead *ra)
{
	for (unsigned i = 0; i < READ_AHEAD_SLOTS; i++)
		ec_decoder_free(ra->dec[i]);
	pthread_cond_destroy(&ra->cond);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

/* Stops and joins the thread; the decoders go with it. */
static void read_ahead_stop(struct tf_reader *r)
{
	struct read_ahead *ra = r->ra;

	if (!ra)
		return;
	thread_stop(ra->thread, &ra->lock, &ra->cond, &ra->stop);
	r->dec = NULL;
	r->ra = NULL;
	read_ahead_free(ra);
}

/* A thread that takes no signals (they stay the caller's business). */
static int thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

int tf_reader_read_ahead(struct tf_reader *r)
{
	struct read_ahead *ra;

	if (r->ra || r->blocks || r->done)
		return -1;
	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -1;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->cond, NULL);
	for (unsigned i = 1; i < READ_AHEAD_SLOTS; i++)
		if (!(ra->dec[i] = ec_decoder_new()))
			return read_ahead_free(ra), -1;
	ra->dec[0] = r->dec;
	r->dec = NULL; /* until the first block is taken: the thread fills slot 0 */
	r->ra = ra;
	if (thread_start(&ra->thread, read_ahead_run, r) != 0) {
		r->ra = NULL;
		r->dec = ra->dec[0];
		ra->dec[0] = NULL;
		read_ahead_free(ra);
		return -1;
	}
	return 0;
}

/* ---- records ---- */

/* Makes the next block's records current; TF_RECORD or the final status. */
static enum tf_status next_block(struct tf_reader *r)
{
	enum tf_status st;

	if (r->ra) {
		st = read_ahead_take(r);
	} else {
		st = load_block(&r->ld, r->dec);
		r->blocks = r->ld.blocks;
	}
	if (st != TF_RECORD) {
		r->done = true;
		r->final = st;
	}
	return st;
}

enum tf_status tf_reader_next(struct tf_reader *r, const void **rec, uint32_t *len)
{
	const void *p = NULL;
	uint32_t n = 0;

	while (!r->done && !(r->dec && ec_decoder_next(r->dec, &p, &n)))
		next_block(r);
	if (rec)
		*rec = r->done ? NULL : p;
	if (len)
		*len = r->done ? 0 : n;
	if (r->done)
		return r->final;
	r->records++;
	return TF_RECORD;
}

const char *tf_reader_error(const struct tf_reader *r)
{
	return r->done ? r->ld.msg : "";
}

uint64_t tf_reader_blocks(const struct tf_reader *r)
{
	return r->blocks;
}

uint64_t tf_reader_records(const struct tf_reader *r)
{
	return r->records;
}

void tf_reader_close(struct tf_reader *r)
{
	if (r)
		reader_free(r);
}
