// SPDX-License-Identifier: GPL-2.0
/* faultline.bpf.c - what the kernel records for faultline.
 *
 * Its hooks, all filtered to the traced processes (map "targets"):
 *  - uprobes/uretprobes on the allocator's entry points (one program per line
 *    of fl_funcs.h's table; refalloc's USDT probes instead where it is the
 *    allocator): a per-thread stack of calls in flight; one FL_EV_CALL record
 *    when a call returns (free-like calls: at their entry);
 *  - the raw syscall tracepoints, for brk, mmap, munmap, mremap, mprotect,
 *    madvise: arguments kept at entry, one FL_EV_SYSCALL record at exit;
 *  - page_fault_user / page_fault_kernel (tp_btf): one FL_EV_FAULT record;
 *  - sched_process_exec/fork/exit (tp_btf): FL_EV_PROC, and the arming of a
 *    command held before its execve;
 *  - with --stacks, an FL_EV_STACK copy of the user stack before a record.
 * Syscall and fault records are tagged with the outermost allocator call in
 * flight on the thread (FL_F_IN_CALL and h.func), the one fact only the kernel
 * knows. Everything else (attribution, regions, sizes) is done in userspace.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "faultline.h"
#include "fl_preload.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool follow_forks = false;
/* uprobes attached for the target's pid only: the kernel filters them by
 * address space, so their programs need not look the process up */
const volatile bool uprobes_per_pid = false;
/* count syscalls and faults in per-CPU counters, stream no event for them */
const volatile bool count_only = false;
/* set by userspace once every probe is in place (uprobes_per_pid): a call
 * entered while the return probes were still being attached is not followed */
volatile bool armed = false;
/* the most data seen waiting in the ring buffer (for -v: how close it came to losing events) */
__u64 ring_peak = 0;
/* wake the consumer only once this much data waits (it polls anyway) */
const volatile __u64 wakeup_bytes = 256 * 1024;
/* --stacks: 0 off; 1 the user stack of each memory syscall and first-touch
 * fault; 2 also of outermost allocator calls, one in stack_sample per thread */
const volatile __u32 stack_mode = 0;
const volatile __u32 stack_sample = 1;
const volatile __u32 stack_bytes = 8192; /* at most FL_STACK_MAX */
/* --probes preload: calls are recorded in the process (libfaultline-preload.so);
 * syscall and fault records carry the thread's slot (fl_preload.h) */
const volatile bool preload = false;

#define MAX_DEPTH 4
#define USER_ADDR_MAX 0x00007ffffffff000ULL

struct frame {
	__u64 ts, a0, a1, a2;
	__u64 sp;     /* user stack pointer at entry */
	__u64 ra;     /* the return address at sp, before the return probe replaces it */
	__u8 func;
	__u8 in_free; /* frames[0] only: entered inside the free-like call in flight (free_sp) */
};

struct thread_state {
	struct frame frames[MAX_DEPTH];
	__u32 depth;      /* calls in flight, may exceed MAX_DEPTH */
	__u32 sys;        /* syscall in flight, valid when in_sys */
	__u32 in_sys;
	__u64 sargs[5];
	/* free has no return probe: it is in flight while the stack is below its
	 * entry's and its return address is still in the slot it was called with */
	__u64 free_sp, free_ra;
	__u32 free_open;
	__u32 free_func;  /* which free-like entry point is in flight */
	__u32 calls_unsampled; /* outermost calls since the last one whose stack was taken */
	__u64 stack_lo, stack_hi; /* the thread's stack mapping, as last looked up (bpf_find_vma is dear) */
	/* the last event stack sent whole: its ip, sp and first words (FL_STACK_REPEAT) */
	__u64 last_ip, last_sp, last_top[4];
	__u32 last_valid;
};

/* A stack record is built here (too big for the BPF stack), then copied out. */
struct stack_buf {
	struct fl_ev_stack e;
	__u8 data[FL_STACK_MAX + 4096]; /* slack: the verifier sees each copy bounded by a page */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_buf);
} stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* FL_TARGET_* */
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} tstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FL_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* --probes preload: tgid -> where the library's slot lies from the thread pointer */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} preload_slot SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline bool is_target(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *st = bpf_map_lookup_elem(&targets, &tgid);

	return st && *st == FL_TARGET_ACTIVE;
}

static __always_inline bool uprobe_target(void)
{
	return uprobes_per_pid ? armed : is_target();
}

