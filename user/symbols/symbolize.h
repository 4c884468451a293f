/* symbolize.h - user-space address -> "function+0xoff (file:line)", offline:
 * the object and its load bias come from the saved memory maps (unwind.h),
 * symbols from the object's .symtab, else .dynsym (or those of its separate
 * debug file), file:line from DWARF in the object or in a separate debug file
 * found by build-id under <debug root>/.build-id/xx/yyyy.debug, else by
 * .gnu_debuglink (next to the object, in its .debug/, under the debug root).
 *
 * Each object is opened once per build-id (once per path without one) and
 * every lookup is cached per (object, address), so symbolizing the same
 * stacks again is a hash lookup. Not thread-safe.
 */
#ifndef SYMBOLIZE_H
#define SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "symbols/unwind.h"

struct symbol_info {
	const char *function;   /* symbol name, or "[unknown]" */
	uint64_t offset;        /* addr - start of function; 0 if unknown */
	const char *file;       /* source file, or NULL without line info */
	int line;               /* or 0 */
	const char *object;     /* the mapping's path as in the maps ("[vdso]", "" if anonymous) */
	const char *build_id;   /* the object's build-id in hex, or NULL (none, or unreadable) */
	uint64_t object_offset; /* file offset of addr in the object: addr - map start + map offset */
};

struct symbolizer;

struct symbolizer *symbolizer_new(void); /* NULL on out of memory */
void symbolizer_free(struct symbolizer *s);

/* Where separate debug files are looked for (default /usr/lib/debug). Affects
 * objects opened afterwards: set it first. -1 on out of memory. */
int symbolizer_set_debug_root(struct symbolizer *s, const char *dir);

/* Fills out for addr in the address space described by m. Strings stay valid
 * until symbolizer_free (object: while m lives). Returns 0, or -1 if addr is
 * in no mapping (out is then cleared, function "[unknown]"). For a caller's
 * frame pass the call site, unwind_call_site(ips, i), not the return address. */
int symbolize(struct symbolizer *s, const struct proc_maps *m, uint64_t addr, struct symbol_info *out);

/* "f3+0x1a (helper.c:12)", "qsort+0x10 (/lib/libc.so.6)", "[unknown] (/lib/x.so+0x1234)".
 * Returns what snprintf returns. */
int symbol_info_format(const struct symbol_info *si, char *buf, size_t len);


#endif /* SYMBOLIZE_H */
