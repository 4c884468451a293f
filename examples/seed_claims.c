/*
 * seed_claims [bare] - the program of /work/shared/seed/CLAIMS.md (claims 1-7).
 *
 * Steps, and what glibc 2.36 on x86-64 does for each (strace -e
 * trace=brk,mmap,munmap,mremap,mprotect,madvise; faults as counted by the
 * exceptions:page_fault_user / page_fault_kernel tracepoints). Nothing is
 * printed. Memory is touched one byte per 4 KiB page (no THP: glibc does not
 * madvise(MADV_HUGEPAGE) unless the glibc.malloc.hugetlb tunable is set).
 *
 *  1. p = malloc(1); *p = 1
 *     brk(NULL), then brk(start + 0x21000): 132 KiB of heap for 1 byte
 *     (claims 1, 2). glibc first puts its 0x290-byte tcache struct at the
 *     heap start, so p = heap start + 0x2a0 (claim 3).
 *     b = malloc(4096), kept to the end: the stdio buffer that the
 *     CLAIMS.md program got from printf to a pipe. It leaves the top chunk
 *     at 0x1fd40 bytes, less than 128 KiB; see "bare" below for why this
 *     matters. free(p): no syscall, the chunk goes to the tcache (claim 4).
 *  2. p = malloc(128 KiB); write each page; free(p)
 *     The top chunk is too small and the request is >= the 128 KiB
 *     threshold: mmap(NULL, 135168, PROT_READ|PROT_WRITE,
 *     MAP_PRIVATE|MAP_ANONYMOUS, -1, 0), p = map + 0x10 (claims 1, 3).
 *     32 of the map's 33 pages get a user fault: the first when malloc
 *     writes the chunk header, 31 from the writes (the 33rd page holds only
 *     the block's last 16 bytes and is never touched).
 *     free: munmap(map, 135168) at once (claim 5); glibc raises its mmap
 *     threshold to 135168 and its trim threshold to 270336 (claim 6).
 *  3. p = malloc(128 KiB); write each page; free(p)
 *     Now below the threshold: from the heap, which brk grows by 0x21000
 *     (claim 6). p = heap start + 0x12d0. 32 user faults (1 in malloc, 31
 *     writes). free: merges into top, below the trim threshold: no syscall.
 *  4. p = malloc(200 KiB); write each page; free(p)
 *     Fits in the ~259 KiB top: no syscall at all (claim 6); p is the same
 *     address as in step 3. 18 user faults (1 in malloc, 17 writes): the
 *     heap pages step 3 did not reach.
 *  5. q = malloc(1 MiB); read() 1 MiB of /dev/zero into it, untouched
 *     1 MiB > the raised threshold (135168): mmap(NULL, 1052672, ...),
 *     q = map + 0x10. Its first page gets a user fault (malloc writes the
 *     chunk header); read() is the first to touch the other 256 pages, in
 *     the kernel: 256 exceptions:page_fault_kernel, no page_fault_user
 *     (claim 7). (openat may add one kernel fault, for the page of the
 *     path string.) free: munmap(map, 1052672). openat/read/close of
 *     /dev/zero are outside the strace filter above.
 *
 * "bare": the same steps without the 4 KiB block b. Then the top chunk left
 * by step 1 (0x20d40 bytes) still holds 128 KiB + 16, and glibc serves a
 * request from top before it looks at the mmap threshold (sysmalloc only
 * runs when top is too small): steps 2 and 3 make no syscall and return
 * heap start + 0x2c0 (step 3 faults nothing: step 2 touched its pages);
 * step 4 (200 KiB) is the first mmap, (NULL, 208896), 50 user faults, then
 * munmap(208896) and threshold -> 208896; step 5 as above. So claim 1's
 * "128 KiB -> mmap" holds only when the heap top is short of the request.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096

static void touch(volatile char *p, size_t n)
{
	for (size_t i = 0; i < n; i += PAGE)
		p[i] = 1;
}

static int step(size_t n)
{
	volatile char *p = malloc(n);
	if (!p)
		return 1;
	touch(p, n);
	free((void *)p);
	return 0;
}

int main(int argc, char **argv)
{
	int bare = argc > 1 && strcmp(argv[1], "bare") == 0;
	volatile char *p, *b = NULL;

	p = malloc(1);                          /* step 1: brk */
	if (!p)
		return 1;
	*p = 1;
	if (!bare) {
		b = malloc(4096);               /* the "stdio buffer" */
		if (!b)
			return 1;
		*b = 1;
	}
	free((void *)p);

	if (step(128 * 1024) ||                 /* step 2: mmap + munmap */
	    step(128 * 1024) ||                 /* step 3: brk */
	    step(200 * 1024))                   /* step 4: no syscall */
		return 1;

	size_t n = 1024 * 1024, got = 0;        /* step 5: kernel faults */
	char *q = malloc(n);
	int fd = open("/dev/zero", O_RDONLY);
	if (!q || fd < 0)
		return 1;
	while (got < n) {
		ssize_t r = read(fd, q + got, n - got);
		if (r <= 0)
			return 1;
		got += (size_t)r;
	}
	close(fd);
	free(q);
	free((void *)b);
	return 0;
}
