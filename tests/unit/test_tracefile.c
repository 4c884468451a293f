/* test_tracefile.c - unit tests for the trace file container (user/tracefile.c):
 * round trips (opaque records and kernel events in the compact form),
 * on-disk layout, version 1 files, header checks, truncation at every length,
 * corruption at every byte, write errors (/dev/full) and abort.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "faultline.h"
#include "store/tracefile.h"
#include "test_files.h"

static char tmpdir[] = "/tmp/faultline-tf-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* ---- deterministic test records ---- */

/* Set: the records are kernel events (written with FL_EVENT_ABI, so in the
 * compact form) and a few meta-like ones; clear: opaque bytes of sizes
 * 0..699, crossing block sizes (written with another ABI: verbatim). */
static bool event_mode;

static uint32_t event_len(unsigned i)
{
	switch (i % 8) {
	case 5: return sizeof(struct fl_ev_fault);
	case 6: return sizeof(struct fl_ev_syscall);
	case 7: return 16 + i % 40; /* meta-like */
	default: return sizeof(struct fl_ev_call);
	}
}

/* Event i: three threads interleaved, malloc/free pairs, faults, syscalls. */
static void event_fill(unsigned i, unsigned char *buf)
{
	struct fl_hdr h = { .type = FL_EV_CALL, .func = i % 2 ? FL_FREE : FL_MALLOC,
			    .tid = 100 + i % 3, .tgid = 100, .cpu = i % 2,
			    .ts = 1000000000000ull + i * 1000ull + (i * 7919u) % 97 };
	uint64_t ptr = 0x555555559000ull + (i / 2 % 16) * 0x40;

	if (i % 8 == 5) {
		struct fl_ev_fault f = { .h = h, .addr = ptr + 4096 * (i % 5), .ip = 0x7fff0000ull + i };

		f.h.type = FL_EV_FAULT;
		f.h.flags = FL_F_IN_CALL | FL_F_FAULT_WRITE;
		memcpy(buf, &f, sizeof(f));
	} else if (i % 8 == 6) {
		struct fl_ev_syscall s = { .h = h, .sys = FL_SYS_MMAP, .args = { 0, 4096u * i, 3, 0x22, (uint64_t)-1 },
					   .ret = i % 3 ? 0x7ffff7d00000ll : -12 };

		s.h.type = FL_EV_SYSCALL;
		memcpy(buf, &s, sizeof(s));
	} else if (i % 8 == 7) {
		for (uint32_t j = 0; j < event_len(i); j++)
			buf[j] = (unsigned char)(j ? i * 7u + j * 13u : 0x80);
	} else {
		struct fl_ev_call c = { .h = h, .a0 = i % 2 ? 0 : 16u << (i % 7), .a2 = i % 2 ? ptr : 0,
					.ret = i % 2 ? 0 : ptr, .ts_ret = h.ts + 500 + i % 13 };

		memcpy(buf, &c, sizeof(c));
	}
}

static uint32_t rec_len(unsigned i)
{
	return event_mode ? event_len(i) : (i * 37u) % 700u;
}

static void rec_fill(unsigned i, unsigned char *buf)
{
	if (event_mode) {
		event_fill(i, buf);
		return;
	}
	for (uint32_t j = 0; j < rec_len(i); j++)
		buf[j] = (unsigned char)(i * 7u + j * 13u);
}

static uint32_t test_abi(void)
{
	return event_mode ? FL_EVENT_ABI : 7;
}

/* The calls' time resolution the file under test was written with. */
static uint64_t call_res = 1;

static void assert_rec(unsigned i, const void *rec, uint32_t len)
{
	unsigned char want[700];

	assert_int_equal(len, rec_len(i));
	assert_int_equal((uintptr_t)rec % 8, 0);
	rec_fill(i, want);
	if (event_mode && want[0] == FL_EV_CALL && len == sizeof(struct fl_ev_call)) { /* rounded down */
		struct fl_ev_call c;

		memcpy(&c, want, sizeof(c));
		c.h.ts = c.h.ts / call_res * call_res;
		c.ts_ret = c.ts_ret / call_res * call_res;
		memcpy(want, &c, sizeof(c));
	}
	if (len)
		assert_memory_equal(rec, want, len);
}

static void add_rec(struct tf_writer *w, unsigned i)
{
	unsigned char buf[700];

	rec_fill(i, buf);
	assert_int_equal(tf_writer_add(w, buf, rec_len(i)), 0);
}

/* Block boundaries of a file written by write_flushed(). */
struct layout {
	uint64_t off[64];   /* file offset where block k starts (last: end block) */
	uint64_t recs[64];  /* records in blocks before block k */
	int n;
	uint64_t size;
	unsigned total;
};

