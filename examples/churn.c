/*
 * churn [pairs] [hold] - a malloc/free benchmark workload (overhead of
 * tracing per allocator call).
 *
 * pairs (default 2000000) iterations of: malloc(size), write one byte per
 * 4 KiB page of the block, free. Sizes cycle through 16, 32, 64, 128, 256,
 * 1024, 4096, 16384 bytes; every 1000th iteration (i % 1000 == 999) is
 * 200 KiB instead. Deterministic; nothing is printed.
 * "hold": the blocks go into a ring of 64 live blocks, and each new block
 * frees the oldest (the ring is emptied at the end), so 64 blocks are live.
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
#include <stdlib.h>
#include <string.h>

#define RING 64

static const size_t sizes[8] = { 16, 32, 64, 128, 256, 1024, 4096, 16384 };

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	int hold = argc > 2 && strcmp(argv[2], "hold") == 0;
	volatile char *ring[RING] = { 0 };

	for (long i = 0; i < pairs; i++) {
		size_t n = i % 1000 == 999 ? 200 * 1024 : sizes[i % 8];
		volatile char *p = malloc(n);
		if (!p)
			return 1;
		for (size_t off = 0; off < n; off += 4096)
			p[off] = (char)i;
		if (hold) {
			free((void *)ring[i % RING]);
			ring[i % RING] = p;
		} else {
			free((void *)p);
		}
	}
	for (int i = 0; i < RING; i++)
		free((void *)ring[i]);
	return 0;
}
