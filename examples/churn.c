/*
 * churn [pairs] [hold] [random] - a malloc/free benchmark workload
 * (overhead of tracing per allocator call; trace file bytes per call).
 *
 * pairs (default 2000000) iterations of: malloc(size), write one byte per
 * 4 KiB page of the block, free. Sizes cycle through 16, 32, 64, 128, 256,
 * 1024, 4096, 16384 bytes; every 1000th iteration (i % 1000 == 999) is
 * 200 KiB instead. Deterministic; nothing is printed.
 * "hold": the blocks go into a ring of 64 live blocks, and each new block
 * frees the oldest (the ring is emptied at the end), so 64 blocks are live.
 * "random": sizes are drawn from 1..4096 bytes (a fixed-seed xorshift, the
 * same sequence every run) in place of the cycle and the 200 KiB blocks,
 * and with "hold" the block freed is a random one of the ring's: sizes and
 * addresses that no regular pattern predicts, for the trace file's size.
 *
 * Seen with glibc 2.36 (strace -e trace=brk,mmap,munmap,mremap,mprotect,
 * madvise, after the loader's lines):
 *   free mode: brk(NULL), brk(+0x21000) (first malloc); mmap(NULL, 208896)
 *     for the first 200 KiB block and munmap(.., 208896) at its free: the
 *     threshold rises to 208896, so every later 200 KiB block comes from the
 *     heap, which one brk(+0x32000) grows; then nothing more: 5 syscalls
 *     for 4 million calls, ~100 user faults beyond the loader's ~50.
 *   hold mode: brk(NULL), brk(+0x21000), brk(+0x21000) as 64 live blocks
 *     outgrow the first 132 KiB; the same mmap/munmap pair (the munmap 64
 *     iterations later) and one brk(+0x41000); ~150 user faults.
 * 2 million pairs take ~65 ms untraced (x86-64, -O1): the cost is all in
 * malloc/free (tcache for <= 1032 bytes, bins and top for larger blocks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING 64

static const size_t sizes[8] = { 16, 32, 64, 128, 256, 1024, 4096, 16384 };

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	int hold = 0, random = 0;
	volatile char *ring[RING] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int a = 2; a < argc; a++) {
		hold |= strcmp(argv[a], "hold") == 0;
		random |= strcmp(argv[a], "random") == 0;
	}
	for (long i = 0; i < pairs; i++) {
		size_t n = i % 1000 == 999 ? 200 * 1024 : sizes[i % 8];
		unsigned slot = (unsigned)(i % RING);
		if (random) {
			n = 1 + (size_t)(xorshift(&x) % 4096);
			slot = (unsigned)(xorshift(&x) % RING);
		}
		volatile char *p = malloc(n);
		if (!p)
			return 1;
		for (size_t off = 0; off < n; off += 4096)
			p[off] = (char)i;
		if (hold) {
			free((void *)ring[slot]);
			ring[slot] = p;
		} else {
			free((void *)p);
		}
	}
	for (int i = 0; i < RING; i++)
		free((void *)ring[i]);
	return 0;
}