/* Writes nrec records, flushing every `every`, remembering block offsets. */
static void write_flushed(const char *path, unsigned nrec, unsigned every, struct layout *l)
{
	char err[256];
	struct tf_writer *w = tf_writer_open(path, test_abi(), err, sizeof(err));

	assert_non_null(w);
	memset(l, 0, sizeof(*l));
	assert_int_equal(tf_writer_flush(w), 0); /* header only */
	for (unsigned i = 0; i < nrec; i++) {
		if (i % every == 0) {
			l->off[l->n] = tf_writer_bytes_written(w);
			l->recs[l->n++] = i;
		}
		add_rec(w, i);
		if (i % every == every - 1)
			assert_int_equal(tf_writer_flush(w), 0);
	}
	assert_int_equal(tf_writer_flush(w), 0);
	l->off[l->n] = tf_writer_bytes_written(w);
	l->recs[l->n++] = nrec;
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	l->total = nrec;
}

/* Index of the last block starting at or before byte pos. */
static int block_at(const struct layout *l, uint64_t pos)
{
	int k = 0;

	while (k + 1 < l->n && l->off[k + 1] <= pos)
		k++;
	return k;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return buf;
}

static void spit(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

/* Readers are opened through this: with read_ahead set, blocks are loaded
 * by the reader's thread (every reading test runs both ways). */
static bool read_ahead;

static struct tf_reader *reader_open(const char *path, uint32_t *abi, char *err, size_t errlen)
{
	struct tf_reader *r = tf_reader_open(path, abi, err, errlen);

	if (r && read_ahead)
		assert_int_equal(tf_reader_read_ahead(r), 0);
	return r;
}

/* Reads every record, checking contents; returns the final status. */
static enum tf_status read_all(struct tf_reader *r, unsigned *count)
{
	const void *rec;
	uint32_t len;
	enum tf_status st;

	*count = 0;
	while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD)
		assert_rec((*count)++, rec, len);
	return st;
}

/* ---- hand-built files, independent of the writer ---- */

static void le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static size_t put_header(unsigned char *p, uint32_t version, uint32_t abi)
{
	memcpy(p, "FAULTLN", 8);
	le32(p + 8, version);
	le32(p + 12, abi);
	le32(p + 16, 0);
	le32(p + 20, (uint32_t)crc32(0, p, 20));
	return 24;
}

/* Writes the 24-byte block header before the clen payload bytes at p + 24;
 * returns the block's size. */
static size_t block_header(unsigned char *p, uint32_t kind, uint32_t raw_len, uint32_t clen)
{
	le32(p, 0x4b4c4246);
	le32(p + 4, kind);
	le32(p + 8, raw_len);
	le32(p + 12, clen);
	le32(p + 16, (uint32_t)crc32(0, p + 24, clen));
	le32(p + 20, (uint32_t)crc32(0, p, 20));
	return 24 + (size_t)clen;
}

/* Appends a block with the given header fields; raw_len_field overrides the
 * stored raw length when not UINT32_MAX. Returns bytes written at p. */
static size_t put_block(unsigned char *p, uint32_t kind, const void *raw, size_t raw_len,
			uint32_t raw_len_field)
{
	uLongf clen = compressBound(raw_len);

	assert_int_equal(compress2(p + 24, &clen, raw, raw_len, 1), Z_OK);
	return block_header(p, kind, raw_len_field != UINT32_MAX ? raw_len_field : (uint32_t)raw_len, (uint32_t)clen);
}

/* One zstd frame of exactly n bytes (a version 3 block's payload) into dst. */
static size_t unzstd(const unsigned char *src, size_t n, unsigned char *dst, size_t cap)
{
	size_t out, at = 0;

	while (at < n) { /* whole frames, one after another */
		size_t f = ZSTD_findFrameCompressedSize(src + at, n - at);

		assert_false(ZSTD_isError(f));
		at += f;
	}
	assert_int_equal(at, n);
	out = ZSTD_decompress(dst, cap, src, n);
	assert_false(ZSTD_isError(out));
	return out;
}

/* A format version 2 block: raw deflate. */
static size_t put_block_v2(unsigned char *p, uint32_t kind, const void *raw, size_t raw_len)
{
	z_stream zs = { 0 };
	uint32_t clen;

	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)raw;
	zs.avail_in = (uInt)raw_len;
	zs.next_out = p + 24;
	zs.avail_out = 4096;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	clen = (uint32_t)zs.total_out;
	deflateEnd(&zs);
	return block_header(p, kind, (uint32_t)raw_len, clen);
}

static size_t put_end_v2(unsigned char *p, uint64_t nrec, uint64_t nraw)
{
	unsigned char end[16];

	le64(end, nrec);
	le64(end + 8, nraw);
	return put_block_v2(p, 2, end, sizeof(end));
}

static size_t put_end(unsigned char *p, uint64_t nrec, uint64_t nraw)
{
	unsigned char end[16];

	le64(end, nrec);
	le64(end + 8, nraw);
	return put_block(p, 2, end, sizeof(end), UINT32_MAX);
}

