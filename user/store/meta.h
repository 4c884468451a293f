/* meta.h - the non-event records of a trace file: what `report` needs besides
 * the kernel's events (command, target, allocator, memory maps, exit, losses).
 * A record whose first byte is FL_REC_META is one of these; any other first
 * byte is a kernel event (include/faultline.h). */
#ifndef FL_META_H
#define FL_META_H

#include <stdint.h>

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
	FL_META_PROBES = 12,   /* tgid; data: byte pairs (func, probe) for each entry point probed in
				  the allocator object named by the FL_META_ALLOCATOR just before:
				  probe is the entry whose probe it shares (its calls are counted
				  as that one's), itself when it has its own */
};

struct fl_meta {
	uint8_t type; /* FL_REC_META */
	uint8_t kind; /* enum fl_meta_kind */
	uint16_t pad;
	uint32_t tgid;
	uint64_t value;
	/* followed by data bytes, up to the record's length */
};

#endif
