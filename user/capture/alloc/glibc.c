/* glibc.c - glibc's entry points: where free's probes go so that the kernel
 * emulates the probed instruction instead of single-stepping it. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "capture/alloc/families.h"

/* glibc's free starts with `test %rdi,%rdi; je <ret>`: a test must be
 * single-stepped by the kernel (5.8 µs a call at free's entry on churn, against 1.45 µs at free+9: README), while the `push`
 * after it is emulated (about 1 µs). When free starts so, its probes go past
 * the test, and the free(NULL) path (the je target) gets a probe of its own,
 * so every call is still counted. */
void glibc_place_free_probe(int fd, struct allocator *a)
{
	uint8_t code[16];
	int32_t rel;

	if (!a->offset[FL_FREE] || pread(fd, code, sizeof(code), a->offset[FL_FREE]) != sizeof(code))
		return;
	if (code[0] != 0x48 || code[1] != 0x85 || code[2] != 0xff)
		return;
	if (code[3] == 0x0f && code[4] == 0x84) {
		memcpy(&rel, code + 5, 4);
		a->free_skip = 9;
	} else if (code[3] == 0x74) {
		rel = (int8_t)code[4];
		a->free_skip = 5;
	} else {
		return;
	}
	a->free_null_offset = a->offset[FL_FREE] + a->free_skip + rel;
}

