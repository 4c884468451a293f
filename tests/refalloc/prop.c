/*
 * prop [threads] [ops] [seed] [fork] - randomized property test of the
 * malloc family, meant to run under LD_PRELOAD=build/librefalloc.so (it
 * also runs on plain glibc, minus the refalloc-specific checks).
 *
 * Each thread keeps 256 slots and does `ops` random operations with its
 * own xorshift generator (seed + thread number): malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * free, and hand-overs of blocks to other threads (freed or realloc'ed
 * there). Every block is filled with a pattern derived from a tag; the
 * pattern is checked before every free and realloc (realloc must keep the
 * old prefix). Checked at each allocation: non-NULL, alignment,
 * malloc_usable_size >= size, calloc memory zero, and under refalloc the
 * exact usable size the model predicts (16-byte header, 16-byte granules,
 * 32-byte minimum; page-rounded mappings at or above the mmap threshold).
 * refalloc_check() (heap invariants) runs every 512 operations.
 * "fork": the main thread forks 40 times while the workers run; each child
 * allocates, frees, checks and exits; a deadlocked child fails the test.
 * Exit 0 and "ok" on stdout when all is well; a message and exit 1 if not.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/refalloc/refalloc.h"

/* Present only when refalloc is preloaded (weak, resolved at load time). */
extern void refalloc_stats(struct refalloc_stats *st) __attribute__((weak));
extern int refalloc_check(void) __attribute__((weak));

#define NSLOTS 256
#define XCHG   64
#define MAXTHREADS 16

enum kind { K_MALLOC, K_CALLOC, K_REALLOC, K_REALLOCARRAY, K_POSIX_MEMALIGN,
	    K_ALIGNED_ALLOC, K_MEMALIGN, K_VALLOC, K_PVALLOC, K_NKINDS };

struct block {
	unsigned char *p;
	size_t size;
	unsigned char tag;
};

static size_t page, threshold;
static long ops_per_thread = 100000;
static unsigned long seed0 = 1;

static pthread_mutex_t xchg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block xchg[XCHG];

static void fail(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "prop: FAIL: %s (%zu, %zu)\n", what, a, b);
	fflush(stderr);
	_exit(1);
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static unsigned char pat(unsigned char tag, size_t i)
{
	return (unsigned char)(tag + i * 7 + (i >> 8));
}

/* The bytes a block's pattern covers: all of a small block; the first and
 * last 128 and every 251st byte of a big one (enough to see two blocks
 * overlap, and fast enough for a run of a few seconds). */
static size_t next_pos(size_t i, size_t size)
{
	i++;
	if (i < 128 || i + 128 >= size)
		return i;
	size_t j = (i + 250) / 251 * 251;
	return j + 128 < size ? j : size - 128;
}

static void fill(struct block *b)
{
	for (size_t i = 0; i < b->size; i = next_pos(i, b->size))
		b->p[i] = pat(b->tag, i);
}

static void verify(const struct block *b, size_t upto)
{
	for (size_t i = 0; i < upto && i < b->size; i = next_pos(i, b->size))
		if (b->p[i] != pat(b->tag, i))
			fail("block contents changed", b->size, i);
}

static size_t rand_size(uint64_t *s)
{
	unsigned r = next_rand(s) % 1000;
	if (r < 600)
		return next_rand(s) % 257;
	if (r < 850)
		return 257 + next_rand(s) % 3840;
	if (r < 960)
		return 4096 + next_rand(s) % (60 * 1024);
	if (r < 995)
		return 64 * 1024 + next_rand(s) % (136 * 1024);       /* around 128 KiB */
	return 200 * 1024 + next_rand(s) % (800 * 1024);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }
static size_t page_up(size_t n) { return (n + page - 1) & ~(page - 1); }

/* The usable size refalloc's model gives a plain (malloc/calloc/realloc)
 * block of `size` bytes. */
static size_t model_usable(size_t size)
{
	if (size >= threshold)
		return page_up(size + 16) - 16;
	size_t n = align16(size + 16);
	return (n < 32 ? 32 : n) - 16;
}

/* Checks common to every fresh or resized block. */
/* exact: 1 plain block, model size; 2 realloc'ed; 0 aligned; -1 pvalloc */
static void check_new(struct block *b, size_t align, int exact)
{
	if (!b->p)
		fail("allocation returned NULL", b->size, align);
	if ((uintptr_t)b->p % (align < 16 ? 16 : align))
		fail("misaligned block", (uintptr_t)b->p, align);
	size_t u = malloc_usable_size(b->p);
	if (u < b->size)
		fail("usable size below the request", u, b->size);
	/* a heap block can be 16 bytes bigger: a free block 16 bytes too big
	 * is not split, as the rest could not hold a block */
	size_t m = model_usable(b->size), slack = b->size >= threshold ? 0 : 16;
	/* realloc (exact == 2) of a mapping with an over-aligned start keeps
	 * that start's offset (up to 64 KiB here) in the new mapping */
	if (exact == 2 && b->size >= threshold)
		slack = 64 * 1024, m = b->size;
	if (refalloc_stats && exact > 0 && (u < m || u > m + slack))
		fail("usable size differs from the model", u, m);
	if (refalloc_stats && exact == 0 && b->size < threshold && u > align16(b->size + 16) + 32)
		fail("aligned heap block much bigger than asked", u, b->size);
}

