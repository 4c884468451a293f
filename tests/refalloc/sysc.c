/*
 * sysc MODE [N] - workloads whose memory syscalls refalloc fixes exactly.
 * The first thing main does is write(-1, "sysc: main", 10) (fails with
 * EBADF): a marker in strace output, so the loader's syscalls can be cut
 * off. No stdio (its buffer would be a malloc); output uses write().
 *
 *   none       nothing
 *   mmap N     N times: malloc(200 KiB), write one byte per page, free:
 *              N mmap + N munmap, no brk
 *   malloc1    malloc(1) on a fresh heap: brk(NULL) + one brk of one step
 *   frag       the article's 10/20/30 KiB example (as examples/
 *              fragmentation.c): 2 rounds of 10, 20, 30 KiB; free the 10
 *              and 20 KiB ones; malloc 20 KiB (reuses a hole); malloc
 *              40 KiB (the heap grows although 40 KiB are free); prints
 *              refalloc_dump_stats() after that; then frees everything.
 *   frag-hold  the same, but exits without the final frees (so that
 *              REFALLOC_STATS=1 shows the fragmented heap at exit)
 *   probes     one call of each function of the malloc family, with sizes
 *              a USDT test can pick out (12345, 54321, ...)
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void refalloc_dump_stats(int fd) __attribute__((weak));

#define KIB 1024

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		exit(3);
}

static void *get(size_t n, int c)
{
	void *p = malloc(n);
	if (!p)
		exit(1);
	memset(p, c, n);
	return p;
}

static int frag(int hold)
{
	static const size_t sizes[3] = { 10 * KIB, 20 * KIB, 30 * KIB };
	void *blk[2][3];

	for (int r = 0; r < 2; r++)
		for (int s = 0; s < 3; s++)
			blk[r][s] = get(sizes[s], 'a' + s);
	for (int r = 0; r < 2; r++) {
		free(blk[r][0]);
		free(blk[r][1]);
	}
	void *reuse = get(20 * KIB, 'r');
	say(reuse == blk[1][0] ? "reuse: round 2 hole\n" :
	    reuse == blk[0][0] ? "reuse: round 1 hole\n" : "reuse: elsewhere\n");
	void *big = get(40 * KIB, 'x');
	if (refalloc_dump_stats)
		refalloc_dump_stats(1);
	if (hold)
		return 0;
	free(big);
	free(reuse);
	for (int r = 0; r < 2; r++)
		free(blk[r][2]);
	return 0;
}

int main(int argc, char **argv)
{
	if (write(-1, "sysc: main", 10) != -1)
		return 4;
	if (argc < 2)
		return 2;
	const char *mode = argv[1];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1;

	if (strcmp(mode, "none") == 0)
		return 0;
	if (strcmp(mode, "mmap") == 0) {
		for (long i = 0; i < n; i++) {
			volatile char *p = malloc(200 * KIB);
			if (!p)
				return 1;
			for (size_t off = 0; off < 200 * KIB; off += 4096)
				p[off] = (char)i;
			free((void *)p);
		}
		return 0;
	}
	if (strcmp(mode, "malloc1") == 0) {
		volatile char *p = malloc(1);
		if (!p)
			return 1;
		*p = 1;
		return 0;
	}
	if (strcmp(mode, "probes") == 0) {
		/* through a volatile, so gcc cannot drop malloc/free pairs */
		static void *volatile v;
		void *p = malloc(12345), *q = calloc(3, 4115), *r = NULL;
		q = realloc(q, 54321);
		q = reallocarray(q, 3, 60000);      /* crosses the mmap threshold */
		if (posix_memalign(&r, 256, 777))
			return 1;
		v = aligned_alloc(64, 888);
		free(v);
		v = memalign(128, 999);
		free(v);
		v = valloc(1111);
		free(v);
		v = pvalloc(2222);
		free(v);
		if (malloc_usable_size(p) != 12352)
			return 1;
		v = malloc(300000);
		free(v);
		free(r);
		free(q);
		free(p);
		return 0;
	}
	if (strcmp(mode, "frag") == 0)
		return frag(0);
	if (strcmp(mode, "frag-hold") == 0)
		return frag(1);
	return 2;
}
