/* families.h - what is particular to one allocator family, one file each
 * (glibc.c, refalloc.c), for entries.c while it scans an object and for the
 * tracer that attaches the probes. */
#ifndef FL_ALLOC_FAMILIES_H
#define FL_ALLOC_FAMILIES_H

#include <gelf.h>
#include <stdbool.h>
#include "capture/alloc/allocator.h"

/* glibc: free starts with a NULL test that the kernel would single-step; its
 * probes go past it, with one of their own on the free(NULL) path
 * (a->free_skip, a->free_null_offset). fd: the object, read with pread. */
void glibc_place_free_probe(int fd, struct allocator *a);

/* refalloc: does this note section hold its USDT notes? */
bool refalloc_notes(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh);
/* Its USDT probes faultline attaches (the BPF program of each: ra_<probe>). */
extern const char *const refalloc_probes[];
extern const size_t refalloc_nprobes;

#endif
