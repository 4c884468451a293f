/* fl_preload.h - the contract between preload/ (libfaultline-preload.so, in
 * the traced program), bpf/ and user/capture/preload.c (the collector in
 * faultline): the shared-memory layout, the record the library writes per
 * allocator call (and the slots of a call's stack, --stacks=all), the
 * thread-local slot the kernel reads, and how the library registers.
 * Versioned: a library and a faultline of different
 * FL_PRELOAD_VERSION do not talk (the library then records nothing).
 *
 * The memory is a memfd faultline creates and the command inherits at its
 * execve (its number in FAULTLINE_PRELOAD_FD). It holds a header and
 * FL_PRELOAD_NBUF single-producer rings, one per thread: the thread writes
 * records and advances head, the collector reads them and advances tail.
 * A full ring makes the thread wait for the collector (lossless; with
 * lossy set, --lossy, it drops the call and counts it unrecorded); a
 * collector that stops beating (heartbeat) makes every thread stop
 * recording (stopped) and the program runs on untraced. */
#ifndef FL_PRELOAD_H
#define FL_PRELOAD_H

#ifdef __VMLINUX_H__
typedef __u64 flp_u64;
typedef __u32 flp_u32;
#else
#include <stdint.h>
typedef uint64_t flp_u64;
typedef uint32_t flp_u32;
#endif

#define FL_PRELOAD_VERSION 5
#define FL_PRELOAD_MAGIC 0x31444c5052504c46ull /* "FLPRPLD1" */
#define FL_PRELOAD_ENV_FD_NAME "FAULTLINE_PRELOAD_FD"

/* The registration: prctl(FL_PRELOAD_PRCTL, tls_offset, 0, 0, 0), which the
 * kernel refuses (EINVAL) and the sys_enter program sees. tls_offset: where
 * the thread's struct fl_preload_slot lies from the thread pointer (fsbase),
 * the same in every thread of the process (static TLS). Made once per
 * process image, again in a forked child. */
#define FL_PRELOAD_PRCTL 0x464c5052u

/* The slot the kernel reads at each memory syscall and page fault (8 bytes,
 * written with one store): calls completed on the thread (= records written,
 * the position of the kernel's event in the thread's call stream), and the
 * outermost call in flight. */
#define FL_PRELOAD_SLOT_DONE(v) ((flp_u32)(v))
#define FL_PRELOAD_SLOT_FUNC(v) ((unsigned)((v) >> 32) & 0xff)
#define FL_PRELOAD_SLOT_IN_CALL(v) (((v) >> 40) & 1)
#define FL_PRELOAD_SLOT(done, func, in_call) \
	((flp_u64)(flp_u32)(done) | (flp_u64)((func) & 0xff) << 32 | (flp_u64)((in_call) ? 1 : 0) << 40)

/* The slot's func while the library works for itself (loading its unwinder,
 * unwinding a stack): the collector drops the kernel's records made then
 * (the unwinder's mappings, its first touches of the objects' unwind
 * tables), which the uprobe path does not have. */
#define FL_PRELOAD_OWN 0xfe

/* fl_hdr.flags on a syscall, fault or stack record: h.cpu holds the slot's
 * done count (the collector moves the record into place and clears both). */
#define FL_F_PRELOAD 0x100

#define FL_PRELOAD_NBUF 256        /* threads recording at once */
#define FL_PRELOAD_RECS 32768      /* records per ring (a power of two) */

/* One allocator call, as the uprobe path's struct fl_ev_call holds it. */
struct fl_preload_rec {
	unsigned char func;  /* enum fl_func */
	unsigned char pad;
	unsigned short flags; /* FL_F_NESTED, FL_F_AT_ENTRY, FL_F_IN_FREE */
	flp_u32 pad2;
	flp_u64 ts, ts_ret;  /* the time stamp counter (rdtsc) at entry and at the record's write: the
				collector turns it into CLOCK_MONOTONIC ns (3x cheaper than the vDSO) */
	flp_u64 a0, a1, a2, ret;
};

