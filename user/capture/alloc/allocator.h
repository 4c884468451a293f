/* allocator.h - finding the objects a process really gets its allocator
 * entry points from (object.c: each entry point of fl_funcs.h's table from
 * the first object in symbol lookup order that defines it, as the dynamic
 * linker binds it: malloc from libc or an LD_PRELOADed jemalloc, operator
 * new from libstdc++ or that same jemalloc, or from the executable), and
 * where each sits in its object (entries.c; what is particular to one
 * allocator family: glibc.c, refalloc.c). Filled once, before the probes
 * are attached. */
#ifndef FL_ALLOCATOR_H
#define FL_ALLOCATOR_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "faultline.h"

/* One object and the entry points probed in it. */
struct allocator {
	char path[4096];          /* file to attach to (as seen from here) */
	char shown[4096];         /* its name for people (the target's own path) */
	uint64_t offset[FL_NFUNC]; /* file offset of each entry point, 0 = absent */
	uint64_t vaddr[FL_NFUNC];  /* its symbol value */
	int alias_of[FL_NFUNC];    /* -1, or the func sharing the same address */
	uint64_t skip[FL_NFUNC];   /* bytes past each entry to place its probes (placement.c; 0 = entry) */
	bool stepped[FL_NFUNC];    /* its probe is on an instruction the kernel single-steps (dearer) */
	uint32_t argmap[FL_NFUNC]; /* the entry probe's attach cookie (faultline.h's FL_ARGMAP_*; 0: ABI registers) */
	uint64_t free_skip;        /* glibc: bytes past free's entry to place its probes (0 = entry) */
	uint64_t free_null_offset; /* with free_skip: the free(NULL) return path, probed apart */
	int nfuncs;                /* entry points found */
	bool usdt_refalloc;        /* carries refalloc's USDT probes: use them, not uprobes */
};

#define ALLOC_MAX_OBJECTS 8

/* Every object a process gets an entry point from; obj[0] gives it malloc. */
struct alloc_set {
	struct allocator obj[ALLOC_MAX_OBJECTS];
	int n;
	bool used[FL_NFUNC]; /* the entry points found in some object */
};

/* Looks up every allocator entry point in the ELF file at path. Returns the
 * number found, -1 with err set if the file cannot be read as ELF. */
int allocator_scan(const char *path, struct allocator *a, char *err, size_t errlen);
/* Recounts a->nfuncs and which entry points share an address (alias_of), after
 * some were dropped from a. */
void allocator_mark_aliases(struct allocator *a);

/* Resolves an executable about to be exec'd, in symbol lookup order (the
 * executable, LD_PRELOAD, then its libraries as ld.so --list gives them).
 * Returns 0, -1 with a one-line message in err (no object defines malloc),
 * or ALLOCATOR_NOT_A_PROGRAM (message too) when exe_path is no ELF executable. */
#define ALLOCATOR_NOT_A_PROGRAM (-2)
int allocator_for_exec(const char *exe_path, struct alloc_set *set, char *err, size_t errlen);

/* Resolves a running process, its mapped objects ranked: its executable,
 * then LD_PRELOADed objects, then the others, libc last. Files are opened
 * through /proc/PID/map_files, so a process in another mount namespace or a
 * chroot is resolved as it maps them. */
int allocator_for_pid(pid_t pid, struct alloc_set *set, char *err, size_t errlen);



#endif
