/* faultline.h - the one contract between bpf/ and user/: event layout and enums.
 *
 * Every record the kernel writes into the ring buffer starts with struct fl_hdr.
 * The same bytes are stored (compressed) in the trace file, so a change here
 * must bump FL_EVENT_ABI. Fixed-size, plain integer fields, no pointers.
 */
#ifndef FAULTLINE_H
#define FAULTLINE_H

#ifdef __VMLINUX_H__
typedef __u64 fl_u64;
typedef __s64 fl_s64;
#else
#include <stdint.h>
#include <linux/types.h>
typedef uint64_t fl_u64; /* so userspace prints them with PRIu64 */
typedef int64_t fl_s64;
#endif

#define FL_EVENT_ABI 1

/* enum fl_func, the allocator entry points: fl_funcs.h, one table line each. */
#include "fl_funcs.h"

/* Memory syscalls, in the order of the JSON "syscalls" object. */
enum fl_sys {
	FL_SYS_BRK = 0,
	FL_SYS_MMAP,
	FL_SYS_MUNMAP,
	FL_SYS_MREMAP,
	FL_SYS_MPROTECT,
	FL_SYS_MADVISE,
	FL_NSYS,
};

#ifndef __bpf__
/* Their names, in that order. */
static const char *const fl_sys_names[FL_NSYS] = { "brk", "mmap", "munmap", "mremap", "mprotect", "madvise" };

/* A syscall's return value that is an error (-4095..-1). */
static inline int fl_syscall_failed(fl_s64 ret)
{
	return ret < 0 && ret > -4096;
}
#endif

enum fl_ev_type {
	FL_EV_CALL = 1,    /* an allocator call returned (free: entered and returned) */
	FL_EV_SYSCALL = 2, /* a memory syscall returned */
	FL_EV_FAULT = 3,   /* a page fault on a user address */
	FL_EV_PROC = 4,    /* exec, fork, exit */
	FL_EV_REASON = 5,  /* an allocator's own account of a decision (refalloc's USDT probes) */
	FL_EV_STACK = 6,   /* the user stack of the thread's next record (--stacks); variable size */
};

/* fl_hdr.flags */
#define FL_F_IN_CALL 0x1     /* an allocator call was in flight on this thread */
#define FL_F_NESTED 0x2      /* FL_EV_CALL: made from inside another allocator call */
#define FL_F_FAULT_WRITE 0x4 /* FL_EV_FAULT: write access */
#define FL_F_FAULT_KERNEL 0x8 /* FL_EV_FAULT: taken in kernel mode (e.g. read() into a buffer) */
#define FL_F_FAULT_PRESENT 0x10 /* FL_EV_FAULT: page was present (protection fault, not first touch) */
#define FL_F_AT_ENTRY 0x20    /* FL_EV_CALL: written at entry (free, which has no return probe): the
				 syscalls and faults tagged with it come after, until the thread's
				 next untagged event or call */
#define FL_F_IN_FREE 0x40     /* FL_EV_CALL with FL_F_NESTED: made inside a free-like call written at
				 its entry (operator delete calling free), not inside one that
				 returns */

/* The BPF attach cookie of an entry program's uprobe: 0, the table's C
 * arguments are in their ABI registers (fl_funcs.h's A0..A2); else
 * FL_ARGMAP_ON and, for each slot a0..a2, the x86 register number + 1
 * (0 rax .. 7 rdi, 8 r8 .. 15 r15; 0 in the field: the slot is 0) that holds
 * it where the probe sits (a probe placed past register moves: placement.c). */
#define FL_ARGMAP_ON (1u << 15)
#define FL_ARGMAP_BITS 5
#define FL_ARGMAP_MASK 0x1fu
#define FL_ARGMAP_SLOT(slot, reg) ((unsigned)((reg) + 1) << ((slot) * FL_ARGMAP_BITS))

#define FL_F_FAULT_TRACER 0x80 /* FL_EV_FAULT: on the kernel's [uprobes] page of the process (the
				 tracer's: its single-step slots and return trampoline); the bit
				 is FL_F_ALLOC_THREAD's, which only syscall records carry */
