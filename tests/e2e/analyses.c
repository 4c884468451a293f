/* analyses.c - a program whose heap analyses are known by construction
 * (tests/e2e/85-analyses.t). No stdio: nothing allocates but this code.
 *  leaks:     leak_small() 5 x malloc(1000), leak_large() 3 x calloc(1, 40000),
 *             never freed: 8 blocks, 125000 bytes, in two sites
 *  peak:      10 x malloc(200000) live together (each an mmap), then freed
 *             (the last one a temporary): the peak is 125000 + 2000000 bytes,
 *             the 10 blocks its largest contributor
 *  temporary: 1000 x malloc(24) freed at once
 *  sizes:     5 x malloc(1 MiB) freed at once: the first gets an mmap, its
 *             free moves glibc's mmap threshold above 1 MiB, the next four
 *             come from the heap */
#include <stdlib.h>
#include <string.h>

void *volatile sink;

__attribute__((noinline)) static void leak_small(void)
{
	for (int i = 0; i < 5; i++) {
		char *p = malloc(1000);

		p[0] = 1;
		sink = p;
	}
}

__attribute__((noinline)) static void leak_large(void)
{
	for (int i = 0; i < 3; i++) {
		char *p = calloc(1, 40000);

		p[0] = 1;
		sink = p;
	}
}

int main(void)
{
	char *peak[10];

	leak_small();
	leak_large();
	for (int i = 0; i < 10; i++) {
		peak[i] = malloc(200000);
		memset(peak[i], 1, 200000);
		sink = peak[i];
	}
	for (int i = 0; i < 10; i++)
		free(peak[i]);
	for (int i = 0; i < 1000; i++) {
		char *volatile p = malloc(24);

		p[0] = (char)i;
		sink = p;
		free(p);
	}
	for (int i = 0; i < 5; i++) {
		char *volatile p = malloc(1u << 20);

		p[0] = 1;
		sink = p;
		free(p);
	}
	sink = 0;
	return 0;
}
