/* allocator.h - finding the object a process really gets malloc from
 * (object.c), and where each entry point of fl_funcs.h's table sits in it
 * (entries.c; what is particular to one allocator family: glibc.c,
 * refalloc.c). The struct is filled once, before the probes are attached. */
#ifndef FL_ALLOCATOR_H
#define FL_ALLOCATOR_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "faultline.h"

struct allocator {
	char path[4096];          /* file to attach to (as seen from here) */
	char shown[4096];         /* its name for people (the target's own path) */
	uint64_t offset[FL_NFUNC]; /* file offset of each entry point, 0 = absent */
	uint64_t vaddr[FL_NFUNC];  /* its symbol value */
	int alias_of[FL_NFUNC];    /* -1, or the func sharing the same address */
	uint64_t free_skip;        /* bytes past free's entry to place its probes (0 = entry) */
	uint64_t free_null_offset; /* with free_skip: the free(NULL) return path, probed apart */
	int nfuncs;                /* entry points found */
	bool usdt_refalloc;        /* carries refalloc's USDT probes: use them, not uprobes */
};

/* Looks up every allocator entry point in the ELF file at path. Returns the
 * number found (0: the file defines no malloc), -1 with err set if the file
 * cannot be read as ELF. */
int allocator_scan(const char *path, struct allocator *a, char *err, size_t errlen);

/* Resolves an executable about to be exec'd: the first object in symbol
 * lookup order (the executable, LD_PRELOAD, then its libraries) that defines
 * malloc. Returns 0, -1 with a one-line message in err, or
 * ALLOCATOR_NOT_A_PROGRAM (message too) when exe_path is no ELF executable. */
#define ALLOCATOR_NOT_A_PROGRAM (-2)
int allocator_for_exec(const char *exe_path, struct allocator *a, char *err, size_t errlen);

/* Resolves a running process: its executable if it defines malloc, then an
 * LD_PRELOADed object, then any other mapped object but libc, then libc.
 * Files are opened through /proc/PID/map_files, so a process in another
 * mount namespace or a chroot is resolved as it maps them. */
int allocator_for_pid(pid_t pid, struct allocator *a, char *err, size_t errlen);


#endif
