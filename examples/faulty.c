/*
 * faulty [MiB] [rounds] - a page-fault-heavy workload (fault tracing cost).
 *
 * rounds times (default 4): p = malloc(MiB MiB) (default 64), write one
 * byte per 4 KiB page, free(p). Deterministic; nothing is printed.
 *
 * Seen with glibc 2.36 and the defaults: brk(NULL), brk(+0x21000) once, at
 * the first malloc (glibc's tcache struct goes on the heap); then each round:
 *   mmap(NULL, 67112960, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
 *        -1, 0)           64 MiB + one page for the 16-byte chunk header
 *   16384 user faults     one per page written (the header shares page 0)
 *   munmap(addr, 67112960)
 * so 4 x 16384 = 65536 first-touch faults. 64 MiB is above the dynamic
 * threshold's 32 MiB cap, so free never raises the threshold and every
 * round maps afresh. Transparent huge pages would cut the faults 512-fold;
 * here THP is "madvise" and glibc does not madvise (glibc.malloc.hugetlb
 * unset), so each fault is a 4 KiB page. Sizes <= 32 MiB behave otherwise:
 * round 1 is an mmap, its free raises the threshold past the size, and the
 * later rounds come from the brk heap (one brk grows it; the trim
 * threshold is then 2x the size, so free keeps the pages, and rounds 3..
 * fault nothing). faulty 8 4: mmap(NULL, 8392704) + munmap, one
 * brk(+0x800000), 2048 + 2048 faults in all.
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
	size_t n = mib << 20;

	for (long r = 0; r < rounds; r++) {
		volatile char *p = malloc(n);
		if (!p)
			return 1;
		for (size_t off = 0; off < n; off += 4096)
			p[off] = (char)r;
		free((void *)p);
	}
	return 0;
}
