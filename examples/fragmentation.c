/*
 * fragmentation - claim 8: free bytes in the brk heap that a request cannot use.
 *
 * The article's example (10k, 20k, 30k; free the 10k and 20k; a later
 * request up to 30k reuses the hole, a larger one makes the heap grow), done
 * twice. Everything is below the 128 KiB mmap threshold, so it all comes from
 * the brk heap; every block is memset so its pages are real. Nothing printed.
 *  1. 2 rounds of malloc 10 KiB, 20 KiB, 30 KiB: 6 blocks, 120 KiB live,
 *     all inside the first 132 KiB of heap (one brk, at the first malloc).
 *  2. free the 10 and 20 KiB blocks, keep the 30 KiB ones. Each 10 KiB block
 *     merges with the 20 KiB block after it: two free holes of 30 KiB
 *     (+ 32 bytes of headers), each walled in by a live 30 KiB block (the
 *     last one keeps the holes away from the top chunk, so nothing can be
 *     trimmed). 60 KiB live; no syscall, heap size unchanged.
 *  3. malloc 20 KiB: fits in a hole (the second one: it returns the address
 *     of round 2's 10 KiB block, heap start + 0xf2d0); the other 10 KiB of
 *     that hole stay free. No syscall, no new page.
 *  4. malloc 40 KiB: 40 KiB are free in holes (30 + 10) and ~11 KiB in the
 *     top chunk, but no single piece holds 40 KiB, so the heap grows with a
 *     brk although the bytes are free (2 rounds are chosen so that the top
 *     is too small here).
 *  5. free everything. free(40 KiB) merges it into a top now over the
 *     128 KiB trim threshold: a brk trims the heap down to top = 128 KiB
 *     pad. The last free (a 30 KiB block) joins the holes, the other blocks
 *     and the top: a brk shrinks the heap back to 132 KiB.
 *
 * Expected with glibc 2.36 (strace -e trace=brk,mmap,munmap,mremap,
 * mprotect,madvise, after the loader's lines):
 *   brk(NULL) = S, brk(S+0x21000)   first malloc (step 1)
 *   brk(S+0x49000)                  malloc(40 KiB) (step 4)
 *   brk(S+0x3f000)                  free(40 KiB block) (step 5)
 *   brk(S+0x21000)                  last free (step 5)
 * Heap size / live bytes: 132 / 120 KiB after step 1, 132 / 60 after step 2,
 * 132 / 80 after step 3, 292 / 120 after step 4.
 */
#include <stdlib.h>
#include <string.h>

#define KIB 1024
#define ROUNDS 2

/* Every block passes through here: the compiler cannot drop a malloc/free
 * pair whose memory nothing reads (clang -O1 does, without it). */
static void *volatile sink;

static void *get(size_t n, int c)
{
	void *p = malloc(n);
	if (!p)
		exit(1);
	memset(p, c, n);
	sink = p;
	return sink;
}

int main(void)
{
	static const size_t sizes[3] = { 10 * KIB, 20 * KIB, 30 * KIB };
	void *blk[ROUNDS][3];

	for (int r = 0; r < ROUNDS; r++)                /* step 1 */
		for (int s = 0; s < 3; s++)
			blk[r][s] = get(sizes[s], 'a' + s);
	for (int r = 0; r < ROUNDS; r++) {              /* step 2 */
		free(blk[r][0]);
		free(blk[r][1]);
	}
	void *reuse = get(20 * KIB, 'r');               /* step 3 */
	void *big = get(40 * KIB, 'x');                 /* step 4 */
	free(big);                                      /* step 5 */
	free(reuse);
	for (int r = 0; r < ROUNDS; r++)
		free(blk[r][2]);
	return 0;
}
