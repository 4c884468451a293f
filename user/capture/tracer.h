/* tracer.h - the live BPF session: load, attach, feed the ring buffer's
 * records to a callback, count what the kernel could not queue. */
#ifndef FL_TRACER_H
#define FL_TRACER_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "capture/alloc/allocator.h"

struct tracer_opts {
	bool follow_forks;
	int verbose;
	size_t ringbuf_bytes; /* 0: the default (64 MiB) */
	bool count_only;      /* syscalls and faults counted in the kernel, not streamed */
	bool usdt_refalloc;   /* an allocator object is refalloc: its USDT probes, not uprobes */
	bool uprobes;         /* some object is probed with uprobes */
	const bool *entries_used; /* [FL_NFUNC]: entry points some object has (NULL: all) */
	int stack_mode;       /* enum fl_stack_mode */
	unsigned stack_sample;/* --stacks=all: one outermost call in this many per thread */
	unsigned stack_bytes; /* user stack bytes copied per record */
	bool preload;         /* --probes preload: calls come from the library, records carry its slot */
};

/* Called for every record, in ring-buffer order. A non-zero return stops
 * tracer_poll() and is returned by it. */
typedef int (*tracer_record_fn)(void *ctx, const void *rec, size_t len);

struct tracer;

/* Root and a kernel with BTF: checked before anything else is done.
 * Returns 0 or -1 with a one-line message. */
int tracer_check_supported(char *err, size_t errlen);

struct tracer *tracer_open(const struct tracer_opts *o, tracer_record_fn fn, void *ctx,
			   char *err, size_t errlen);
/* Adds tgid to the traced set: active now, or pending until its next execve.
 * 0, or -1 with a one-line message in err. */
int tracer_add_target(struct tracer *t, pid_t tgid, bool pending, char *err, size_t errlen);
int tracer_remove_target(struct tracer *t, pid_t tgid);
/* Attaches entry and return uprobes on every entry point of a, for pid
 * (-1: every process mapping the file; the kernel filter still applies). */
int tracer_attach_allocator(struct tracer *t, const struct allocator *a, pid_t pid,
			    char *err, size_t errlen);
/* Lets the uprobe programs follow calls: after every probe is in place. */
void tracer_arm(struct tracer *t);
/* Waits up to timeout_ms for records and consumes them. Returns records
 * consumed (>= 0), or the callback's non-zero return, or -errno. */
int tracer_poll(struct tracer *t, int timeout_ms);
int tracer_drain(struct tracer *t);
/* Drains (from tracer_poll/tracer_drain_until) that heed it end once *flag
 * is non-zero (a signal handler's stop flag). */
void tracer_set_stop_flag(struct tracer *t, const volatile sig_atomic_t *flag);
/* What tracer_drain_until returns when the deadline or the stop flag ended it
 * before the ring was empty (the records handed on until then are consumed). */
#define TRACER_CUT (-EINTR)
/* Consumes records until the ring is empty, deadline_ns (CLOCK_MONOTONIC)
 * passes or (heed_stop) the stop flag is set: a busy target cannot keep it
 * going. Returns records consumed, TRACER_CUT, or the callback's return. */
int tracer_drain_until(struct tracer *t, uint64_t deadline_ns, bool heed_stop);
/* The kernel stops producing: uprobe programs disarmed, no target left. */
void tracer_quiesce(struct tracer *t);
/* After tracer_quiesce: the records still in the ring, consumed without
 * being handed on (until deadline_ns), to be counted as lost. */
uint64_t tracer_count_unread(struct tracer *t, uint64_t deadline_ns);
/* tracer_wait also returns when fd is readable (the preload path's wakeup). */
int tracer_wake_on(struct tracer *t, int fd);
/* Waits up to timeout_ms for the kernel to signal records (consumes none). */
void tracer_wait(struct tracer *t, int timeout_ms);
uint64_t tracer_lost(struct tracer *t);
/* The most bytes seen waiting in the ring buffer, and its size. */
uint64_t tracer_ring_peak(struct tracer *t, uint64_t *size);
/* A kernel counter (enum fl_counter), summed over the CPUs. */
uint64_t tracer_counter(struct tracer *t, int idx);
int tracer_uprobe_count(const struct tracer *t);
/* How the uprobes are attached: "uprobe-multi links" or "perf-event uprobes". */
const char *tracer_uprobe_kind(const struct tracer *t);
void tracer_close(struct tracer *t);
/* At close, leave the (slow) teardown of the probes to a child process: for
 * a traced command that has exited, where no one waits for it. */
void tracer_detach_in_background(struct tracer *t);
/* At close, detach in a child and wait for it at most ms: a slow teardown
 * (perf-event uprobes) finishes after faultline has returned. */
void tracer_detach_within(struct tracer *t, unsigned ms);

#endif
