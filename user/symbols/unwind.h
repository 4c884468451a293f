/* unwind.h - unwinding of a captured user stack with the DWARF CFI
 * (.eh_frame, .debug_frame) of the objects of a process's memory maps
 * (maps.h, as the recording keeps them), falling back to
 * the frame-pointer chain where there is no CFI. Works offline: the process
 * may have exited; only its mapped files must still be readable (optionally
 * under a root prefix such as /proc/PID/root for a container).
 *
 * x86-64 only. Not thread-safe: use one unwinder per thread.
 */
#ifndef UNWIND_H
#define UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include "symbols/maps.h"

/* ---- unwinding ---- */

/* The registers the unwinder starts from (captured with the stack). */
struct unwind_regs {
	uint64_t ip, sp, bp;
};

struct unwinder;

/* Keeps a libdw session (the mapped objects, opened) for each of the last few
 * map sets it was used with. NULL on out of memory. */
struct unwinder *unwinder_new(void);
/* Where separate debug files (.debug_frame) are looked for, default
 * /usr/lib/debug: set it before the first unwind. -1 on out of memory. */
int unwinder_set_debug_root(struct unwinder *u, const char *dir);
void unwinder_free(struct unwinder *u);

/* Unwinds the stack captured at regs: stack holds stack_len bytes copied
 * from address regs->sp upward, and is the only memory read. Writes up to max
 * addresses into ips: ips[0] = regs->ip, then one return address per caller
 * (use unwind_call_site to symbolize them). Returns the count (0 if max <= 0).
 * Never fails on bad input: garbage gives a short stack. */
int unwind_stack(struct unwinder *u, const struct proc_maps *m, const struct unwind_regs *regs,
		 const void *stack, size_t stack_len, uint64_t *ips, int max);

/* The address to symbolize for frame i: the return addresses of callers point
 * after their call instruction (maybe into the next line or function). */
static inline uint64_t unwind_call_site(const uint64_t *ips, int i)
{
	return i > 0 && ips[i] > 0 ? ips[i] - 1 : ips[i];
}

#endif /* UNWIND_H */
