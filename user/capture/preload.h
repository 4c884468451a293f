/* preload.h - the collector of the in-process fast path (--probes preload):
 * the shared memory libfaultline-preload.so writes its call records into
 * (include/fl_preload.h), turned into the uprobe path's FL_EV_CALL records
 * and put in their exact place among the kernel's records of the same thread
 * (each syscall and fault record carries how many calls the thread had
 * completed). The library's own mapping and its page faults are taken out,
 * so the stream is the one the uprobe path gives. */
#ifndef FL_PRELOAD_COLLECTOR_H
#define FL_PRELOAD_COLLECTOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int (*preload_emit_fn)(void *ctx, const void *rec, size_t len);
struct preload;

/* Creates the shared memory (a memfd the command inherits). NULL with a
 * one-line message. */
struct preload *preload_open(preload_emit_fn emit, void *ctx, char *err, size_t errlen);
void preload_close(struct preload *p);
/* The memfd's number (what FAULTLINE_PRELOAD_FD says). */
int preload_fd(const struct preload *p);
/* Readable when a thread's ring is half full (for the run loop's wait). */
int preload_wake_fd(const struct preload *p);
/* Where the library's build variant (probe_path_library_variant: "" or
 * "-jemalloc", ...) is: libfaultline-preload<variant>.so next to the
 * faultline executable, or $FAULTLINE_PRELOAD_LIB with the variant before
 * its ".so". 0, or -1 with a message. */
int preload_library_path(char *out, size_t len, const char *variant, char *err, size_t errlen);
/* The library the command loads (its loader mappings are taken out). */
void preload_set_library(struct preload *p, const char *path);
/* Entry point func shares its address with counted_as in the allocator:
 * counted as that one, as the uprobe path does (one probe). */
void preload_set_alias(struct preload *p, unsigned func, unsigned counted_as);
/* A process whose calls are kept (the command; forked children follow). */
void preload_add_target(struct preload *p, pid_t tgid);
/* A kernel record on its way to the consumer: the thread's calls that come
 * before it are emitted first, then the record (its tag cleared), unless it
 * is the library's own (dropped). Returns the consumer's non-zero return. */
int preload_kernel_record(struct preload *p, const void *rec, size_t len);
/* Around a drain of the ring buffer: what the threads had written before it
 * began may be emitted once the ring is drained (preload_flush). */
void preload_snapshot(struct preload *p);
int preload_flush(struct preload *p);
/* Everything written (the command has exited). */
int preload_flush_all(struct preload *p);
/* --stacks=all: the library takes the stack of one outermost call in sample
 * per thread (0: none); before the command starts. stacks_missing: the
 * library could not load its unwinder (libunwind.so.8), so took none. */
void preload_set_stacks(struct preload *p, unsigned sample);
bool preload_stacks_missing(const struct preload *p);

/* --lossy: a thread whose ring is full drops the call (counted in
 * preload_unrecorded) instead of waiting; before the command starts. */
void preload_set_lossy(struct preload *p);

/* Times threads waited for room, the time they waited (ns), calls not
 * recorded (no ring free, a signal handler's), and whether any process
 * of the command loaded the library. */
uint64_t preload_waits(const struct preload *p, uint64_t *wait_ns);
uint64_t preload_unrecorded(const struct preload *p);
/* --stacks=all: calls the library wrote without their stack (the call sites' "not taken") */
uint64_t preload_stacks_skipped(const struct preload *p);
bool preload_seen(const struct preload *p);
/* Has some ring an eighth full or more (the run loop then does not sleep)? */
bool preload_busy(struct preload *p);
#endif
