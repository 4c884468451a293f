/* je_prefix.c - stands in for a jemalloc built with --with-jemalloc-prefix=je_
 * (exporting je_malloc ... beside libc's malloc), for 76-allocators.t: built
 * as a library whose je_ functions call libc's (-DLIB), or as the program
 * that calls them, 100 times each. */
#include <stddef.h>
#include <stdlib.h>

#ifdef LIB
__attribute__((noinline)) void *je_malloc(size_t n) { return malloc(n); }
__attribute__((noinline)) void *je_calloc(size_t n, size_t s) { return calloc(n, s); }
__attribute__((noinline)) void *je_realloc(void *p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) void je_free(void *p) { free(p); }
#else
void *je_malloc(size_t n);
void *je_calloc(size_t n, size_t s);
void *je_realloc(void *p, size_t n);
void je_free(void *p);
void *volatile sink;

int main(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = je_malloc(64), *q = je_calloc(4, 16);

		p = je_realloc(p, 128);
		sink = p;
		sink = q;
		je_free(p);
		je_free(q);
	}
	return 0;
}
#endif
