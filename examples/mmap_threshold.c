/*
 * mmap_threshold [default|zero] [N] - claim 9: why malloc does not mmap
 * everything.
 *
 * N times (default 1000): p = malloc(4096); p[0] = 1; free(p).
 *
 * default: the 4 KiB blocks come from the brk heap. The first malloc costs
 *   brk(NULL) + brk(+0x21000) and faults in the heap's first pages; each
 *   free merges the block back into the top chunk (4 KiB is above the
 *   tcache's 1032-byte limit), so every later malloc returns the same
 *   address: no more syscalls, no more faults, whatever N is.
 * zero: mallopt(M_MMAP_THRESHOLD, 0) first (this also turns off the dynamic
 *   threshold). Every malloc becomes a private anonymous mmap, and the heap
 *   is never used (no brk): glibc's own 0x290-byte tcache struct at the
 *   first call is mmap(NULL, 4096, ...), never freed; each malloc(4096) is
 *   mmap(NULL, 8192, ...) (4096 + 16-byte header, page rounded) and a
 *   first-touch user fault on its first page when malloc writes the header
 *   (the p[0] write lands on the same page); each free is
 *   munmap(addr, 8192). The new map lands at the address just unmapped.
 *
 * Measured (N = 1000), besides the loader's 8 mmap, 1 munmap, 1 brk:
 *   default: brk 2, mmap 0, munmap 0; page_fault_user the same as N = 1.
 *   zero:    brk 0, mmap 1001, munmap 1000; ~1000 more page_fault_user
 *            than N = 1 (perf stat -e exceptions:page_fault_user: 1049 vs
 *            51). Nothing is printed.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long n = 1000;

	if (argc > 1 && strcmp(argv[1], "zero") == 0) {
		if (mallopt(M_MMAP_THRESHOLD, 0) != 1)
			return 1;
	} else if (argc > 1 && strcmp(argv[1], "default") != 0) {
		return 2;
	}
	if (argc > 2)
		n = strtol(argv[2], NULL, 10);
	for (long i = 0; i < n; i++) {
		volatile char *p = malloc(4096);
		if (!p)
			return 1;
		p[0] = 1;
		free((void *)p);
	}
	return 0;
}
