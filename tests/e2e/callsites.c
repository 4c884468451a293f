/* Known call sites for tests/e2e/80-stacks.t (faultline record --stacks).
 *
 * main -> run_maps  -> map_churn(50):    50 x malloc(256 KiB) (mmap) + free (munmap)
 *      -> run_heap  -> grow_heap(2000):  2000 x malloc(1000): the brk heap grows ~15 times
 *      -> run_touch -> touch_block(1 MiB): one mmap'd block, 256 first-touch faults by memset
 *
 * Every function is noinline and noclone (no map_churn.constprop.0 under -O2),
 * and each caller does work after its call, so no call is a tail call and the
 * callers stay on the stack. The "L_..." comments mark the lines the test
 * expects in the report; keep each on the line of its call. The statement
 * after each run_* call is on a later line, so a symbolizer that looks up
 * the return address itself (not the call: return address - 1) names the
 * wrong line. No output: after startup, the program's only memory syscalls
 * come from its own allocations.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif
#define BARRIER() __asm__ volatile("" ::: "memory")

#define PAGE 4096
#define MAP_SIZE (256 * 1024)
#define HEAP_SIZE 1000
#define HEAP_N 2000
#define TOUCH_SIZE (1024 * 1024)

static void *heap_blocks[HEAP_N];
static volatile unsigned long sink;

NOINLINE static void map_churn(int n)
{
	unsigned long sum = 0;
	for (int i = 0; i < n; i++) {
		volatile char *p = malloc(MAP_SIZE); /* L_MAP_MALLOC */
		if (!p)
			abort();
		for (size_t off = 0; off < MAP_SIZE; off += PAGE)
			p[off] = (char)i;
		sum += (unsigned long)p[MAP_SIZE - 1];
		free((void *)p); /* L_MAP_FREE */
		BARRIER();
	}
	sink += sum;
}

NOINLINE static void grow_heap(int n)
{
	unsigned long sum = 0;
	for (int i = 0; i < n && i < HEAP_N; i++) {
		char *p = malloc(HEAP_SIZE); /* L_HEAP_MALLOC */
		if (!p)
			abort();
		p[0] = (char)i;
		heap_blocks[i] = p;
		BARRIER();
		sum += (unsigned char)p[0];
	}
	sink += sum;
}

NOINLINE static void touch_block(size_t size)
{
	char *p = malloc(size); /* L_TOUCH_MALLOC */
	if (!p)
		abort();
	/* not 0: gcc turns malloc + memset(0) into calloc, which skips the writes */
	memset(p, 0xa5, size); /* L_TOUCH_MEMSET */
	BARRIER();
	sink += (unsigned char)p[size - 1];
	free(p);
	BARRIER(); /* free(p) stays a call, not a jump: touch_block on the munmap's stack */
}

NOINLINE static void run_maps(void)
{
	map_churn(50); /* L_RUN_MAPS */

	sink++;
	BARRIER();
}

NOINLINE static void run_heap(void)
{
	grow_heap(HEAP_N); /* L_RUN_HEAP */

	sink++;
	BARRIER();
}

NOINLINE static void run_touch(void)
{
	touch_block(TOUCH_SIZE); /* L_RUN_TOUCH */

	sink++;
	BARRIER();
}

int main(void)
{
	/* a fixed threshold: glibc's dynamic one would move to 256 KiB after the
	 * first free and serve the later 256 KiB blocks from the brk heap */
	if (!mallopt(M_MMAP_THRESHOLD, 128 * 1024))
		return 1;
	run_maps();
	run_heap();
	run_touch();
	/* heap_blocks stay allocated: freeing them would trim the heap (a brk by
	 * main's free), a syscall row the test does not need */
	return 0;
}
