/* recorder.h - inside libfaultline-preload.so: the thread's recording state
 * and the few operations the interposed entry points (hooks.c) make on it
 * (recorder.c). */
#ifndef FLP_RECORDER_H
#define FLP_RECORDER_H
#include <stddef.h>
#include <stdint.h>
#include "fl_preload.h"

struct flp_thread {
	uint64_t slot;                /* what the kernel reads (fl_preload.h): must stay first */
	uint32_t done;                /* records written by this thread */
	uint32_t depth;               /* returning calls in flight */
	uint8_t outer_func;           /* the outermost call in flight */
	uint8_t in_free;              /* an outermost free-like call in flight */
	uint8_t writing;              /* a record is being written (a signal handler's call is not recorded) */
	uint8_t no_buf;               /* no ring could be claimed: this thread records nothing */
	uint8_t own_alloc;            /* the library loads or runs its unwinder: malloc and the rest use its arena */
	struct fl_preload_buf *buf;
	uintptr_t outer_sp;           /* the frame of the outermost returning call in flight */
	uint32_t unsampled;           /* outermost calls since the last one whose stack was taken */
	uint64_t stack_hash[FL_STACK_IPS_CACHE]; /* the hashes of stacks written, by hash % 8: the same
					      again goes as a repeat (0: none) */
	uint32_t repeats;             /* repeats sent: every 4096th stack goes whole again */
	uint32_t dropping;            /* --lossy: calls dropped since the ring last had room */
	uint64_t full_since;          /* and when the first of them was (CLOCK_MONOTONIC ns) */
	uint64_t tail_seen;           /* the ring's tail as last read: read again only when the ring looks
				         full (the collector's cache line is not pulled at every record) */
};

extern __thread struct flp_thread flp_self __attribute__((tls_model("initial-exec")));

/* 1 once the shared memory is mapped and the process registered, 0 before,
 * -1 never (no faultline, a version mismatch, the collector gone). */
extern int flp_state;

/* Maps the shared memory and registers, once the C library is up. */
void flp_init(void);

static inline int flp_recording(void)
{
	if (__builtin_expect(flp_state == 1, 1))
		return 1;
	if (flp_state == 0)
		flp_init();
	return flp_state == 1;
}

uint64_t flp_now(void);   /* CLOCK_MONOTONIC ns */
uint64_t flp_stamp(void); /* the time stamp counter: a record's times */

/* A returning call enters (func) / returns: its record. */
void flp_enter(struct flp_thread *t, unsigned func);
void flp_leave(struct flp_thread *t, unsigned func, uint64_t ts, uint64_t a0, uint64_t a1, uint64_t a2,
	       uint64_t ret);
/* A free-like call of ptr at its entry: its record. Returns whether it is the
 * outermost (then flp_free_done() after the real call). */
int flp_free_enter(struct flp_thread *t, unsigned func, uint64_t a0, uint64_t a1, uint64_t ptr);
void flp_free_done(struct flp_thread *t);
/* free(NULL): one record, as the uprobe path's free(NULL) probe writes. */
void flp_free_null(struct flp_thread *t);

#endif