/* Two records "ab" and "" as a data block payload. */
static size_t two_records(unsigned char *raw)
{
	le32(raw, 2);
	memcpy(raw + 4, "ab", 2);
	le32(raw + 6, 0);
	return 10;
}

static enum tf_status read_built(const unsigned char *file, size_t n, unsigned *count, char *msg)
{
	const char *path = tmp_path("built.data");
	char err[256];
	const void *rec;
	uint32_t len, abi = 0;
	enum tf_status st;
	struct tf_reader *r;

	spit(path, file, n);
	r = reader_open(path, &abi, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(abi, 9);
	*count = 0;
	while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD)
		(*count)++;
	snprintf(msg, 256, "%s", tf_reader_error(r));
	tf_reader_close(r);
	return st;
}

/* ---- tests ---- */

static void test_round_trip_many_blocks(void **state)
{
	const char *path = tmp_path("round.data");
	char err[256];
	uint32_t abi = 0;
	unsigned count;
	struct tf_writer *w;
	struct tf_reader *r;
	const void *rec;
	uint32_t len;

	(void)state;
	w = tf_writer_open(path, 42, err, sizeof(err));
	assert_non_null(w);
	tf_writer_set_block_size(w, 1000);
	tf_writer_set_level(w, 6);
	for (unsigned i = 0; i < 2000; i++)
		add_rec(w, i);
	assert_true(tf_writer_bytes_written(w) > 24);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);

	r = reader_open(path, &abi, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(abi, 42);
	assert_int_equal(read_all(r, &count), TF_END);
	assert_int_equal(count, 2000);
	assert_int_equal(tf_reader_records(r), 2000);
	assert_true(tf_reader_blocks(r) > 100);
	assert_int_equal(tf_reader_next(r, &rec, &len), TF_END); /* sticky */
	assert_null(rec);
	tf_reader_close(r);
}

/* The same through tf_writer_compress_behind (a thread compresses and
 * writes while the caller fills the next block), flushed now and then as
 * record does: every record back, in order. */
static void test_round_trip_compress_behind(void **state)
{
	const char *path = tmp_path("behind.data");
	char err[256];
	unsigned count;
	struct tf_writer *w;
	struct tf_reader *r;

	(void)state;
	w = tf_writer_open(path, 42, err, sizeof(err));
	assert_non_null(w);
	tf_writer_set_block_size(w, 1000);
	assert_int_equal(tf_writer_compress_behind(w), 0);
	for (unsigned i = 0; i < 5000; i++) {
		add_rec(w, i);
		if (i % 777 == 0)
			assert_int_equal(tf_writer_flush(w), 0);
	}
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	r = reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_END);
	assert_int_equal(count, 5000);
	assert_true(tf_reader_blocks(r) > 250);
	tf_reader_close(r);
}

static void test_on_disk_layout(void **state)
{
	const char *path = tmp_path("layout.data");
	char err[256];
	unsigned char *buf, raw[64];
	size_t n;
	size_t raw_len;
	struct tf_writer *w;

	(void)state;
	w = tf_writer_open(path, 0x01020304, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_add(w, "hello", 5), 0);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);

	buf = slurp(path, &n);
	assert_memory_equal(buf, "FAULTLN\0\5\0\0\0\4\3\2\1\0\0\0\0", 20);
	assert_int_equal(crc32(0, buf, 20), buf[20] | buf[21] << 8 | buf[22] << 16 | (uint32_t)buf[23] << 24);
	assert_memory_equal(buf + 24, "FBLK\1\0\0\0\x15\0\0\0", 12);
	uint32_t clen = buf[36] | buf[37] << 8 | buf[38] << 16 | (uint32_t)buf[39] << 24;
	/* two frames: the prelude's and the main stream's (the empty streams have none) */
	assert_int_equal(ZSTD_findFrameCompressedSize(buf + 48, clen) < clen, 1);
	raw_len = unzstd(buf + 48, clen, raw, sizeof(raw));
	/* 1 record, 16 bytes decoded, exact times, 7 bytes of main stream (verbatim,
	 * 5 bytes), ten empty value streams, no times */
	assert_int_equal(raw_len, 21);
	assert_memory_equal(raw, "\1\x10\1\7\0\0\0\0\0\0\0\0\0\0\0\5hello", 21);
	assert_memory_equal(buf + 48 + clen, "FBLK\2\0\0\0\x10\0\0\0", 12);
	raw_len = unzstd(buf + 72 + clen, n - 72 - clen, raw, sizeof(raw));
	assert_int_equal(raw_len, 16);
	assert_memory_equal(raw, "\1\0\0\0\0\0\0\0\x15\0\0\0\0\0\0\0", 16);
	free(buf);
}

static void test_reads_hand_built_file(void **state)
{
	unsigned char file[1024], raw[16];
	size_t n = put_header(file, 1, 9);
	size_t rl = two_records(raw);
	unsigned count;
	char msg[256];

	(void)state;
	n += put_block(file + n, 1, raw, rl, UINT32_MAX);
	n += put_end(file + n, 2, rl);
	assert_int_equal(read_built(file, n, &count, msg), TF_END);
	assert_int_equal(count, 2);
}

