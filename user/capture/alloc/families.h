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

/* Any allocator: how many bytes past an entry point its probe goes, so that
 * the kernel emulates the probed instruction instead of single-stepping it
 * (placement.c); 0: at the entry. code: its first len bytes; args: a bit per
 * C argument (1 << (n - 1)) the probe reads. regs NULL: their registers must
 * not change before the probe; else they may move, and regs[n - 1] says which
 * register (x86 number: 0 rax .. 7 rdi, 8 r8 .. 15 r15) holds argument n at
 * the probe. */
uint64_t placement_skip(const uint8_t *code, size_t len, unsigned args, int regs[4]);
/* Marks hit[k] for each window (lo[k], hi[k]] (vaddrs: an entry and its
 * probe) that some rel8/rel32 branch or call among code's len bytes (at
 * vaddr) lands in. Every byte is tried as an instruction start: a window
 * is refused too often rather than too rarely. */
void placement_jumped_into(const uint8_t *code, size_t len, uint64_t vaddr, const uint64_t *lo,
			   const uint64_t *hi, bool *hit, int n);
/* Is the instruction at code one the kernel emulates at a uprobe hit? */
bool placement_emulated(const uint8_t *code, size_t len);

/* refalloc: does this note section hold its USDT notes? */
bool refalloc_notes(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh);
/* Its USDT probes faultline attaches (the BPF program of each: ra_<probe>). */
extern const char *const refalloc_probes[];
extern const size_t refalloc_nprobes;

#endif
