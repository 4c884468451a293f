/*
 * churn [pairs] [live] - the refalloc speed check: malloc+free of mixed
 * small sizes (8 sizes from 16 to 1000 bytes, picked by a fixed LCG), with
 * `live` blocks (default 256, at most 4096) kept in a ring: each new block
 * replaces a random one of them, which is freed. Prints the nanoseconds per
 * malloc+free pair (CLOCK_MONOTONIC).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RING_MAX 4096

int main(int argc, char **argv)
{
	static const size_t sizes[8] = { 16, 24, 40, 64, 100, 200, 512, 1000 };
	long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
	long ring_n = argc > 2 ? strtol(argv[2], NULL, 10) : 256;
	static char *ring[RING_MAX];
	struct timespec a, b;

	if (ring_n < 1 || ring_n > RING_MAX)
		return 2;
	unsigned x = 12345;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < pairs; i++) {
		x = x * 1103515245u + 12345u;
		char *p = malloc(sizes[(x >> 16) & 7]);
		if (!p)
			return 1;
		p[0] = (char)i;
		unsigned slot = (x >> 8) % (unsigned)ring_n;
		free(ring[slot]);
		ring[slot] = p;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (long i = 0; i < ring_n; i++)
		free(ring[i]);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / pairs);
	return 0;
}