static void release(struct block *b)
{
	verify(b, b->size);
	free(b->p);
	b->p = NULL;
}

static void do_alloc(struct block *b, uint64_t *s)
{
	size_t size = rand_size(s), align = 16;
	int exact = 1;
	enum kind k = (enum kind)(next_rand(s) % K_NKINDS);
	b->tag = (unsigned char)next_rand(s);
	b->size = size;
	switch (k) {
	case K_MALLOC:
		b->p = malloc(size);
		break;
	case K_CALLOC: {
		size_t n = 1 + next_rand(s) % 8, m = size / n + 1;
		b->size = n * m;
		b->p = calloc(n, m);
		if (!b->p)
			fail("calloc returned NULL", n, m);
		for (size_t i = 0; i < b->size; i = next_pos(i, b->size))
			if (b->p[i])
				fail("calloc memory not zero", b->size, i);
		break;
	}
	case K_REALLOC:
		b->p = realloc(NULL, size);
		break;
	case K_REALLOCARRAY: {
		size_t n = 1 + next_rand(s) % 4, m = size / n + 1;
		b->size = n * m;
		b->p = reallocarray(NULL, n, m);
		break;
	}
	case K_POSIX_MEMALIGN: {
		void *p = NULL;
		align = sizeof(void *) << (next_rand(s) % 11);        /* 8 .. 8 KiB */
		int r = posix_memalign(&p, align, size);
		if (r)
			fail("posix_memalign failed", align, size);
		b->p = p;
		exact = align <= 16;
		break;
	}
	case K_ALIGNED_ALLOC:
		align = (size_t)1 << (next_rand(s) % 17);              /* 1 .. 64 KiB */
		b->p = aligned_alloc(align, size);
		exact = align <= 16;
		break;
	case K_MEMALIGN:
		align = (size_t)1 << (next_rand(s) % 14);
		b->p = memalign(align, size);
		exact = align <= 16;
		break;
	case K_VALLOC:
		align = page;
		b->p = valloc(size);
		exact = 0;
		break;
	case K_PVALLOC:
		align = page;
		b->p = pvalloc(size);
		b->size = page_up(size);
		exact = -1;     /* pvalloc(0): refalloc gives a page, glibc less */
		break;
	default:
		fail("bad kind", k, 0);
	}
	check_new(b, align, exact);
	fill(b);
}

static void do_realloc(struct block *b, uint64_t *s)
{
	size_t old = b->size, size = rand_size(s);
	if (next_rand(s) % 4 == 0)      /* small steps, as growing strings do */
		size = old + next_rand(s) % 64 - (old >= 32 ? 32 : 0);
	verify(b, old);
	if (next_rand(s) % 2) {
		b->p = realloc(b->p, size);
	} else {
		size = size / 2 * 2;
		b->p = reallocarray(b->p, size / 2, 2);
	}
	if (size == 0) {        /* glibc and refalloc: realloc(p, 0) frees p */
		if (b->p)
			fail("realloc(p, 0) did not return NULL", 0, 0);
		return;
	}
	struct block before = *b;       /* the old block's pattern, new address */
	before.size = old;
	verify(&before, old < size ? old : size);
	b->size = size;
	check_new(b, 16, 2);
	fill(b);
}

static void maybe_check(long i)
{
	if (refalloc_check && i % 512 == 0 && refalloc_check() != 0)
		fail("refalloc_check found a broken heap", (size_t)i, 0);
}

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t s = seed0 * 0x9e3779b97f4a7c15ULL + id + 1;
	struct block *slots = calloc(NSLOTS, sizeof(*slots));
	if (!slots)
		fail("calloc of slots", id, 0);
	for (int i = 0; i < 8; i++)
		next_rand(&s);
	for (long i = 0; i < ops_per_thread; i++) {
		struct block *b = &slots[next_rand(&s) % NSLOTS];
		unsigned r = next_rand(&s) % 100;
		if (!b->p) {
			do_alloc(b, &s);
		} else if (r < 45) {
			release(b);
		} else if (r < 85) {
			do_realloc(b, &s);
		} else {
			/* swap with the exchange: another thread frees or resizes it */
			pthread_mutex_lock(&xchg_lock);
			struct block *x = &xchg[next_rand(&s) % XCHG];
			struct block t = *x;
			*x = *b;
			*b = t;
			pthread_mutex_unlock(&xchg_lock);
		}
		maybe_check(i);
	}
	for (int i = 0; i < NSLOTS; i++)
		if (slots[i].p)
			release(&slots[i]);
	free(slots);
	return NULL;
}