static void test_record_counts(void **state)
{
	const char *path = tmp_path("counts.data");
	char err[256];
	struct tf_writer *w;
	struct tf_reader *r;
	struct stat st;
	unsigned count;

	(void)state;
	unlink(path); /* made by an earlier run of this test */
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_records(w), 0);
	for (unsigned i = 0; i < 37; i++) {
		add_rec(w, i);
		assert_int_equal(tf_writer_records(w), i + 1);
	}
	assert_int_equal(tf_writer_flush(w), 0);
	assert_true(tf_writer_bytes_written(w) > 24);
	assert_int_equal(stat(path, &st), -1); /* under its temporary name until closed */
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);

	r = reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_END);
	assert_int_equal(count, 37);
	assert_int_equal(tf_reader_blocks(r), 2);
	tf_reader_close(r);

	/* No records at all: still a complete file. */
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	r = reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_END);
	assert_int_equal(count, 0);
	assert_int_equal(tf_reader_blocks(r), 1);
	tf_reader_close(r);
}

static void test_file_mode_0600(void **state)
{
	const char *path = tmp_path("mode.data");
	char err[256];
	struct tf_writer *w;
	struct stat st;
	mode_t old = umask(022);

	(void)state;
	w = tf_writer_open(path, 1, err, sizeof(err));
	umask(old);
	assert_non_null(w);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_replaces_existing_file(void **state)
{
	const char *path = tmp_path("old.data");
	static unsigned char junk[100000];
	char err[256];
	struct tf_writer *w;
	struct stat st;
	uint64_t written;

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	spit(path, junk, sizeof(junk));
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	add_rec(w, 3);
	assert_int_equal(tf_writer_flush(w), 0);
	written = tf_writer_bytes_written(w);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, sizeof(junk)); /* replaced only once whole */
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size > written && st.st_size < 1000);
}