#define FL_F_ALLOC_THREAD 0x80 /* FL_EV_SYSCALL outside any call: made by a thread the allocator owns
				 (named as its background threads are: FL_ALLOC_THREAD_NAME) */
#define FL_F_THREAD_CACHE 0x200 /* reserved (FL_EV_CALL, free): glibc's freeing of its per-thread cache
				   at thread exit (tcache_thread_shutdown); no probe sets it yet: the
				   correlator tells those frees by place (a thread's last calls) */

/* The name (comm) an allocator gives its own background threads, which the
 * BPF side matches on a syscall made outside any call: jemalloc's purging
 * threads (MALLOC_CONF=background_thread:true); mimalloc and tcmalloc
 * (minimal) start none. */
#define FL_ALLOC_THREAD_NAME "jemalloc_bg_thd"


struct fl_hdr {
	__u8 type;   /* enum fl_ev_type */
	__u8 func;   /* FL_EV_CALL: enum fl_func; others: func of the call in flight or FL_FUNC_NONE */
	__u16 flags; /* FL_F_* */
	__u32 tid;
	__u32 tgid;
	__u32 cpu;
	fl_u64 ts;    /* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
};

/* FL_EV_CALL. a0..a2 hold the arguments fl_funcs.h's table names for h.func
 * (a0 the size or element count, a1 the alignment or element size, a2 the
 * pointer passed in). ret is the returned pointer (posix_memalign: *memptr on
 * success, 0 on error); free-like calls have none. ts is the entry time. */
struct fl_ev_call {
	struct fl_hdr h;
	fl_u64 a0, a1, a2;
	fl_u64 ret;
	fl_u64 ts_ret;
};

/* FL_EV_SYSCALL: h.func is the call in flight (with FL_F_IN_CALL), sys an enum fl_sys. */
struct fl_ev_syscall {
	struct fl_hdr h;
	__u32 sys;
	__u32 pad;
	fl_u64 args[5]; /* brk: addr; mmap: addr len prot flags fd; munmap: addr len;
			   mremap: old len new_len flags new_addr; mprotect/madvise: addr len arg */
	fl_s64 ret;
};

/* FL_EV_FAULT */
struct fl_ev_fault {
	struct fl_hdr h;
	fl_u64 addr;
	fl_u64 ip;
};

enum fl_proc_kind { FL_PROC_EXEC = 1, FL_PROC_FORK = 2, FL_PROC_EXIT = 3 };

/* FL_EV_PROC: exec (tgid now runs a new image), fork (child), thread/process exit. */
struct fl_ev_proc {
	struct fl_hdr h;
	__u32 kind;
	__u32 child;      /* fork: child pid */
	__s32 exit_code;  /* exit: task->exit_code */
	__u32 pad;
};

/* FL_EV_REASON: what the allocator decided, tagged like a syscall. */
enum fl_reason {
	FL_R_HEAP_GROW = 1,    /* a0 old end, a1 new end, a2 bytes asked for */
	FL_R_HEAP_TRIM = 2,    /* a0 old end, a1 new end */
	FL_R_HEAP_MADVISE = 3, /* a0 address, a1 length */
	FL_R_FREELIST_MISS = 4,/* a0 bytes asked for, a1 size class */
	FL_R_BLOCK_MMAP = 5,   /* a0 block, a1 mapping, a2 length */
	FL_R_BLOCK_MUNMAP = 6, /* a0 block, a1 mapping, a2 length */
	FL_R_BLOCK_MREMAP = 7, /* a0 old block, a1 new block, a2 new mapping, a3 old length, a4 new length */
	FL_NREASON,
};

struct fl_ev_reason {
	struct fl_hdr h;
	__u32 kind;
	__u32 pad;
	fl_u64 a[5];
};

/* FL_EV_STACK: a copy of the user stack, written just before the record it
 * belongs to, on the same thread: */
enum fl_stack_for {
	FL_STACK_FOR_EVENT = 1, /* the thread's next syscall or fault record */
	FL_STACK_FOR_CALL = 2,  /* the thread's next outermost call record (--stacks=all) */
};
/* In fl_ev_stack.kind with FL_STACK_FOR_EVENT: no bytes follow; the stack
 * is the thread's previous full FL_STACK_FOR_EVENT one (taken at the same
 * ip and sp, with the same 32 bytes at sp: a loop touching page after page). */
#define FL_STACK_REPEAT 0x100
/* In fl_ev_stack.kind with FL_STACK_FOR_CALL: the bytes that follow are the
 * call's return addresses (u64 each, innermost first), already unwound (the
 * preload path's library does it); ip is the allocator's frame, sp and bp 0.
 * With FL_STACK_REPEAT too: no bytes follow, and ip is the fl_ips_hash of
 * the stack repeated, one of the thread's earlier FL_STACK_IPS stacks: the
 * last whose hash % FL_STACK_IPS_CACHE is the same (a call from the same
 * place as one of the last few). */
#define FL_STACK_IPS 0x200
#define FL_STACK_IPS_CACHE 8

/* The hash of a stack's n addresses (ip first, then the return addresses):
 * fl_ips_hash_start(n), then fl_ips_hash_step for each address in order. */
static inline fl_u64 fl_ips_hash_start(unsigned n)
{
	return 0x9e3779b97f4a7c15ull ^ n;
}

static inline fl_u64 fl_ips_hash_step(fl_u64 h, fl_u64 ip)
{
	h ^= ip;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

static inline fl_u64 fl_ips_hash(const fl_u64 *ips, unsigned n)
{
	fl_u64 h = fl_ips_hash_start(n);

	for (unsigned i = 0; i < n; i++)
		h = fl_ips_hash_step(h, ips[i]);
	return h;
}

/* What --stacks captures (BPF rodata stack_mode). */
enum fl_stack_mode {
	FL_STACKS_OFF = 0,
	FL_STACKS_EVENTS = 1, /* each memory syscall and first-touch fault */
	FL_STACKS_ALL = 2,    /* and each outermost allocator call (sampled) */
};

#define FL_STACK_DEFAULT 8192
/* Most stack bytes one record carries (perf's dwarf mode copies 8 KiB by default). */
#define FL_STACK_MAX 16384

struct fl_ev_stack {
	struct fl_hdr h; /* func and flags: the tag of the record it belongs to */
	__u32 len;       /* bytes of user stack that follow, copied from sp upward */
	__u32 kind;      /* enum fl_stack_for */
	fl_u64 ip, sp, bp; /* the user registers the unwinder starts from */
	/* followed by len bytes */
};

/* The size of a fixed-size record of the given type, 0 for an unknown type
 * (and for FL_EV_STACK, whose size is sizeof(struct fl_ev_stack) + len). */
static inline unsigned long fl_event_size(unsigned type)
{
	switch (type) {
	case FL_EV_CALL: return sizeof(struct fl_ev_call);
	case FL_EV_SYSCALL: return sizeof(struct fl_ev_syscall);
	case FL_EV_FAULT: return sizeof(struct fl_ev_fault);
	case FL_EV_PROC: return sizeof(struct fl_ev_proc);
	case FL_EV_REASON: return sizeof(struct fl_ev_reason);
	default: return 0;
	}
}

/* Largest record, for buffers. */
#define FL_EV_MAX_SIZE (sizeof(struct fl_ev_syscall))

/* Value of the BPF "targets" map: tgid -> state. */
#define FL_TARGET_PENDING 1 /* armed at its next execve */
#define FL_TARGET_ACTIVE 2

/* Indexes of the BPF "counters" per-CPU array. */
enum fl_counter {
	FL_CNT_LOST = 0,      /* ring buffer reservation failed */
	FL_CNT_DEPTH_OVF = 1, /* allocator call nesting deeper than tracked */
	/* counted in the kernel instead of streamed (count_only: stat --no-calls) */
	FL_CNT_SYSCALL = 2,   /* + enum fl_sys */
	FL_CNT_FAULTS = FL_CNT_SYSCALL + FL_NSYS,
	FL_CNT_FAULTS_KERNEL,
	FL_CNT_FIRST_TOUCH,
	FL_CNT_STACKS_SKIPPED, /* --stacks: a stack not taken, the ring buffer being over half full (the
				  preload path adds its own: fl_preload.h's stacks_skipped) */
	FL_NCOUNTERS,
};

#endif
