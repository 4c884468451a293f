/* native_api.c - tests/e2e/75-cxx.t: the allocators' own APIs, called by a
 * program linked against the allocator directly (not preloaded). Built with
 * -DJEMALLOC: 100 each of mallocx, rallocx, xallocx and sdallocx, and 100
 * mallocx + dallocx; with -DMIMALLOC: 100 each of mi_zalloc, mi_mallocn,
 * mi_malloc_aligned, mi_reallocn, 200 mi_free_size and 100 mi_free_aligned.
 * The functions are declared here (the allocators' headers are not needed). */
#include <stddef.h>

#ifdef JEMALLOC
void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
size_t xallocx(void *ptr, size_t size, size_t extra, int flags);
void dallocx(void *ptr, int flags);
void sdallocx(void *ptr, size_t size, int flags);
#else
void *mi_zalloc(size_t size);
void *mi_mallocn(size_t count, size_t size);
void *mi_malloc_aligned(size_t size, size_t alignment);
void *mi_reallocn(void *p, size_t count, size_t size);
void mi_free_size(void *p, size_t size);
void mi_free_aligned(void *p, size_t alignment);
#endif

void *volatile sink;
volatile size_t got;

int main(void)
{
#ifdef JEMALLOC
	{
		for (int i = 0; i < 100; i++) {
			void *p = mallocx(64 + i, 0), *q;

			sink = p;
			q = rallocx(p, 200 + i, 0);
			sink = q;
			got = xallocx(q, 300, 0, 0);
			sdallocx(q, 200 + i, 0);
			sink = p = mallocx(32, 0);
			dallocx(p, 0);
		}
		return 0;
	}
#else
	{
		for (int i = 0; i < 100; i++) {
			void *a = mi_zalloc(48), *b = mi_mallocn(4, 16), *c = mi_malloc_aligned(100, 64);

			sink = a;
			sink = c;
			b = mi_reallocn(b, 8, 16);
			sink = b;
			mi_free_size(a, 48);
			mi_free_size(b, 128);
			mi_free_aligned(c, 64);
		}
		return 0;
	}
#endif
}