static void test_writer_open_errors(void **state)
{
	char err[256];

	(void)state;
	assert_null(tf_writer_open(tmp_path("no/such/dir.data"), 1, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create "));
	assert_non_null(strstr(err, "no/such/dir.data: No such file or directory"));
	assert_null(strchr(err, '\n'));
	assert_null(tf_writer_open("-", 1, err, sizeof(err)));
	assert_non_null(strstr(err, "-"));
}

static void expect_open_fails(const char *path, const char *what)
{
	char err[256] = "";
	uint32_t abi = 0;

	assert_null(tf_reader_open(path, &abi, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, what));
	assert_null(strchr(err, '\n'));
}

static void test_reader_open_errors(void **state)
{
	const char *path = tmp_path("bad.data");
	unsigned char h[64];

	(void)state;
	expect_open_fails(tmp_path("missing.data"), "No such file or directory");

	spit(path, "", 0);
	expect_open_fails(path, "empty");

	put_header(h, 1, 9);
	h[3] ^= 0x20;
	spit(path, h, 24);
	expect_open_fails(path, "not a faultline trace file");

	spit(path, "FAULTLN", 8);
	expect_open_fails(path, "truncated");

	put_header(h, 1, 9);
	h[22] ^= 0x01; /* header CRC */
	spit(path, h, 24);
	expect_open_fails(path, "checksum");

	put_header(h, 1, 9);
	h[13] ^= 0x01; /* ABI, covered by the CRC */
	spit(path, h, 24);
	expect_open_fails(path, "checksum");

	put_header(h, 6, 9);
	spit(path, h, 24);
	expect_open_fails(path, "format version 6 is not supported (this faultline reads 1 to 5)");

	put_header(h, 0, 9);
	spit(path, h, 24);
	expect_open_fails(path, "format version 0 is not supported");
}

static void truncated_at_every_length(void)
{
	const char *path = tmp_path("full.data"), *cut = tmp_path("cut.data");
	struct layout l;
	unsigned char *buf;
	size_t n;
	char err[256];

	write_flushed(path, 40, 5, &l);
	buf = slurp(path, &n);
	assert_true(n > l.off[l.n - 1] + 24); /* end block after the data blocks */
	for (size_t s = n + 1; s-- > 0;) {
		struct tf_reader *r;
		unsigned count;
		enum tf_status st;

		spit(cut, buf, s);
		r = reader_open(cut, NULL, err, sizeof(err));
		if (s < 24) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		st = read_all(r, &count);
		if (s == n) {
			assert_int_equal(st, TF_END);
			assert_int_equal(count, l.total);
		} else {
			assert_int_equal(st, TF_TRUNCATED);
			assert_int_equal(count, l.recs[block_at(&l, s)]);
			assert_non_null(strstr(tf_reader_error(r), cut));
		}
		tf_reader_close(r);
	}
	free(buf);
}

static void flipped_byte_anywhere(void)
{
	const char *path = tmp_path("flip-src.data"), *bad = tmp_path("flip.data");
	struct layout l;
	unsigned char *buf;
	size_t n;
	char err[256], where[64];

	write_flushed(path, 30, 6, &l);
	buf = slurp(path, &n);
	for (size_t p = 0; p < n; p++) {
		struct tf_reader *r;
		unsigned count;
		int k;

		buf[p] ^= 0x10;
		spit(bad, buf, n);
		buf[p] ^= 0x10;
		r = reader_open(bad, NULL, err, sizeof(err));
		if (p < 24) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		assert_int_equal(read_all(r, &count), TF_CORRUPT);
		k = block_at(&l, p);
		assert_int_equal(count, l.recs[k]);
		snprintf(where, sizeof(where), "byte %llu", (unsigned long long)l.off[k]);
		assert_non_null(strstr(tf_reader_error(r), bad));
		assert_non_null(strstr(tf_reader_error(r), where));
		tf_reader_close(r);
	}
	free(buf);
}

static void test_truncated_at_every_length(void **state)
{
	(void)state;
	truncated_at_every_length();
	event_mode = true;
	truncated_at_every_length();
	event_mode = false;
}

static void test_flipped_byte_anywhere(void **state)
{
	(void)state;
	flipped_byte_anywhere();
	event_mode = true;
	flipped_byte_anywhere();
	event_mode = false;
}

static void test_flipped_payload_byte(void **state)
{
	const char *path = tmp_path("payload.data");
	struct layout l;
	unsigned char *buf;
	size_t n;
	unsigned count;
	char err[256];
	struct tf_reader *r;

	(void)state;
	write_flushed(path, 20, 5, &l);
	buf = slurp(path, &n);
	buf[l.off[2] + 24 + 3] ^= 0xff; /* inside the third block's zlib data */
	spit(path, buf, n);
	free(buf);
	r = reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_CORRUPT);
	assert_int_equal(count, 10);
	assert_int_equal(tf_reader_blocks(r), 2);
	assert_non_null(strstr(tf_reader_error(r), "checksum"));
	tf_reader_close(r);
}

static void test_hand_built_corruption(void **state)
{
	unsigned char file[1024], raw[64], junk[32];
	size_t h, n, rl;
	unsigned count;
	char msg[256];

	(void)state;
	h = put_header(file, 1, 9);
	memset(raw, 0, sizeof(raw));
	rl = two_records(raw);

	/* End block counts disagree with what was read. */
	n = h + put_block(file + h, 1, raw, rl, UINT32_MAX);
	n += put_end(file + n, 3, rl);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_int_equal(count, 2);
	assert_non_null(strstr(msg, "count"));

	/* A record length running past its block: no records returned. */
	le32(raw + 6, 5);
	n = h + put_block(file + h, 1, raw, rl, UINT32_MAX);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_int_equal(count, 0);
	assert_non_null(strstr(msg, "byte 24"));
	le32(raw + 6, 0);

	/* 2 stray bytes after the last record. */
	n = h + put_block(file + h, 1, raw, rl + 2, UINT32_MAX);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);

	/* Unknown kind. */
	n = h + put_block(file + h, 3, raw, rl, UINT32_MAX);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "kind"));

	/* Absurd raw length (valid checksums). */
	n = h + put_block(file + h, 1, raw, rl, (256u << 20) + 1);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "length"));

	/* raw_len that does not match the decompressed size. */
	n = h + put_block(file + h, 1, raw, rl, (uint32_t)rl + 1);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);

	/* Valid checksums over data that is not zlib. */
	n = h + put_block(file + h, 1, raw, rl, UINT32_MAX);
	memset(junk, 0xa5, sizeof(junk));
	memcpy(file + h + 24, junk, n - h - 24);
	le32(file + h + 16, (uint32_t)crc32(0, file + h + 24, (uInt)(n - h - 24)));
	le32(file + h + 20, (uint32_t)crc32(0, file + h, 20));
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "compressed"));

	/* Huge comp_len in a short file: truncated, not an allocation. */
	n = h + put_block(file + h, 1, raw, rl, UINT32_MAX);
	le32(file + h + 12, 200u << 20);
	le32(file + h + 20, (uint32_t)crc32(0, file + h, 20));
	assert_int_equal(read_built(file, n, &count, msg), TF_TRUNCATED);
}