/* One-off checks of the edge cases. */
static void edge_cases(void)
{
	void *p;
	volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2; /* hidden from gcc */
	errno = 0;
	if (malloc(huge) || errno != ENOMEM)
		fail("malloc(SIZE_MAX)", errno, 0);
	errno = 0;
	if (calloc(half, 3) || errno != ENOMEM)
		fail("calloc overflow", errno, 0);
	errno = 0;
	if (reallocarray(NULL, half, 3) || errno != ENOMEM)
		fail("reallocarray overflow", errno, 0);
	if (posix_memalign(&p, 3, 8) != EINVAL || posix_memalign(&p, 4, 8) != EINVAL)
		fail("posix_memalign bad alignment", 0, 0);
	if (posix_memalign(&p, 64, huge - 4096) != ENOMEM)
		fail("posix_memalign huge", 0, 0);
	void *a = malloc(0), *b = malloc(0);
	if (!a || !b || a == b)
		fail("malloc(0) must give distinct pointers", (size_t)a, (size_t)b);
	free(a);
	free(b);
	free(NULL);
	if (malloc_usable_size(NULL) != 0)
		fail("malloc_usable_size(NULL)", 0, 0);
	p = malloc(100);
	if (realloc(p, 0) != NULL)
		fail("realloc(p, 0)", 0, 0);
	p = memalign(24, 10);   /* rounded up to 32 */
	if (!p || (uintptr_t)p % 32)
		fail("memalign(24)", (uintptr_t)p, 0);
	free(p);
	p = pvalloc(0);
	if (!p || (uintptr_t)p % page || (refalloc_stats && malloc_usable_size(p) < page))
		fail("pvalloc(0)", (uintptr_t)p % page, malloc_usable_size(p));
	free(p);
	errno = 1234;
	free(malloc(300 * 1024));
	free(malloc(30));
	if (errno != 1234)
		fail("free changed errno", errno, 0);
}

static volatile sig_atomic_t stop_forking;

static void fork_test(void)
{
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		if (pid < 0)
			fail("fork", errno, 0);
		if (pid == 0) {
			alarm(10);
			void *v[64];
			for (int j = 0; j < 64; j++)
				if (!(v[j] = malloc((size_t)(j * 97 % 5000 + (j == 7) * 300000))))
					_exit(3);
			for (int j = 0; j < 64; j++)
				free(v[j]);
			_exit(refalloc_check && refalloc_check() != 0 ? 4 : 0);
		}
		int st;
		time_t t0 = time(NULL);
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (time(NULL) - t0 > 10) {
				kill(pid, SIGKILL);
				fail("child after fork hangs (allocator lock held?)", i, 0);
			}
			usleep(1000);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail("child after fork failed", i, (size_t)st);
		usleep(2000);
	}
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		ops_per_thread = atol(argv[2]);
	if (argc > 3)
		seed0 = strtoul(argv[3], NULL, 10);
	int forking = argc > 4 && strcmp(argv[4], "fork") == 0;
	if (nthreads < 1 || nthreads > MAXTHREADS)
		return 2;
	page = (size_t)sysconf(_SC_PAGESIZE);
	threshold = SIZE_MAX;
	struct refalloc_stats st0 = { 0 }, st1;
	if (refalloc_stats) {
		refalloc_stats(&st0);
		threshold = st0.mmap_threshold;
	}
	edge_cases();
	if (refalloc_stats)
		refalloc_stats(&st0);

	pthread_t th[MAXTHREADS];
	if (nthreads == 1 && !forking) {
		worker(0);      /* no thread: the heap must end as it started */
	} else {
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i))
				fail("pthread_create", i, 0);
		if (forking)
			fork_test();
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
	}
	for (int i = 0; i < XCHG; i++)
		if (xchg[i].p)
			release(&xchg[i]);
	if (refalloc_check && refalloc_check() != 0)
		fail("refalloc_check at the end", 0, 0);
	if (refalloc_stats) {
		refalloc_stats(&st1);
		if (nthreads == 1 && !forking && st1.mmap_blocks != st0.mmap_blocks)
			fail("mmap'd blocks left behind", st1.mmap_blocks, st0.mmap_blocks);
		if (nthreads == 1 && !forking && st1.live_blocks != st0.live_blocks)
			fail("heap blocks left behind", st1.live_blocks, st0.live_blocks);
	}
	printf("ok\n");
	return 0;
}