static __always_inline struct thread_state *thread_state(bool create)
{
	return bpf_task_storage_get(&tstate, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void *reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count(FL_CNT_LOST);
	return rec;
}

/* The wakeup flag for a record sent while avail bytes wait in the ring (the
 * peak fill raised on the way). */
static __always_inline __u64 wakeup_flags(__u64 avail)
{
	if (avail > ring_peak)
		ring_peak = avail;
	return avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *rec)
{
	bpf_ringbuf_submit(rec, wakeup_flags(bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA)));
}

static __always_inline void fill_hdr_at(struct fl_hdr *h, __u8 type, __u8 func, __u16 flags, __u64 ts)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->func = func;
	h->flags = flags;
	h->tid = (__u32)id;
	h->tgid = id >> 32;
	h->cpu = bpf_get_smp_processor_id();
	h->ts = ts;
}

static __always_inline void fill_hdr(struct fl_hdr *h, __u8 type, __u8 func, __u16 flags)
{
	fill_hdr_at(h, type, func, flags, bpf_ktime_get_ns());
}

/* --probes preload: the thread's calls completed (in h.cpu, FL_F_PRELOAD) and
 * the outermost call in flight, read from the library's thread-local slot. */
static __always_inline void preload_tag(struct fl_hdr *h)
{
	struct task_struct *task;
	__u32 tgid;
	__u64 *off, v = 0, fs;

	if (!preload)
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	off = bpf_map_lookup_elem(&preload_slot, &tgid);
	if (!off)
		return;
	task = bpf_get_current_task_btf();
	fs = BPF_CORE_READ(task, thread.fsbase);
	if (!fs || bpf_probe_read_user(&v, sizeof(v), (void *)(fs + *off)))
		return;
	h->cpu = FL_PRELOAD_SLOT_DONE(v);
	h->flags |= FL_F_PRELOAD;
	if (FL_PRELOAD_SLOT_IN_CALL(v)) {
		h->func = FL_PRELOAD_SLOT_FUNC(v);
		h->flags |= FL_F_IN_CALL;
	}
}

/* prctl(FL_PRELOAD_PRCTL, offset): the library of a traced process says where its slot is. */
static __always_inline void preload_register(struct pt_regs *regs)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 off;

	if (BPF_CORE_READ(regs, di) != FL_PRELOAD_PRCTL || !is_target())
		return;
	off = BPF_CORE_READ(regs, si);
	bpf_map_update_elem(&preload_slot, &tgid, &off, BPF_ANY);
}

static __always_inline void preload_forget(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (preload)
		bpf_map_delete_elem(&preload_slot, &tgid);
}

/* ---- user stacks (--stacks) ----------------------------------------------- */

/* Set on a CPU while it copies a user stack: a copy that runs past the top
 * of the stack takes a fault (fixed up, nothing mapped), which is ours, not
 * the program's, and must not be recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} copying_stack SEC(".maps");

static __always_inline __u32 *copy_flag(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&copying_stack, &zero);
}

struct vma_range {
	__u64 start, end;
};

static long vma_range_of(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	((struct vma_range *)data)->start = vma->vm_start;
	((struct vma_range *)data)->end = vma->vm_end;
	return 0;
}

/* The end of the mapping that holds sp: remembered per thread, looked up
 * again only when sp leaves the range seen last (a main stack that grew
 * down, another stack); 0 if unknown. */
static __always_inline __u64 stack_end(struct thread_state *ts, __u64 sp)
{
	struct vma_range r = { 0, 0 };

	if (ts && sp >= ts->stack_lo && sp < ts->stack_hi)
		return ts->stack_hi;
	if (bpf_find_vma(bpf_get_current_task_btf(), sp, vma_range_of, &r, 0) || r.end <= sp)
		return 0;
	if (ts) {
		ts->stack_lo = r.start;
		ts->stack_hi = r.end;
	}
	return r.end;
}

/* Copies up to stack_bytes of user stack from sp upward, a page at a time,
 * and not past the end of the stack's mapping (a read there would fault). */
static __always_inline __u32 copy_user_stack(struct thread_state *ts, __u8 *dst, __u64 sp)
{
	__u32 got = 0, max = stack_bytes, *flag = copy_flag();
	__u64 end = stack_end(ts, sp);

	if (end > sp && end - sp < max)
		max = end - sp;

	if (flag)
		*flag = 1;
	for (int i = 0; i < FL_STACK_MAX / 4096 + 1; i++) {
		__u64 n = 4096 - ((sp + got) & 4095);

		if (got >= max || got >= FL_STACK_MAX)
			break;
		if (n > max - got)
			n = max - got;
		/* n is 1..4096 here; this says so by arithmetic alone, a bound the
		 * value keeps wherever clang spills it. (A mask and an `n > 4096`
		 * test do not do: the 6.1 verifier does not carry the branch's bound
		 * to a copy spilled between the two, and rejects the read.) */
		n -= 1;
		asm volatile("%0 &= 4095" : "+r"(n));
		n += 1;
		if (bpf_probe_read_user(dst + got, n, (void *)(sp + got)))
			break;
		got += n;
	}
	if (flag)
		*flag = 0;
	return got;
}

