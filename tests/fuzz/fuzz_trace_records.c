/* fuzz_trace_records.c - libFuzzer harness past the checksums: the input is
 * the raw (inflated) payload of data blocks, records in the event codec's
 * compact form (event_codec.h), split into blocks at each "FBLK" in it. The
 * harness builds a valid trace file around it (file header, each block
 * one zstd frame with its lengths and CRCs as tracefile.h lays them out; an end
 * block when the input's first byte is odd, its counts taken from the last
 * 16 bytes of the input), so every input reaches the decoder and the
 * correlator. Seeds: tests/fuzz/seeds.sh decompresses real recordings' blocks. */
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include "fuzz_util.h"
#include "fuzz_replay.h"

static uint8_t *out;
static size_t out_len, out_cap;

static void put(const void *p, size_t n)
{
	if (out_len + n > out_cap) {
		out_cap = (out_len + n) * 2;
		if (!(out = realloc(out, out_cap)))
			abort();
	}
	memcpy(out + out_len, p, n);
	out_len += n;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static void block(uint32_t kind, const uint8_t *raw, size_t raw_len)
{
	size_t comp_len = ZSTD_compressBound(raw_len);
	uint8_t *comp = malloc(comp_len), h[TF_BLOCK_HEADER_LEN];

	if (!comp)
		abort();
	comp_len = ZSTD_compress(comp, comp_len, raw, raw_len, 1);
	if (ZSTD_isError(comp_len))
		abort();
	put32(h, TF_BLOCK_MAGIC);
	put32(h + 4, kind);
	put32(h + 8, (uint32_t)raw_len);
	put32(h + 12, (uint32_t)comp_len);
	put32(h + 16, (uint32_t)crc32(0, comp, (uInt)comp_len));
	put32(h + 20, (uint32_t)crc32(0, h, 20));
	put(h, sizeof(h));
	put(comp, comp_len);
	free(comp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[TF_FILE_HEADER_LEN] = "FAULTLN";
	const uint8_t *p = data, *end = data + size;
	bool with_end = size && (data[0] & 1);

	out_len = 0;
	put32(h + 8, TF_FORMAT_VERSION);
	put32(h + 12, FL_EVENT_ABI);
	put32(h + 16, 0);
	put32(h + 20, (uint32_t)crc32(0, h, 20));
	put(h, sizeof(h));
	while (p < end) {
		const uint8_t *cut = memmem(p, end - p, "FBLK", 4);
		const uint8_t *stop = cut ? cut : end;

		block(TF_BLOCK_DATA, p, stop - p);
		p = cut ? cut + 4 : end;
	}
	if (with_end && size >= TF_END_PAYLOAD_LEN)
		block(TF_BLOCK_END, end - TF_END_PAYLOAD_LEN, TF_END_PAYLOAD_LEN);
	fuzz_replay(fuzz_file(out, out_len), size > 1 && (data[1] & 1));
	return 0;
}
