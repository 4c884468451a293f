/* fuzz_util.h - what the libFuzzer harnesses of tests/fuzz/ share: the input
 * as a file (the readers under test open paths), written to an anonymous
 * memory file and named /proc/self/fd/N. */
#ifndef FL_FUZZ_UTIL_H
#define FL_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a file holding len bytes of data; the same file each call (it
 * is truncated and rewritten). */
static inline const char *fuzz_file(const void *data, size_t len)
{
	static int fd = -1;
	static char path[64];
	const char *p = data;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
	return path;
}

/* Where the writers under test write (their bytes are not looked at). */
static inline FILE *fuzz_sink(void)
{
	static FILE *null;

	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	return null;
}

#endif
