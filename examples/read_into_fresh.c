/*
 * read_into_fresh - claim 7 alone: the first touch of fresh memory by the
 * kernel is a kernel-mode page fault.
 *
 * q = malloc(1 MiB); read() /dev/zero into it until 1 MiB is in (the
 * program never writes q itself); free(q). Nothing is printed.
 *
 * Seen with glibc 2.36: the first malloc builds glibc's tcache struct on
 * the heap: brk(NULL), brk(+0x21000); 1 MiB is over the 128 KiB threshold
 * and the top chunk: mmap(NULL, 1052672, PROT_READ|PROT_WRITE,
 * MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) (1 MiB + a page for the 16-byte
 * header), q = map + 0x10. malloc writing the header faults page 0 in
 * user mode (exceptions:page_fault_user); read(fd, q, 1048576) = 1048576
 * then faults the other 256 pages from inside the kernel, while zeroing
 * them: 256 exceptions:page_fault_kernel with ip in read_zero and
 * error_code 2 (write, user bit clear), no user fault. One more kernel
 * fault, in strncpy_from_user, is openat reading the path string's page.
 * free: munmap(map, 1052672). openat/read/close are not memory syscalls.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	size_t n = 1024 * 1024, got = 0;
	char *q = malloc(n);
	int fd = open("/dev/zero", O_RDONLY);

	if (!q || fd < 0)
		return 1;
	while (got < n) {
		ssize_t r = read(fd, q + got, n - got);
		if (r <= 0)
			return 1;
		got += (size_t)r;
	}
	close(fd);
	free(q);
	return 0;
}