/* A return probe replaced the return address of each call in flight with
 * its trampoline's: the copy gets the real ones back, or unwinding would
 * stop at the allocator. */
static __always_inline void restore_return_addresses(struct stack_buf *b, struct thread_state *ts, __u64 sp,
						     __u32 got)
{
	for (int i = 0; i < MAX_DEPTH; i++) {
		__u64 off;

		if (!ts || i >= ts->depth)
			break;
		off = ts->frames[i].sp - sp;
		if (off + 8 > got || !ts->frames[i].ra)
			continue;
		asm volatile("%0 &= 0x3fff" : "+r"(off));
		*(__u64 *)(b->data + off) = ts->frames[i].ra;
	}
}

/* An event stack taken again where the thread's last whole one was (same
 * ip, sp and top 32 bytes: the return address of a leaf such as memset
 * among them): a short FL_STACK_REPEAT record says so. True if sent. */
static __always_inline bool emit_repeat(struct thread_state *ts, __u8 func, __u16 flags, __u64 ip, __u64 sp,
					__u64 top[4])
{
	struct fl_ev_stack *e;

	if (!ts || !ts->last_valid || ts->last_ip != ip || ts->last_sp != sp || ts->last_top[0] != top[0] ||
	    ts->last_top[1] != top[1] || ts->last_top[2] != top[2] || ts->last_top[3] != top[3])
		return false;
	e = reserve(sizeof(*e));
	if (!e)
		return true; /* counted lost */
	fill_hdr(&e->h, FL_EV_STACK, func, flags);
	preload_tag(&e->h);
	e->len = 0;
	e->kind = FL_STACK_FOR_EVENT | FL_STACK_REPEAT;
	e->ip = ip;
	e->sp = sp;
	e->bp = 0;
	submit(e);
	return true;
}

/* One FL_EV_STACK record for the thread's next record of the given kind. */
static __always_inline void emit_stack(struct thread_state *ts, __u32 kind, __u8 func, __u16 flags, __u64 ip,
				       __u64 sp, __u64 bp)
{
	__u32 zero = 0, got;
	struct stack_buf *b = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u64 avail, top[4] = { 0, 0, 0, 0 };

	if (!b)
		return;
	if (kind == FL_STACK_FOR_EVENT) {
		bpf_probe_read_user(top, sizeof(top), (void *)sp);
		if (emit_repeat(ts, func, flags, ip, sp, top))
			return;
		if (ts)
			ts->last_valid = 0; /* until this one is sent whole */
	}
	/* a stack is worth less than the events: past half full, the ring keeps its room for them */
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 2) {
		count(FL_CNT_STACKS_SKIPPED);
		return;
	}
	fill_hdr(&b->e.h, FL_EV_STACK, func, flags);
	preload_tag(&b->e.h);
	b->e.kind = kind;
	b->e.ip = ip;
	b->e.sp = sp;
	b->e.bp = bp;
	got = copy_user_stack(ts, b->data, sp);
	if (got > FL_STACK_MAX)
		return;
	b->e.len = got;
	restore_return_addresses(b, ts, sp, got);
	if (bpf_ringbuf_output(&events, b, sizeof(b->e) + got, wakeup_flags(avail))) {
		count(FL_CNT_LOST);
		return;
	}
	if (kind == FL_STACK_FOR_EVENT && ts) {
		ts->last_ip = ip;
		ts->last_sp = sp;
		__builtin_memcpy(ts->last_top, top, sizeof(top));
		ts->last_valid = 1;
	}
}

static __always_inline void emit_stack_of(struct thread_state *ts, __u32 kind, __u8 func, __u16 flags,
					  struct pt_regs *uregs)
{
	emit_stack(ts, kind, func, flags, BPF_CORE_READ(uregs, ip), BPF_CORE_READ(uregs, sp),
		   BPF_CORE_READ(uregs, bp));
}

/* --stacks=all: is this outermost call's stack to be taken? */
static __always_inline bool call_sampled(struct thread_state *ts)
{
	if (stack_mode < 2)
		return false;
	if (++ts->calls_unsampled < stack_sample)
		return false;
	ts->calls_unsampled = 0;
	return true;
}

