/* test_tracefile.c - unit tests for the trace file codec (user/tracefile.c):
 * round trips, on-disk layout, header checks, truncation at every length,
 * corruption at every byte, write errors (/dev/full) and abort.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tracefile.h"

static char tmpdir[] = "/tmp/faultline-tf-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* ---- deterministic test records: sizes 0..699, crossing block sizes ---- */

static uint32_t rec_len(unsigned i)
{
	return (i * 37u) % 700u;
}

static void rec_fill(unsigned i, unsigned char *buf)
{
	for (uint32_t j = 0; j < rec_len(i); j++)
		buf[j] = (unsigned char)(i * 7u + j * 13u);
}

static void assert_rec(unsigned i, const void *rec, uint32_t len)
{
	unsigned char want[700];

	assert_int_equal(len, rec_len(i));
	rec_fill(i, want);
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
	struct tf_writer *w = tf_writer_open(path, 7, err, sizeof(err));

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

/* Appends a block with the given header fields; raw_len_field overrides the
 * stored raw length when not UINT32_MAX. Returns bytes written at p. */
static size_t put_block(unsigned char *p, uint32_t kind, const void *raw, size_t raw_len,
			uint32_t raw_len_field)
{
	uLongf clen = compressBound(raw_len);

	assert_int_equal(compress2(p + 24, &clen, raw, raw_len, 1), Z_OK);
	le32(p, 0x4b4c4246);
	le32(p + 4, kind);
	le32(p + 8, raw_len_field != UINT32_MAX ? raw_len_field : (uint32_t)raw_len);
	le32(p + 12, (uint32_t)clen);
	le32(p + 16, (uint32_t)crc32(0, p + 24, (uInt)clen));
	le32(p + 20, (uint32_t)crc32(0, p, 20));
	return 24 + clen;
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
	r = tf_reader_open(path, &abi, err, sizeof(err));
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

	r = tf_reader_open(path, &abi, err, sizeof(err));
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

static void test_on_disk_layout(void **state)
{
	const char *path = tmp_path("layout.data");
	char err[256];
	unsigned char *buf, raw[64];
	size_t n;
	uLongf raw_len = sizeof(raw);
	struct tf_writer *w;

	(void)state;
	w = tf_writer_open(path, 0x01020304, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_add(w, "hello", 5), 0);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);

	buf = slurp(path, &n);
	assert_memory_equal(buf, "FAULTLN\0\1\0\0\0\4\3\2\1\0\0\0\0", 20);
	assert_int_equal(crc32(0, buf, 20), buf[20] | buf[21] << 8 | buf[22] << 16 | (uint32_t)buf[23] << 24);
	assert_memory_equal(buf + 24, "FBLK\1\0\0\0\x09\0\0\0", 12);
	uint32_t clen = buf[36] | buf[37] << 8 | buf[38] << 16 | (uint32_t)buf[39] << 24;
	assert_int_equal(uncompress(raw, &raw_len, buf + 48, clen), Z_OK);
	assert_int_equal(raw_len, 9);
	assert_memory_equal(raw, "\5\0\0\0hello", 9);
	assert_memory_equal(buf + 48 + clen, "FBLK\2\0\0\0\x10\0\0\0", 12);
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
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_records(w), 0);
	for (unsigned i = 0; i < 37; i++) {
		add_rec(w, i);
		assert_int_equal(tf_writer_records(w), i + 1);
	}
	assert_int_equal(tf_writer_flush(w), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, tf_writer_bytes_written(w));
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);

	r = tf_reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_END);
	assert_int_equal(count, 37);
	assert_int_equal(tf_reader_blocks(r), 2);
	tf_reader_close(r);

	/* No records at all: still a complete file. */
	w = tf_writer_open(path, 1, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
	r = tf_reader_open(path, NULL, err, sizeof(err));
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

static void test_truncates_existing_file(void **state)
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
	assert_int_equal((uint64_t)st.st_size, written);
	assert_int_equal(tf_writer_close(w, err, sizeof(err)), 0);
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

	put_header(h, 2, 9);
	spit(path, h, 24);
	expect_open_fails(path, "format version 2 is not supported (this faultline reads 1)");
}

static void test_truncated_at_every_length(void **state)
{
	const char *path = tmp_path("full.data"), *cut = tmp_path("cut.data");
	struct layout l;
	unsigned char *buf;
	size_t n;
	char err[256];

	(void)state;
	write_flushed(path, 40, 5, &l);
	buf = slurp(path, &n);
	assert_true(n > l.off[l.n - 1] + 24); /* end block after the data blocks */
	for (size_t s = n + 1; s-- > 0;) {
		struct tf_reader *r;
		unsigned count;
		enum tf_status st;

		spit(cut, buf, s);
		r = tf_reader_open(cut, NULL, err, sizeof(err));
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

static void test_flipped_byte_anywhere(void **state)
{
	const char *path = tmp_path("flip-src.data"), *bad = tmp_path("flip.data");
	struct layout l;
	unsigned char *buf;
	size_t n;
	char err[256], where[64];

	(void)state;
	write_flushed(path, 30, 6, &l);
	buf = slurp(path, &n);
	for (size_t p = 0; p < n; p++) {
		struct tf_reader *r;
		unsigned count;
		int k;

		buf[p] ^= 0x10;
		spit(bad, buf, n);
		buf[p] ^= 0x10;
		r = tf_reader_open(bad, NULL, err, sizeof(err));
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
	r = tf_reader_open(path, NULL, err, sizeof(err));
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

static void test_dev_full_add_flush_close(void **state)
{
	struct tf_writer *w = open_dev_full();
	char err[256] = "";
	int rc = 0, e = 0;

	(void)state;
	if (!w)
		skip();
	tf_writer_set_block_size(w, 100);
	for (unsigned i = 0; i < 100 && rc == 0; i++) {
		unsigned char buf[700];

		rec_fill(i, buf);
		rc = tf_writer_add(w, buf, rec_len(i));
		e = errno;
	}
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

static void test_abort_leaves_truncated_file(void **state)
{
	const char *path = tmp_path("abort.data");
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
	tf_writer_abort(w);

	r = tf_reader_open(path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(read_all(r, &count), TF_TRUNCATED);
	assert_int_equal(count, 12);
	assert_int_equal(tf_reader_blocks(r), 1);
	assert_non_null(strstr(tf_reader_error(r), "truncated"));
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
		cmocka_unit_test(test_on_disk_layout),
		cmocka_unit_test(test_reads_hand_built_file),
		cmocka_unit_test(test_record_counts),
		cmocka_unit_test(test_file_mode_0600),
		cmocka_unit_test(test_truncates_existing_file),
		cmocka_unit_test(test_writer_open_errors),
		cmocka_unit_test(test_reader_open_errors),
		cmocka_unit_test(test_truncated_at_every_length),
		cmocka_unit_test(test_flipped_byte_anywhere),
		cmocka_unit_test(test_flipped_payload_byte),
		cmocka_unit_test(test_hand_built_corruption),
		cmocka_unit_test(test_dev_full_add_flush_close),
		cmocka_unit_test(test_dev_full_close),
		cmocka_unit_test(test_abort_leaves_truncated_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
