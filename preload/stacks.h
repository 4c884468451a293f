/* stacks.h - inside libfaultline-preload.so: the call stacks --stacks=all
 * asks for (stacks.c), unwound in the process by libunwind, which is loaded
 * only then (dlopen, RTLD_LOCAL: its backtrace() does not replace the C
 * library's for the program). Costs 60-200 ns a call (libunwind's per-thread
 * trace cache). libunwind allocates at a thread's first unwind (its
 * thread-local block): the caller routes that to the hooks' arena. A fork
 * waits for the threads inside the unwinder to leave it, and an unwind
 * waits for another thread's fork to end (50 ms at most: then its call has
 * no stack). The fork handlers are registered when the unwinder is loaded. */
#ifndef FLP_STACKS_H
#define FLP_STACKS_H
#include <stdint.h>
#include "fl_preload.h"

/* Frames asked of the unwinder: the library's own (up to four) and the callers' */
#define FLP_STACK_RAW (FL_PRELOAD_STACK_FRAMES + 4)

/* Loads the unwinder (from flp_init, before recording starts): 0, or -1 if
 * libunwind.so.8 cannot be loaded (no stacks are then taken). */
int flp_stacks_load(void);

/* The return addresses of the calling hook's callers, the hook's own frame
 * first (the allocator's frame, in this library) and the recorder's frames
 * above it left out: at most max of them into ips; the count (0: none, or
 * another thread's fork took longer than 50 ms). */
unsigned flp_stack_take(uint64_t *ips, unsigned max);

#endif
