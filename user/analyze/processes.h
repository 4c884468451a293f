/* processes.h - what each process did (-f): a sink counting calls, bytes,
 * memory syscalls and faults per process, beside the correlator's own
 * per-process state (its peaks, parent, file and argv: struct corr_proc). */
#ifndef FL_PROCESSES_H
#define FL_PROCESSES_H

#include <stddef.h>
#include <stdint.h>
#include "analyze/correlator.h"

struct proc_counts {
	uint64_t calls, bytes_requested, syscalls[FL_NSYS], faults, first_touch, first_touch_owner[FL_NOWNER];
};

struct proc_row {
	uint32_t pid;
	const struct corr_proc *proc; /* valid while the correlator lives */
	struct proc_counts n;
};

struct processes;

struct processes *processes_new(void); /* NULL on out of memory */
void processes_free(struct processes *ps);
/* Adds the sink to c (before the first record). */
void processes_attach(struct processes *ps, struct correlator *c);
void processes_item(void *ctx, const struct corr_item *it);
/* The processes in the order they were first seen; *n gets the count. */
const struct proc_row *processes_rows(const struct processes *ps, size_t *n);

#endif