/* Is the free entered at free_sp still running, seen from user stack pointer sp? */
static __always_inline bool free_in_flight(struct thread_state *ts, __u64 sp)
{
	__u64 ra = 0;

	if (!ts->free_open)
		return false;
	if (sp <= ts->free_sp && !bpf_probe_read_user(&ra, sizeof(ra), (void *)ts->free_sp) &&
	    ra == ts->free_ra)
		return true;
	ts->free_open = 0; /* it returned */
	return false;
}

static __always_inline __u64 user_sp(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, sp);
}

/* The outermost call in flight, for tagging syscalls and faults. uregs: the
 * thread's user registers, or NULL to look them up; the stack pointer is read
 * only when a free may be in flight. */
static __always_inline void tag_of(struct thread_state *ts, struct pt_regs *uregs, __u8 *func, __u16 *flags)
{
	*func = FL_FUNC_NONE;
	*flags = 0;
	if (ts && ts->depth > 0) {
		/* a call made inside a free-like one: the free is the outermost */
		*func = ts->frames[0].in_free ? ts->free_func : ts->frames[0].func;
		*flags = FL_F_IN_CALL;
	} else if (ts && ts->free_open &&
		   free_in_flight(ts, uregs ? BPF_CORE_READ(uregs, sp) : user_sp())) {
		*func = ts->free_func;
		*flags = FL_F_IN_CALL;
	}
}


/* ---- allocator calls ---------------------------------------------------- */

/* Calls on the thread's stack whose entry lies below sp have returned
 * unseen (a return probe lost, a longjmp out of the allocator): drop them.
 * An entry at the same sp is a tail call (reallocarray jumping to realloc):
 * kept. */
static __always_inline __u32 drop_returned_calls(struct thread_state *ts, __u64 sp)
{
	__u32 d = ts->depth;

	for (int i = 0; i < MAX_DEPTH; i++) {
		if (d == 0 || d > MAX_DEPTH || ts->frames[(d - 1) & (MAX_DEPTH - 1)].sp >= sp)
			break;
		d--;
		count(FL_CNT_DEPTH_OVF);
	}
	return d;
}

static __always_inline int call_enter(struct pt_regs *ctx, __u8 func, __u64 a0, __u64 a1, __u64 a2)
{
	struct thread_state *ts;
	__u64 sp = PT_REGS_SP(ctx);
	bool in_free;
	__u32 d;

	if (!uprobe_target())
		return 0;
	ts = thread_state(true);
	if (!ts)
		return 0;
	d = drop_returned_calls(ts, sp);
	/* a call made inside a free-like call still running (mimalloc's or
	 * jemalloc's free calling a probed function) is nested in it; any other
	 * new call means the free before it has returned */
	in_free = d == 0 && ts->free_open && free_in_flight(ts, sp);
	if (d == 0 && !in_free)
		ts->free_open = 0;
	asm volatile("" : "+r"(d)); /* keep the mask below for the verifier */
	if (d < MAX_DEPTH) {
		struct frame *f = &ts->frames[d & (MAX_DEPTH - 1)];

		f->ts = bpf_ktime_get_ns();
		f->sp = sp;
		f->func = func;
		f->in_free = in_free;
		f->a0 = a0;
		f->a1 = a1;
		f->a2 = a2;
		f->ra = 0;
		if (stack_mode)
			bpf_probe_read_user(&f->ra, sizeof(f->ra), (void *)sp);
	} else {
		count(FL_CNT_DEPTH_OVF);
	}
	ts->depth = d + 1;
	if (d == 0 && !in_free && call_sampled(ts))
		emit_stack(ts, FL_STACK_FOR_CALL, func, 0, PT_REGS_IP(ctx), sp, PT_REGS_FP(ctx));
	return 0;
}

/* Does func return its block through *a2 (posix_memalign), its return value
 * being a status? */
