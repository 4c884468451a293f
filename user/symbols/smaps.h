/* smaps.h - the kernel's resident bytes per mapping, from /proc/PID/smaps:
 * read into a compact text ("start end rss name" lines, hex start and end,
 * rss in bytes), which the trace stores (FL_META_SMAPS) and the report
 * parses. */
#ifndef FL_SMAPS_H
#define FL_SMAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct smaps_entry {
	uint64_t start, end, rss;
	char name[256];
};

/* /proc/PID/smaps as the compact text (malloc'd, *len its length), or NULL. */
char *smaps_read_compact(pid_t pid, size_t *len);
/* The compact text of raw smaps text (malloc'd), or NULL when out of memory. */
char *smaps_compact(const char *raw, size_t rlen, size_t *len);
/* Parses the compact text; returns the entries (malloc'd, *n of them) or
 * NULL (none, or a line that is not one). */
struct smaps_entry *smaps_parse(const char *text, size_t len, size_t *n);

#endif