static void test_event_round_trip(void **state)
{
	const char *path = tmp_path("events.data");
	static const int levels[] = { 1, 6, -1 };
	static const size_t block_sizes[] = { 0, 4096, 100 };
	char err[256];
	uint32_t abi = 0;
	unsigned count;

	(void)state;
	event_mode = true;
	for (int k = 0; k < 3; k++) {
		struct tf_writer *w = tf_writer_open(path, FL_EVENT_ABI, err, sizeof(err));
		struct tf_reader *r;
		size_t bytes;

		assert_non_null(w);
		tf_writer_set_level(w, levels[k]);
		tf_writer_set_block_size(w, block_sizes[k]);
		for (unsigned i = 0; i < 20000; i++) {
			add_rec(w, i);
			if (i == 7000)
				tf_writer_set_level(w, 9); /* mid-file: the next block uses it */
		}
		assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
		r = reader_open(path, &abi, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(abi, FL_EVENT_ABI);
		assert_int_equal(read_all(r, &count), TF_END);
		assert_int_equal(count, 20000);
		if (k == 0) { /* compact: the 1.3 MB of records take a few bytes each */
			free(slurp(path, &bytes));
			assert_true(bytes < 20000 * 6);
		}
		tf_reader_close(r);
	}
	event_mode = false;
}

/* The calls' times rounded down to the resolution, from the writer's thread
 * as from the caller's, other events' exact (what it saves: test_event_codec). */
static void test_call_time_res_round_trip(void **state)
{
	const char *path = tmp_path("coarse.data");
	char err[256];
	unsigned count;

	(void)state;
	event_mode = true;
	for (int k = 0; k < 3; k++) {
		struct tf_writer *w = tf_writer_open(path, FL_EVENT_ABI, err, sizeof(err));
		struct tf_reader *r;

		assert_non_null(w);
		if (k == 2)
			assert_int_equal(tf_writer_compress_behind(w), 0);
		call_res = k ? 100000 : 1;
		tf_writer_set_call_time_res(w, call_res);
		tf_writer_set_block_size(w, 65536);
		for (unsigned i = 0; i < 20000; i++)
			add_rec(w, i);
		assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
		r = reader_open(path, NULL, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(read_all(r, &count), TF_END);
		assert_int_equal(count, 20000);
		tf_reader_close(r);
		call_res = 1; /* the other tests' records are exact */
	}
	event_mode = false;
}

/* Builds a version 2 file with one data block holding payload; returns its size. */
static size_t build_v2(unsigned char *file, const unsigned char *payload, size_t n, uint64_t nrec)
{
	size_t len = put_header(file, 2, 9);

	len += put_block_v2(file + len, 1, payload, n);
	len += put_end_v2(file + len, nrec, n);
	return len;
}

static void test_reads_hand_built_version_2(void **state)
{
	/* records "ab" and "": 2 records, 16 + 8 bytes decoded, 6 bytes of main stream */
	unsigned char payload[] = { 2, 24, 6, 0, 2, 'a', 'b', 0, 0 };
	unsigned char file[1024];
	unsigned count;
	char msg[256];
	size_t n;

	(void)state;
	n = build_v2(file, payload, sizeof(payload), 2);
	assert_int_equal(read_built(file, n, &count, msg), TF_END);
	assert_int_equal(count, 2);

	/* A codec payload that is wrong despite good checksums: corrupt, no records. */
	payload[4] = 5; /* "ab" claims 5 bytes */
	n = build_v2(file, payload, sizeof(payload), 2);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_int_equal(count, 0);
	assert_non_null(strstr(msg, "built.data: corrupt block at byte 24"));
	assert_null(strchr(msg, '\n'));
	payload[4] = 2;
	payload[0] = 3; /* one record more than there is */
	n = build_v2(file, payload, sizeof(payload), 2);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_int_equal(count, 0);
	payload[0] = 2;
	payload[1] = 255; /* a varint cut short */
	n = build_v2(file, payload, sizeof(payload), 2);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	payload[1] = 24;

	/* A version 2 block holds raw deflate, not zlib data. */
	n = put_header(file, 2, 9);
	n += put_block(file + n, 1, payload, sizeof(payload), UINT32_MAX);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "compressed"));
}

/* A format version 3 block: frames zstd frames of raw (a second one, when
 * frames is 2, holds nothing). */
static size_t put_block_v3(unsigned char *p, uint32_t kind, const void *raw, size_t raw_len, int frames)
{
	size_t clen = ZSTD_compress(p + 24, 4096, raw, raw_len, 3);

	assert_false(ZSTD_isError(clen));
	if (frames == 2) {
		size_t more = ZSTD_compress(p + 24 + clen, 4096, "", 0, 3);

		assert_false(ZSTD_isError(more));
		clen += more;
	}
	return block_header(p, kind, (uint32_t)raw_len, (uint32_t)clen);
}

static size_t build_v3(unsigned char *file, const unsigned char *payload, size_t n, uint64_t nrec, int frames)
{
	unsigned char end[16];
	size_t len = put_header(file, 3, 9);

	len += put_block_v3(file + len, 1, payload, n, frames);
	le64(end, nrec);
	le64(end + 8, n);
	len += put_block_v3(file + len, 2, end, sizeof(end), 1);
	return len;
}