static __always_inline bool returns_via_memptr(__u8 func)
{
#define MEMPTR_CASE(id, call, variant, sym, kind, a0, a1, a2) \
	if (FL_KIND_##kind == FL_KIND_MEMPTR && func == FL_##id) \
		return true;
	FL_ENTRIES(MEMPTR_CASE)
	return false;
}

/* The call on top of the thread's stack returned ret. memptr_read: ret is
 * posix_memalign's status and the pointer is to be read from *memptr. */
static __always_inline int call_exit(__u64 ret, bool memptr_read)
{
	struct thread_state *ts;
	struct fl_ev_call *e;
	struct frame *f;
	__u32 d;

	if (!uprobe_target())
		return 0;
	ts = thread_state(false);
	if (!ts || ts->depth == 0)
		return 0;
	d = ts->depth - 1;
	ts->depth = d;
	if (d >= MAX_DEPTH)
		return 0;
	f = &ts->frames[d];
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr_at(&e->h, FL_EV_CALL, f->func,
		    d > 0 ? FL_F_NESTED : f->in_free ? FL_F_NESTED | FL_F_IN_FREE : 0, f->ts);
	e->a0 = f->a0;
	e->a1 = f->a1;
	e->a2 = f->a2;
	e->ret = ret;
	if (memptr_read && returns_via_memptr(f->func)) {
		__u64 p = 0;

		if (ret == 0)
			bpf_probe_read_user(&p, sizeof(p), (void *)f->a2);
		e->ret = p;
	}
	e->ts_ret = bpf_ktime_get_ns();
	submit(e);
	return 0;
}

/* Return probes and the free(NULL) path: BPF_KPROBE/BPF_KRETPROBE name the
 * registers of a uprobe as of a kprobe (libbpf 1.1 has no BPF_UPROBE). */
SEC("uretprobe")
int BPF_KRETPROBE(call_return, __u64 ret)
{
	return call_exit(ret, true);
}

/* free-like calls, on their entry alone (a return probe would cost about 2 µs
 * a call): one record now; what follows on the thread while free_in_flight()
 * holds is tagged with it. */
static __always_inline int free_enter(struct pt_regs *ctx, __u8 func, __u64 a0, __u64 a1, __u64 ptr)
{
	struct thread_state *ts;
	struct fl_ev_call *e;
	__u64 sp = PT_REGS_SP(ctx);
	bool nested, in_free;

	if (!uprobe_target())
		return 0;
	ts = thread_state(true);
	if (!ts)
		return 0;
	nested = ts->depth > 0;
	/* operator delete calling (or jumping to) free: inside the outer one. The
	 * same entry point again at the same stack pointer is the next call of a
	 * loop (free(p[i])), the last one having returned: a free-like call does
	 * not jump to itself. */
	in_free = !nested && ts->free_open && !(sp == ts->free_sp && func == ts->free_func) &&
		  free_in_flight(ts, sp);
	if (!nested && !in_free) {
		ts->free_open = 1;
		ts->free_func = func;
		ts->free_sp = sp;
		ts->free_ra = 0;
		bpf_probe_read_user(&ts->free_ra, sizeof(ts->free_ra), (void *)sp);
		if (call_sampled(ts))
			emit_stack(ts, FL_STACK_FOR_CALL, func, 0, PT_REGS_IP(ctx), sp, PT_REGS_FP(ctx));
	}
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->h, FL_EV_CALL, func,
		 FL_F_AT_ENTRY | (nested || in_free ? FL_F_NESTED : 0) | (in_free ? FL_F_IN_FREE : 0));
	e->a0 = a0;
	e->a1 = a1;
	e->ret = 0;
	e->a2 = ptr;
	e->ts_ret = e->h.ts;
	submit(e);
	return 0;
}

/* free(NULL)'s return path, when free's probes sit past its NULL test: the
 * whole call in one record. */
SEC("uprobe")
int BPF_KPROBE(free_null)
{
	struct thread_state *ts;
	struct fl_ev_call *e;
	__u16 flags = 0;

	if (!uprobe_target())
		return 0;
	ts = thread_state(false);
	/* inside a call, or inside a free-like call that jumped here (delete(NULL)) */
	if (ts && ts->depth > 0)
		flags = FL_F_NESTED;
	else if (ts && ts->free_open && free_in_flight(ts, PT_REGS_SP(ctx)))
		flags = FL_F_NESTED | FL_F_IN_FREE;
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->h, FL_EV_CALL, FL_FREE, flags);
	e->a0 = e->a1 = e->a2 = e->ret = 0;
	e->ts_ret = e->h.ts;
	submit(e);
	return 0;
}

/* Slots a0..a2 from the registers an FL_ARGMAP_* attach cookie names: the
 * registers copied by number (x86: 0 rax .. 7 rdi, 8 r8 .. 15 r15) to the
 * stack and read there (a switch over ctx fields is merged by clang into a
 * ctx access at a computed offset, which the verifier refuses). */