/* --stacks=all: an outermost call's stack (the return addresses the library's
 * unwinder found, libunwind's unw_backtrace, from the hook's own frame
 * outward) goes in the slots just before the call's record, written and
 * counted with it (the slot's done count never falls between them): a head
 * slot whose func is FL_PRELOAD_STACK, pad the number n of addresses, ts and
 * ts_ret the call's, a0..ret the first four; then FL_PRELOAD_STACK_PER_SLOT
 * more in each of the next fl_preload_stack_slots(n) - 1 slots (all their
 * bytes: address k of slot i is FL_PRELOAD_STACK_AT(i, k)). n = 0: the
 * head slot alone, a0 the fl_ips_hash of an earlier stack of the thread
 * repeated (faultline.h, FL_STACK_REPEAT). */
#define FL_PRELOAD_STACK 0xff
#define FL_PRELOAD_STACK_FRAMES 64 /* addresses at most (report's call sites use as many) */

#define FL_PRELOAD_STACK_PER_SLOT (sizeof(struct fl_preload_rec) / 8) /* 7 */
_Static_assert(sizeof(struct fl_preload_rec) % 8 == 0, "a stack slot is whole addresses");
#define FL_PRELOAD_STACK_AT(i, k) (4 + FL_PRELOAD_STACK_PER_SLOT * ((i) - 1) + (k))

static inline unsigned fl_preload_stack_slots(unsigned n)
{
	return n <= 4 ? 1 : 1 + (unsigned)((n - 4 + FL_PRELOAD_STACK_PER_SLOT - 1) / FL_PRELOAD_STACK_PER_SLOT);
}
#define FL_PRELOAD_STACK_SLOTS_MAX \
	(1 + (FL_PRELOAD_STACK_FRAMES - 4 + FL_PRELOAD_STACK_PER_SLOT - 1) / FL_PRELOAD_STACK_PER_SLOT)

enum fl_preload_buf_state { FL_PRELOAD_FREE = 0, FL_PRELOAD_OWNED = 1 };

struct fl_preload_buf {
	flp_u32 state;  /* FL_PRELOAD_FREE or OWNED (claimed by compare-and-swap) */
	flp_u32 tid, tgid;
	flp_u32 pad;
	flp_u64 claim_ts; /* CLOCK_MONOTONIC ns of the claim (an exit or exec seen before it is not its thread's) */
	flp_u64 head __attribute__((aligned(64))); /* records written (the thread's) */
	flp_u64 tail __attribute__((aligned(64))); /* records read (the collector's) */
	struct fl_preload_rec rec[FL_PRELOAD_RECS] __attribute__((aligned(64)));
};

struct fl_preload_shm {
	flp_u64 magic;
	flp_u32 version, nbuf, recs, size_rec;
	flp_u64 heartbeat;     /* the collector's CLOCK_MONOTONIC ns, renewed at every poll */
	flp_u32 collector_pid;
	flp_u32 stopped;       /* set by a library that found the collector gone: no more records */
	flp_u64 waits;         /* times a thread waited for room in its ring */
	flp_u64 wait_ns;       /* how long, in all */
	flp_u64 unrecorded;    /* calls not recorded (no free ring, reentered from a signal handler, a full
				  ring with lossy) */
	flp_u64 size;          /* bytes of the whole mapping */
	flp_u32 wake_fd;       /* an eventfd (inherited, as the memfd): a ring half full or full wakes
				  the collector by writing it */
	flp_u32 stack_sample;  /* 0: no call stacks; N: the stack of one outermost call in N per thread
				  (--stacks=all, --sample) */
	flp_u64 no_stack;      /* call stacks not taken (the library's unwinder could not be loaded) */
	flp_u32 lossy;         /* --lossy: a full ring drops the call (counted in unrecorded), no wait */
	flp_u32 pad;
	flp_u64 stacks_skipped; /* --stacks=all: calls written without their stack (made while another
				   thread forked, or the unwinder found no frame) */
	struct fl_preload_buf buf[FL_PRELOAD_NBUF] __attribute__((aligned(4096)));
};

/* The collector's silence after which a waiting thread gives up (ns). */
#define FL_PRELOAD_DEAD_NS 2000000000ull

#endif
