/* meta.h - the non-event records of a trace file: what `report` needs besides
 * the kernel's events (command, target, allocator, memory maps, exit, losses).
 * A record whose first byte is FL_REC_META is one of these; any other first
 * byte is a kernel event (include/faultline.h). */
#ifndef FL_META_H
#define FL_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FL_REC_META 0x80

enum fl_meta_kind {
	FL_META_COMMAND = 1,   /* data: argv, NUL-separated */
	FL_META_TARGET = 2,    /* tgid: the target; value: 1 if attached to a running process */
	FL_META_ALLOCATOR = 3, /* tgid; data: the allocator object's path */
	FL_META_MAPS = 4,      /* tgid; data: /proc/PID/maps text */
	FL_META_EXIT = 5,      /* tgid; value: wait status (as waitpid) */
	FL_META_LOST = 6,      /* value: events the kernel could not queue */
	FL_META_START = 7,     /* value: CLOCK_MONOTONIC ns at start; data: realtime ns (8 bytes) */
	FL_META_END = 8,       /* value: CLOCK_MONOTONIC ns at end */
	FL_META_STACKS = 9,    /* value: enum fl_stack_mode | sample << 8 | stack bytes << 32 */
	FL_META_STACKS_SKIPPED = 11, /* value: stacks not taken, the ring buffer being over half full */
	FL_META_BUILD_ID = 10, /* tgid; data: path NUL build-id (hex): the object tgid maps at path
				  (--stacks; a copy is in the build-id cache, buildid_cache.h);
				  value 1: not copied, larger than the cache's bound per object */
	FL_META_PROBE_PATH = 14, /* tgid: the command; value: 1 preload (the library recorded the
				    calls), 2 uprobes (capture/probe_path.h's enum fl_probes) */
	FL_META_PRELOAD_WAITS = 15, /* value: times a thread waited for the collector (the preload
				       path is lossless); data: the time waited, u64 ns */
	FL_META_PROBES = 12,   /* tgid; data: byte pairs (func, probe) for each entry point probed in
				  the allocator object named by the FL_META_ALLOCATOR just before:
				  probe is the entry whose probe it shares (its calls are counted
				  as that one's), itself when it has its own */
	FL_META_SMAPS = 13,    /* tgid; data: the kernel's resident bytes per mapping at the
				  command's exit, "start end rss name" lines (symbols/smaps.h) */
	FL_META_CALL_TIME_RES = 17, /* value: the calls' times in the file are multiples of it, ns
				       (record --call-times); absent: exact */
	FL_META_PROC = 16,     /* tgid: a process at its exec (or the attach); value: its parent's
				  pid; data: the executable's real path NUL, then its argv,
				  NUL-separated, without trailing empty strings */
};

/* What a reader accepts from a record (a file can hold anything): a record
 * past one of these is skipped and counted as bad before anything is
 * allocated from it, so one record cannot make `report` allocate more than
 * a few times its limit. The recorder keeps its own records within them. */
#define FL_META_MAX_COMMAND_BYTES (2u << 20)  /* FL_META_COMMAND data (Linux's usual ARG_MAX) */
#define FL_META_MAX_COMMAND_ARGS  65536u      /* NUL-separated arguments in it */
#define FL_META_MAX_SMAPS_BYTES   (32u << 20) /* FL_META_SMAPS text */
#define FL_META_MAX_MAPS_BYTES    (32u << 20) /* FL_META_MAPS text */
#define FL_META_MAX_MAPS_LINES    262144u     /* lines in it (vm.max_map_count is 65530 by default) */
#define FL_META_MAX_PATH_BYTES    4096u       /* FL_META_ALLOCATOR, FL_META_BUILD_ID data */
/* Lines carried over from older maps sets when a process's maps are merged
 * (callsites.c), over the whole report: past it each set is its record's
 * own lines, so merging costs at most this much beyond the input's size. */
#define FL_MAPS_MERGE_BUDGET_LINES (1u << 20)
/* The stack bytes an FL_EV_STACK record may carry (--stack-size is at most 16384). */
#define FL_MAX_STACK_BYTES        65536u
/* The stack copies the correlator holds at once, waiting for their records
 * (each thread's next event and call, its last whole stack, the pending
 * events' stacks): 8 KiB stacks of some 10000 threads at a time. */
#define FL_MAX_HELD_STACK_BYTES   (256ull << 20)

struct fl_meta {
	uint8_t type; /* FL_REC_META */
	uint8_t kind; /* enum fl_meta_kind */
	uint16_t pad;
	uint32_t tgid;
	uint64_t value;
	/* followed by data bytes, up to the record's length */
};

/* Is an FL_META_PROC record's data within the limits: a path of at most
 * FL_META_MAX_PATH_BYTES, a NUL, then a command within FL_META_MAX_COMMAND_*? */
static inline bool fl_meta_proc_ok(const char *data, size_t len)
{
	const char *nul = memchr(data, 0, len < FL_META_MAX_PATH_BYTES + 1 ? len : FL_META_MAX_PATH_BYTES + 1);
	size_t args = 0;

	if (!nul || len - (size_t)(nul + 1 - data) > FL_META_MAX_COMMAND_BYTES)
		return false;
	for (const char *p = nul + 1, *end = data + len; p < end; p += strnlen(p, end - p) + 1)
		if (++args > FL_META_MAX_COMMAND_ARGS)
			return false;
	return true;
}

/* Is maps text within FL_META_MAX_MAPS_BYTES and FL_META_MAX_MAPS_LINES? */
static inline bool fl_meta_maps_ok(const char *text, size_t len)
{
	size_t lines = 0;

	if (len > FL_META_MAX_MAPS_BYTES)
		return false;
	for (const char *p = text, *end = text + len; p < end && (p = memchr(p, '\n', end - p)); p++)
		if (++lines > FL_META_MAX_MAPS_LINES)
			return false;
	return true;
}

#endif
