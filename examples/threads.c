/*
 * threads - malloc/free from 4 threads: glibc's per-thread arenas.
 *
 * 4 threads (pthread_create; glibc >= 2.34 has pthread in libc, so no
 * -pthread is needed) each do 20000 malloc/free pairs of 16..4096 bytes
 * from a per-thread LCG (deterministic), writing the first byte; every
 * 4th block is kept in a 64-slot array, replacing (freeing) the block that
 * was there; the rest are freed at once. Then each thread allocates 256
 * blocks of 4 KiB (1 MiB + headers), writes one byte in each, frees them
 * newest first and frees its 64 slots. Main joins all and exits 0. Nothing
 * is printed.
 *
 * Seen with glibc 2.36 (strace -f -e trace=brk,mmap,munmap,mremap,
 * mprotect,madvise; the thread interleaving varies, the totals did not:
 * 16 mmap, 5 munmap, 3 brk, 1156 mprotect, 921 madvise, loader included):
 *  - main, per pthread_create, the thread stack:
 *    mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK)
 *    and mprotect(stack + 4096, 8388608, PROT_READ|PROT_WRITE) (the low
 *    page stays the guard); after the first, brk(NULL) + brk(+0x21000):
 *    the main arena, for glibc's own malloc in pthread_create.
 *  - each thread's first malloc creates an arena (4 here; a thread that
 *    found a free arena would reuse it): mmap(NULL, 134217728, PROT_NONE,
 *    MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE) (128 MiB), munmap of the
 *    parts outside a 64 MiB-aligned 64 MiB window (later arenas may get
 *    mmap(aligned hint, 67108864, ...) directly), then mprotect(heap,
 *    135168, PROT_READ|PROT_WRITE).
 *  - the arena heap grows by mprotect(heap + old size, 4096 or more, RW)
 *    only as far as needed (no 128 KiB top pad as with brk): hundreds of
 *    mprotect calls per thread, never brk.
 *  - it shrinks by madvise(addr, len, MADV_DONTNEED) when its top chunk is
 *    over the 128 KiB trim threshold (shrink_heap; with overcommit_memory
 *    = 2 it would be mmap(MAP_FIXED, PROT_NONE)): here page by page while
 *    the burst is freed newest first, then larger ranges as the slots go.
 *    The heap keeps its PROT_READ|PROT_WRITE, and arenas are never unmapped.
 *  - at thread exit: madvise(stack, 8368128, MADV_DONTNEED), glibc giving
 *    back the dead thread's stack pages (the stack is cached, not unmapped).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define THREADS 4
#define PAIRS 20000
#define SLOTS 64
#define BURST 256

static void *worker(void *arg)
{
	uint32_t x = 12345u + 1000u * (uint32_t)(uintptr_t)arg;
	volatile char *slot[SLOTS] = { 0 };
	volatile char *burst[BURST];

	for (int i = 0; i < PAIRS; i++) {
		x = x * 1103515245u + 12345u;
		size_t n = 16 + (x >> 16) % 4081;
		volatile char *p = malloc(n);
		if (!p)
			exit(1);
		p[0] = (char)i;
		if (i % 4 == 0) {
			free((void *)slot[(i / 4) % SLOTS]);
			slot[(i / 4) % SLOTS] = p;
		} else {
			free((void *)p);
		}
	}
	for (int i = 0; i < BURST; i++) {
		burst[i] = malloc(4096);
		if (!burst[i])
			exit(1);
		burst[i][0] = 1;
	}
	for (int i = BURST - 1; i >= 0; i--)
		free((void *)burst[i]);
	for (int i = 0; i < SLOTS; i++)
		free((void *)slot[i]);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	for (uintptr_t i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			return 1;
	for (int i = 0; i < THREADS; i++)
		if (pthread_join(t[i], NULL) != 0)
			return 1;
	return 0;
}
