/* probe_path.h - which path records a command's allocator calls
 * (--probes auto|preload|uprobes): the in-process library where it can work,
 * uprobes elsewhere, and why. */
#ifndef FL_PROBE_PATH_H
#define FL_PROBE_PATH_H
#include <stddef.h>
#include "capture/alloc/allocator.h"

enum fl_probes { FL_PROBES_AUTO = 0, FL_PROBES_PRELOAD = 1, FL_PROBES_UPROBES = 2 };

/* "auto", "preload", "uprobes": the value, -1 for another word. */
int probe_path_parse(const char *word);
const char *probe_path_name(int path);
/* The path for the command at exe with allocator set a and --stacks mode (FL_PROBES_PRELOAD or
 * FL_PROBES_UPROBES); why: the reason when auto chose uprobes, or when
 * preload was asked for and cannot work (then -1). */
int probe_path_choose(int asked, const char *exe, const struct alloc_set *a, int stack_mode, char *why,
		      size_t whylen);
/* Which build of the preload library the allocator set needs: "" (the
 * malloc family and operator new/delete), "-jemalloc", "-je" or "-mimalloc"
 * (those and that allocator's own entry points); NULL when the natives of
 * two allocator families are found (no library has both). */
const char *probe_path_library_variant(const struct alloc_set *a);
#endif