static __always_inline void mapped_args(struct pt_regs *ctx, __u64 map, __u64 v[3])
{
	__u64 r[17] = { 0, ctx->ax, ctx->cx, ctx->dx, ctx->bx, 0, ctx->bp, ctx->si, ctx->di,
			ctx->r8, ctx->r9, ctx->r10, ctx->r11, ctx->r12, ctx->r13, ctx->r14, ctx->r15 };

	for (int k = 0; k < 3; k++) {
		__u32 code = (map >> (k * FL_ARGMAP_BITS)) & FL_ARGMAP_MASK;

		v[k] = code <= 16 ? r[code] : 0;
	}
}

/* One entry program per line of fl_funcs.h's table, enter_<ID>: it stores the
 * C arguments the table names in a0..a2, from the registers its attach cookie
 * names when its probe sits past moves of them (placement.c), else from their
 * ABI registers. */
#define ARG_0(ctx) 0
#define ARG_1(ctx) PT_REGS_PARM1(ctx)
#define ARG_2(ctx) PT_REGS_PARM2(ctx)
#define ARG_3(ctx) PT_REGS_PARM3(ctx)
#define ARG_4(ctx) PT_REGS_PARM4(ctx)
#define ENTRY_PROGRAM(id, call, variant, sym, kind, a0, a1, a2)                                      \
	SEC("uprobe")                                                                       \
	int enter_##id(struct pt_regs *ctx)                                                 \
	{                                                                                   \
		__u64 map = bpf_get_attach_cookie(ctx);                                     \
		__u64 v[3] = { ARG_##a0(ctx), ARG_##a1(ctx), ARG_##a2(ctx) };               \
		if (map & FL_ARGMAP_ON)                                                     \
			mapped_args(ctx, map, v);                                           \
		if (FL_KIND_##kind == FL_KIND_FREE)                                         \
			return free_enter(ctx, FL_##id, v[0], v[1], v[2]);                  \
		return call_enter(ctx, FL_##id, v[0], v[1], v[2]);                          \
	}
FL_ENTRIES(ENTRY_PROGRAM)

/* ---- refalloc's USDT probes ----------------------------------------------
 * A 5-byte NOP at each probe site: the kernel turns the uprobe into a call,
 * no trap and no single-step. Entry and return probes replace the uprobes and
 * uretprobes; the decision probes say why a syscall was made. */

SEC("?usdt")
int BPF_USDT(ra_malloc_entry, __u64 size) { return call_enter(ctx, FL_MALLOC, size, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_malloc_return, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_free_entry, __u64 ptr) { return call_enter(ctx, FL_FREE, 0, 0, ptr); }
SEC("?usdt")
int BPF_USDT(ra_free_return, __u64 ptr) { return call_exit(0, false); }
SEC("?usdt")
int BPF_USDT(ra_calloc_entry, __u64 n, __u64 size) { return call_enter(ctx, FL_CALLOC, n, size, 0); }
SEC("?usdt")
int BPF_USDT(ra_calloc_return, __u64 n, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_realloc_entry, __u64 old, __u64 size) { return call_enter(ctx, FL_REALLOC, size, 0, old); }
SEC("?usdt")
int BPF_USDT(ra_realloc_return, __u64 old, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_reallocarray_entry, __u64 old, __u64 n, __u64 size)
{
	return call_enter(ctx, FL_REALLOCARRAY, n, size, old);
}
SEC("?usdt")
int BPF_USDT(ra_reallocarray_return, __u64 old, __u64 n, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_posix_memalign_entry, __u64 memptr, __u64 align, __u64 size)
{
	return call_enter(ctx, FL_POSIX_MEMALIGN, size, align, memptr);
}
SEC("?usdt")
int BPF_USDT(ra_posix_memalign_return, __u64 memptr, __u64 align, __u64 size, __u64 rc, __u64 p)
{
	return call_exit(rc == 0 ? p : 0, false);
}
SEC("?usdt")
int BPF_USDT(ra_aligned_alloc_entry, __u64 align, __u64 size) { return call_enter(ctx, FL_ALIGNED_ALLOC, size, align, 0); }
SEC("?usdt")
int BPF_USDT(ra_aligned_alloc_return, __u64 align, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_memalign_entry, __u64 align, __u64 size) { return call_enter(ctx, FL_MEMALIGN, size, align, 0); }
SEC("?usdt")
int BPF_USDT(ra_memalign_return, __u64 align, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_valloc_entry, __u64 size) { return call_enter(ctx, FL_VALLOC, size, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_valloc_return, __u64 size, __u64 p) { return call_exit(p, false); }
SEC("?usdt")
int BPF_USDT(ra_pvalloc_entry, __u64 size) { return call_enter(ctx, FL_PVALLOC, size, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_pvalloc_return, __u64 size, __u64 p) { return call_exit(p, false); }

static __always_inline int reason(__u32 kind, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	struct fl_ev_reason *e;
	__u16 flags;
	__u8 func;

	if (!uprobe_target())
		return 0;
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	tag_of(thread_state(false), NULL, &func, &flags);
	fill_hdr(&e->h, FL_EV_REASON, func, flags);
	e->kind = kind;
	e->pad = 0;
	e->a[0] = a0;
	e->a[1] = a1;
	e->a[2] = a2;
	e->a[3] = a3;
	e->a[4] = a4;
	submit(e);
	return 0;
}

SEC("?usdt")
int BPF_USDT(ra_heap_grow, __u64 old_end, __u64 new_end, __u64 req)
{
	return reason(FL_R_HEAP_GROW, old_end, new_end, req, 0, 0);
}
SEC("?usdt")
int BPF_USDT(ra_heap_trim, __u64 old_end, __u64 new_end) { return reason(FL_R_HEAP_TRIM, old_end, new_end, 0, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_heap_madvise, __u64 addr, __u64 len) { return reason(FL_R_HEAP_MADVISE, addr, len, 0, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_freelist_miss, __u64 req, __u64 cls) { return reason(FL_R_FREELIST_MISS, req, cls, 0, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_block_mmap, __u64 p, __u64 map, __u64 len) { return reason(FL_R_BLOCK_MMAP, p, map, len, 0, 0); }
SEC("?usdt")
int BPF_USDT(ra_block_munmap, __u64 p, __u64 map, __u64 len)
{
	return reason(FL_R_BLOCK_MUNMAP, p, map, len, 0, 0);
}
SEC("?usdt")
int BPF_USDT(ra_block_mremap, __u64 old, __u64 p, __u64 map, __u64 len, __u64 new_len)
{
	return reason(FL_R_BLOCK_MREMAP, old, p, map, len, new_len);
}

/* ---- memory syscalls ---------------------------------------------------- */

/* Is the current thread one an allocator started for itself (by its name)? */
static __always_inline bool allocator_thread(void)
{
	const char want[16] = FL_ALLOC_THREAD_NAME;
	char comm[16];

	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (int i = 0; i < 16; i++) {
		if (comm[i] != want[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* The raw syscall tracepoints (tp_btf): one program for every syscall, no
 * tracefs and no per-syscall perf event; x86-64 syscall numbers. */
#define NR_MMAP 9
#define NR_MPROTECT 10
#define NR_MUNMAP 11
#define NR_BRK 12
#define NR_MREMAP 25
#define NR_MADVISE 28
#define NR_PRCTL 157
#define NR_EXECVE 59
#define NR_EXECVEAT 322

static __always_inline int memory_syscall(long id)
{
	switch (id) {
	case NR_BRK: return FL_SYS_BRK;
	case NR_MMAP: return FL_SYS_MMAP;
	case NR_MUNMAP: return FL_SYS_MUNMAP;
	case NR_MREMAP: return FL_SYS_MREMAP;
	case NR_MPROTECT: return FL_SYS_MPROTECT;
	case NR_MADVISE: return FL_SYS_MADVISE;
	default: return -1;
	}
}

static __always_inline void arm_pending(void);

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct thread_state *ts;
	int sys = memory_syscall(id);

	if (sys < 0) {
		if (id == NR_EXECVE || id == NR_EXECVEAT)
			arm_pending();
		else if (preload && id == NR_PRCTL)
			preload_register(regs);
		return 0;
	}
	if (!is_target())
		return 0;
	ts = thread_state(true);
	if (!ts)
		return 0;
	ts->sys = sys;
	ts->in_sys = 1;
	ts->sargs[0] = BPF_CORE_READ(regs, di);
	ts->sargs[1] = BPF_CORE_READ(regs, si);
	ts->sargs[2] = BPF_CORE_READ(regs, dx);
	ts->sargs[3] = BPF_CORE_READ(regs, r10);
	ts->sargs[4] = BPF_CORE_READ(regs, r8);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct thread_state *ts;
	struct fl_ev_syscall *e;
	int sys = memory_syscall(BPF_CORE_READ(regs, orig_ax));
	__u16 flags;
	__u8 func;

	if (sys < 0 || !is_target())
		return 0;
	ts = thread_state(false);
	if (!ts || !ts->in_sys || ts->sys != (__u32)sys)
		return 0;
	ts->in_sys = 0;
	if (count_only) {
		count(FL_CNT_SYSCALL + sys);
		return 0;
	}
	tag_of(ts, regs, &func, &flags);
	if (!(flags & FL_F_IN_CALL) && allocator_thread())
		flags |= FL_F_ALLOC_THREAD;
	if (stack_mode)
		emit_stack_of(ts, FL_STACK_FOR_EVENT, func, flags, regs);
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->h, FL_EV_SYSCALL, func, flags);
	preload_tag(&e->h);
	e->sys = sys;
	e->pad = 0;
	__builtin_memcpy(e->args, ts->sargs, sizeof(e->args));
	e->ret = ret;
	submit(e);
	return 0;
}

/* ---- page faults -------------------------------------------------------- */

/* Is addr on the process's [uprobes] page (the kernel's single-step slots
 * and return trampoline for our probes: mm->uprobes_state.xol_area)? */
static __always_inline bool on_tracer_page(__u64 addr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct xol_area *x = BPF_CORE_READ(task, mm, uprobes_state.xol_area);
	__u64 vaddr;

	if (!x)
		return false;
	vaddr = BPF_CORE_READ(x, vaddr);
	return vaddr && (addr & ~4095ULL) == vaddr;
}

static __always_inline int fault(__u64 addr, struct pt_regs *regs, __u64 error_code, __u16 mode)
{
	struct thread_state *ts;
	struct fl_ev_fault *e;
	__u16 flags;
	__u8 func;

	if (addr >= USER_ADDR_MAX || !is_target())
		return 0;
	if (stack_mode && mode) {
		__u32 *copying = copy_flag();

		if (copying && *copying)
			return 0; /* our own stack copy's */
	}
	if (count_only) {
		count(FL_CNT_FAULTS);
		if (mode)
			count(FL_CNT_FAULTS_KERNEL);
		if (!(error_code & 1))
			count(FL_CNT_FIRST_TOUCH);
		return 0;
	}
	ts = thread_state(stack_mode != 0); /* --stacks keeps per-thread stack facts */
	tag_of(ts, mode ? NULL : regs, &func, &flags);
	flags |= mode;
	if (on_tracer_page(addr))
		flags |= FL_F_FAULT_TRACER;
	if (error_code & 2)
		flags |= FL_F_FAULT_WRITE;
	if (error_code & 1)
		flags |= FL_F_FAULT_PRESENT;
	else if (stack_mode)
		/* a first touch: the user registers are regs, or (a fault taken in
		 * the kernel) those saved when the thread entered it */
		emit_stack_of(ts, FL_STACK_FOR_EVENT, func, flags,
			      mode ? (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()) : regs);
	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->h, FL_EV_FAULT, func, flags);
	preload_tag(&e->h);
	e->addr = addr;
	e->ip = BPF_CORE_READ(regs, ip);
	submit(e);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return fault(address, regs, error_code, 0);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return fault(address, regs, error_code, FL_F_FAULT_KERNEL);
}

/* ---- process lifecycle -------------------------------------------------- */

static __always_inline void proc_event(__u32 kind, __u32 child, __s32 code)
{
	struct fl_ev_proc *e = reserve(sizeof(*e));

	if (!e)
		return;
	fill_hdr(&e->h, FL_EV_PROC, FL_FUNC_NONE, 0);
	e->kind = kind;
	e->child = child;
	e->exit_code = code;
	e->pad = 0;
	if (kind == FL_PROC_EXEC) /* userspace reads /proc/PID/exe at once, before a short life ends */
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		submit(e);
}

/* A pending target becomes active when it calls execve: from then on its
 * whole life is seen, as with `strace -c CMD` and `perf stat CMD`. */
static __always_inline void arm_pending(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *st = bpf_map_lookup_elem(&targets, &tgid);

	if (st && *st == FL_TARGET_PENDING)
		*st = FL_TARGET_ACTIVE;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	arm_pending();
	preload_forget(); /* the new image registers again */
	if (is_target())
		proc_event(FL_PROC_EXEC, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 child_pid = BPF_CORE_READ(child, pid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 active = FL_TARGET_ACTIVE;

	if (!is_target())
		return 0;
	if (child_pid != child_tgid)
		return 0; /* a new thread of a traced process: already covered */
	if (!follow_forks)
		return 0;
	bpf_map_update_elem(&targets, &child_tgid, &active, BPF_ANY);
	proc_event(FL_PROC_FORK, child_pid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	if (!is_target())
		return 0;
	proc_event(FL_PROC_EXIT, 0, BPF_CORE_READ(p, exit_code));
	if (BPF_CORE_READ(p, pid) == BPF_CORE_READ(p, tgid))
		preload_forget();
	return 0;
}
