/* diff_prog.c - two builds for report --diff (92-diff.t): the same work,
 * and with -DEXTRA one more function that maps and unmaps a 256 KiB block
 * 50 times (glibc's malloc: 50 mmap + 50 munmap at that one site). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink; /* the blocks escape: gcc keeps every call */

__attribute__((noinline)) static void small_blocks(void)
{
	for (int i = 0; i < 200; i++) {
		char *p = malloc(64);

		p[0] = (char)i;
		sink = p;
		free(p);
	}
}

__attribute__((noinline)) static void big_blocks(void)
{
	for (int i = 0; i < 10; i++) {
		char *p = malloc(1 << 20);

		memset(p, i, 4096);
		sink = p;
		free(p);
	}
}

#ifdef EXTRA
__attribute__((noinline)) static void extra_maps(void)
{
	for (int i = 0; i < 50; i++) {
		char *p = malloc(256 << 10); /* L_EXTRA_MALLOC */

		p[0] = (char)i;
		sink = p;
		free(p); /* L_EXTRA_FREE */
	}
}
#endif

int main(void)
{
	/* a fixed threshold: glibc's moving one would put the 256 KiB blocks on the
	 * heap once a freed 1 MiB mapping had raised it */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	small_blocks();
	big_blocks();
#ifdef EXTRA
	extra_maps();
#endif
	return 0;
}