/* Real recordings of examples/seed_claims (6 mallocs, 6 frees) in format
 * versions 2 to 4, kept in the fuzz corpus: still read whole, every call
 * decoded (version 4 moved the calls' values to a stream of their own, 5 to
 * ten, and a block's streams to frames of their own). */
static void test_reads_recorded_versions_2_to_4(void **state)
{
	static const char *const paths[] = { "tests/fuzz/corpus/tracefile/seed_claims_v2",
					     "tests/fuzz/corpus/tracefile/seed_claims_v3",
					     "tests/fuzz/corpus/tracefile/seed_claims_v4" };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char err[256];
		uint32_t abi;
		struct tf_reader *r = tf_reader_open(paths[i], &abi, err, sizeof(err));
		const void *rec;
		uint32_t len;
		unsigned calls = 0, mallocs = 0;
		enum tf_status st;

		assert_non_null(r);
		while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD) {
			const struct fl_hdr *h = rec;

			if (len >= sizeof(*h) && h->type == FL_EV_CALL) {
				const struct fl_ev_call *c = rec;

				calls++;
				mallocs += c->h.func == FL_MALLOC && c->a0 && c->ret;
			}
		}
		assert_int_equal(st, TF_END);
		assert_int_equal(calls, 12);
		assert_int_equal(mallocs, 6);
		tf_reader_close(r);
	}
}

static void test_reads_hand_built_version_3(void **state)
{
	unsigned char payload[] = { 2, 24, 6, 0, 2, 'a', 'b', 0, 0 };
	unsigned char file[1024];
	unsigned count;
	char msg[256];
	size_t n;

	(void)state;
	n = build_v3(file, payload, sizeof(payload), 2, 1);
	assert_int_equal(read_built(file, n, &count, msg), TF_END);
	assert_int_equal(count, 2);

	/* one frame per block: a second frame after it is corrupt data */
	n = build_v3(file, payload, sizeof(payload), 2, 2);
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "compressed"));

	/* a version 3 block holds zstd, not deflate */
	n = put_header(file, 3, 9);
	n += put_block_v2(file + n, 1, payload, sizeof(payload));
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
	assert_non_null(strstr(msg, "compressed"));

	/* a frame that holds fewer bytes than the header says */
	n = put_header(file, 3, 9);
	n += put_block_v3(file + n, 1, payload, sizeof(payload) - 1, 1);
	le32(file + 24 + 8, sizeof(payload));
	le32(file + 24 + 20, (uint32_t)crc32(0, file + 24, 20));
	assert_int_equal(read_built(file, n, &count, msg), TF_CORRUPT);
}

static struct tf_writer *open_dev_full(void)
{
	char err[256];
	struct tf_writer *w;

	if (access("/dev/full", W_OK) != 0)
		return NULL;
	w = tf_writer_open("/dev/full", 1, err, sizeof(err));
	assert_non_null(w);
	return w;
}

/* Adds up to n test records until one fails: the last tf_writer_add's
 * result, its errno in *e. */
static int add_until_error(struct tf_writer *w, unsigned n, int *e)
{
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		unsigned char buf[700];

		rec_fill(i, buf);
		rc = tf_writer_add(w, buf, rec_len(i));
		*e = errno;
	}
	return rc;
}

static void test_dev_full_add_flush_close(void **state)
{
	struct tf_writer *w = open_dev_full();
	char err[256] = "";
	int rc = 0, e = 0;

	(void)state;
	if (!w)
		skip();
	tf_writer_set_block_size(w, 100);
	rc = add_until_error(w, 100, &e);
	assert_int_equal(rc, -1);
	assert_int_equal(e, ENOSPC);
	assert_string_equal(tf_writer_error(w), "writing /dev/full: No space left on device");
	assert_int_equal(tf_writer_add(w, "x", 1), -1); /* sticky */
	assert_int_equal(tf_writer_flush(w), -1);
	rc = tf_writer_close(w, err, sizeof(err));
	e = errno;
	assert_int_equal(rc, -1);
	assert_int_equal(e, ENOSPC);
	assert_string_equal(err, "writing /dev/full: No space left on device");
}

/* A write error in the thread of tf_writer_compress_behind reaches the
 * caller: a later add, the flush and the close fail with it. */
static void test_dev_full_compress_behind(void **state)
{
	struct tf_writer *w = open_dev_full();
	char err[256] = "";
	int rc = 0, e = 0;

	(void)state;
	if (!w)
		skip();
	tf_writer_set_block_size(w, 100);
	assert_int_equal(tf_writer_compress_behind(w), 0);
	rc = add_until_error(w, 1000, &e);
	assert_int_equal(rc, -1);
	assert_int_equal(e, ENOSPC);
	assert_int_equal(tf_writer_flush(w), -1);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), -1);
	assert_string_equal(err, "writing /dev/full: No space left on device");
}

