/*
 * nested_realloc - every glibc allocator entry point, once or more.
 *
 *  1. p = malloc(16), then p = realloc(p, 2 * size) up to 4 MiB (18
 *     reallocs), writing the new tail each time (memset), then free(p).
 *  2. calloc(1000, 100), posix_memalign(&p, 64, 1000), aligned_alloc(4096,
 *     8192), memalign(256, 512), valloc(10000), pvalloc(10000),
 *     reallocarray(NULL, 10, 100): each written once and freed.
 * Nothing is printed.
 *
 * Seen with glibc 2.36 (strace -e trace=brk,mmap,munmap,mremap,mprotect,
 * madvise, after the loader's lines; addresses from uprobes):
 *  - malloc(16): brk(NULL), brk(+0x21000); p = heap start + 0x2a0.
 *  - realloc to 32 B .. 128 KiB: the block sits next to the top chunk, so
 *    every realloc grows it in place (same pointer), no syscall: the first
 *    132 KiB of heap hold 128 KiB + 16.
 *  - realloc to 256 KiB: the top is too small and 256 KiB is over the
 *    128 KiB mmap threshold: mmap(NULL, 266240, PROT_READ|PROT_WRITE,
 *    MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) (256 KiB + a page), copy, and the
 *    old heap block goes back into the top chunk (no trim: the top is
 *    under 128 KiB pad + a page).
 *  - realloc of the mmap'd block to 512 KiB, 1, 2, 4 MiB: mremap(old,
 *    old size, new size, MREMAP_MAYMOVE), 4 calls (266240 -> 528384 ->
 *    1052672 -> 2101248 -> 4198400); the block moves each time, no copy.
 *  - free: munmap(addr, 4198400); the mmap threshold rises to 4198400.
 *  - calloc(1000, 100), posix_memalign(64, 1000), aligned_alloc(4096,
 *    8192), memalign(256, 512), valloc(10000), pvalloc(10000) (12288),
 *    reallocarray(NULL, 10, 100) (= malloc(1000)): all from the heap's
 *    existing 132 KiB, no syscall (the aligned ones over-allocate and
 *    split; the page-aligned ones land at heap start + 0x1000).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void use(void *p, size_t n)
{
	if (!p)
		exit(1);
	memset(p, 0x5a, n);
	free(p);
}

int main(void)
{
	size_t size = 16;
	char *p = malloc(size);

	if (!p)
		return 1;
	memset(p, 1, size);
	while (size < 4u << 20) {                       /* step 1 */
		char *q = realloc(p, 2 * size);
		if (!q)
			return 1;
		p = q;
		memset(p + size, 2, size);             /* the new tail */
		size *= 2;
	}
	free(p);

	void *a = NULL;                                 /* step 2 */
	use(calloc(1000, 100), 1000 * 100);
	if (posix_memalign(&a, 64, 1000) != 0)
		return 1;
	use(a, 1000);
	use(aligned_alloc(4096, 8192), 8192);
	use(memalign(256, 512), 512);
	use(valloc(10000), 10000);
	use(pvalloc(10000), 10000);
	use(reallocarray(NULL, 10, 100), 1000);
	return 0;
}
