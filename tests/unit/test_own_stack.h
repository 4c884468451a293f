/* test_own_stack.h - what the unwinder, symbolizer and call-site tests share
 * to look at this very process as the kernel would: its memory maps, parsed,
 * and a copy of its stack from a stack pointer up to the end of the stack
 * (ASan left out of the copy: it reads other frames' redzones on purpose). */
#ifndef FL_TEST_OWN_STACK_H
#define FL_TEST_OWN_STACK_H

#include <stdint.h>
#include <stdlib.h>
#include "test_files.h"
#include "symbols/unwind.h"

/* Needs cmocka.h before it (assert_non_null). */
static inline struct proc_maps *own_maps(void)
{
	size_t len;
	char *text = read_file("/proc/self/maps", &len);
	struct proc_maps *m;

	assert_non_null(text);
	m = proc_maps_parse(text, len);
	free(text);
	assert_non_null(m);
	return m;
}

__attribute__((no_sanitize_address, noinline, unused)) static void copy_stack(uint8_t *dst, uint64_t src,
									    size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = ((volatile const uint8_t *)src)[i];
}

/* The end of the mapping that holds sp (the stack's top), or sp. */
static inline uint64_t stack_end_of(const struct proc_maps *m, uint64_t sp)
{
	const struct proc_map *e = proc_maps_find(m, sp);

	return e ? e->end : sp;
}

#endif