static void test_dev_full_close(void **state)
{
	struct tf_writer *w = open_dev_full();
	char err[256] = "";

	(void)state;
	if (!w)
		skip();
	assert_int_equal(tf_writer_add(w, "abc", 3), 0); /* buffered */
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), -1);
	assert_string_equal(err, "writing /dev/full: No space left on device");
}

static void test_cut_leaves_truncated_file(void **state)
{
	const char *path = tmp_path("cut.data");
	char err[256];
	struct tf_writer *w;
	struct tf_reader *r;
	unsigned count;

	(void)state;
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	for (unsigned i = 0; i < 12; i++)
		add_rec(w, i);
	assert_int_equal(tf_writer_flush(w), 0);
	for (unsigned i = 12; i < 20; i++)
		add_rec(w, i);
	assert_int_equal(tf_writer_cut(w), 0); /* renamed into place, without the end block */

	r = reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_TRUNCATED);
	assert_int_equal(count, 20);
	assert_int_equal(tf_reader_blocks(r), 2);
	assert_non_null(strstr(tf_reader_error(r), "truncated"));
	tf_reader_close(r);
}

/* An aborted writer leaves the file it would have replaced as it was, and
 * no temporary file beside it; a closed one replaces it, mode 0600. */
static void test_abort_keeps_old_file(void **state)
{
	const char *path = tmp_path("keep.data");
	char err[256], buf[16] = "";
	struct tf_writer *w;
	struct stat st;
	FILE *f;

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old", f);
	fclose(f);
	chmod(path, 0644);
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	for (unsigned i = 0; i < 12; i++)
		add_rec(w, i);
	assert_int_equal(tf_writer_flush(w), 0);
	f = fopen(path, "r"); /* still the old file while writing */
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "old");
	tf_writer_abort(w);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "old");
	assert_int_equal(run("test -z \"$(ls -A '%s' | grep '^\\.keep.data.')\"", tmp_path("")), 0);

	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	add_rec(w, 1);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_not_equal(st.st_size, 3);
}

/* The reading tests again, blocks loaded ahead by the reader's thread. */
static void test_read_ahead_same_results(void **state)
{
	read_ahead = true;
	test_round_trip_many_blocks(state);
	test_reads_hand_built_file(state);
	test_reads_hand_built_version_2(state);
	test_reads_hand_built_version_3(state);
	test_event_round_trip(state);
	test_record_counts(state);
	test_truncated_at_every_length(state);
	test_flipped_byte_anywhere(state);
	test_flipped_payload_byte(state);
	test_hand_built_corruption(state);
	test_cut_leaves_truncated_file(state);
	read_ahead = false;
}

/* Closed after one record, while the thread may be loading ahead; and
 * refused once reading has begun. */
static void test_read_ahead_close_early(void **state)
{
	const char *path = tmp_path("early.data");
	char err[256];
	struct layout l;
	struct tf_reader *r;
	const void *rec;
	uint32_t len;

	(void)state;
	write_flushed(path, 200, 5, &l); /* 40 blocks: more than the thread loads ahead */
	for (int i = 0; i < 50; i++) {
		r = tf_reader_open(path, NULL, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(tf_reader_read_ahead(r), 0);
		assert_int_equal(tf_reader_read_ahead(r), -1);
		assert_int_equal(tf_reader_next(r, &rec, &len), TF_RECORD);
		assert_rec(0, rec, len);
		tf_reader_close(r);
	}
	r = tf_reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(tf_reader_next(r, &rec, &len), TF_RECORD);
	assert_int_equal(tf_reader_read_ahead(r), -1);
	tf_reader_close(r);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_many_blocks),
		cmocka_unit_test(test_round_trip_compress_behind),
		cmocka_unit_test(test_on_disk_layout),
		cmocka_unit_test(test_reads_hand_built_file),
		cmocka_unit_test(test_reads_hand_built_version_2),
		cmocka_unit_test(test_reads_hand_built_version_3),
		cmocka_unit_test(test_reads_recorded_versions_2_to_4),
		cmocka_unit_test(test_call_time_res_round_trip),
		cmocka_unit_test(test_event_round_trip),
		cmocka_unit_test(test_record_counts),
		cmocka_unit_test(test_file_mode_0600),
		cmocka_unit_test(test_replaces_existing_file),
		cmocka_unit_test(test_writer_open_errors),
		cmocka_unit_test(test_reader_open_errors),
		cmocka_unit_test(test_truncated_at_every_length),
		cmocka_unit_test(test_flipped_byte_anywhere),
		cmocka_unit_test(test_flipped_payload_byte),
		cmocka_unit_test(test_hand_built_corruption),
		cmocka_unit_test(test_dev_full_add_flush_close),
		cmocka_unit_test(test_dev_full_close),
		cmocka_unit_test(test_dev_full_compress_behind),
		cmocka_unit_test(test_cut_leaves_truncated_file),
		cmocka_unit_test(test_abort_keeps_old_file),
		cmocka_unit_test(test_read_ahead_same_results),
		cmocka_unit_test(test_read_ahead_close_early),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
