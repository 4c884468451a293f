/* io.h - reads and writes that go on through EINTR (a signal handler that
 * returned) and short transfers: the one place such loops are written. */
#ifndef FL_IO_H
#define FL_IO_H

#include <stddef.h>
#include <sys/types.h>

/* One read(2), retried while interrupted: what read returns otherwise. */
ssize_t io_read(int fd, void *buf, size_t n);
/* Up to n bytes: fewer only at end of file; -1 on a read error (errno). */
ssize_t io_read_full(int fd, void *buf, size_t n);
/* All n bytes: 0, or -1 (errno; EIO if the file took none). */
int io_write_all(int fd, const void *buf, size_t n);

#endif
