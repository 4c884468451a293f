/* recorder.c - inside libfaultline-preload.so: the shared memory faultline
 * handed over (FAULTLINE_PRELOAD_FD), the registration the kernel sees, the
 * thread's ring (claimed at its first call), one record per call, the wait
 * for room (lossless) and giving up when the collector is gone, and with
 * --stacks=all each sampled outermost call's stack (stacks.c) in the slots
 * before its record. Nothing here allocates (the hooks call it from inside
 * malloc); the unwinder does, at a thread's first stack (its thread-local
 * block), from the hooks' arena. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include "faultline.h"
#include "recorder.h"
#include "stacks.h"

__thread struct flp_thread flp_self __attribute__((tls_model("initial-exec")));
int flp_state;
static struct fl_preload_shm *shm;
static unsigned stack_every; /* --stacks=all: one outermost call's stack in stack_every (0: none) */
static int lossy;            /* --lossy: a full ring drops the call instead of waiting */
static int initializing;
extern char **environ;

uint64_t flp_stamp(void)
{
	return __builtin_ia32_rdtsc();
}

uint64_t flp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int env_fd(void)
{
	const char *v = getenv(FL_PRELOAD_ENV_FD_NAME);
	long fd = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || fd > 1000000)
			return -1;
		fd = fd * 10 + (*v - '0');
	}
	return (int)fd;
}

/* The library's own work (the unwinder loading or running) begins:
 * FL_PRELOAD_OWN in the slot, allocations from the hooks' arena / ends: the
 * slot as it was. */
static uint64_t own_begin(struct flp_thread *t)
{
	uint64_t was = t->slot;

	__atomic_store_n(&t->slot, FL_PRELOAD_SLOT(FL_PRELOAD_SLOT_DONE(was), FL_PRELOAD_OWN, 1), __ATOMIC_RELAXED);
	t->own_alloc = 1;
	__asm__ volatile("" ::: "memory");
	return was;
}

static void own_end(struct flp_thread *t, uint64_t was)
{
	__asm__ volatile("" ::: "memory");
	t->own_alloc = 0;
	__atomic_store_n(&t->slot, was, __ATOMIC_RELAXED);
}

/* Tells the kernel where the slot is (fl_preload.h). */
static void register_slot(void)
{
	uintptr_t tp;

	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	syscall(SYS_prctl, FL_PRELOAD_PRCTL, (unsigned long)((uintptr_t)&flp_self - tp), 0ul, 0ul, 0ul);
}

/* The child of a fork: its own rings, its own registration. */
static void at_fork_child(void)
{
	struct flp_thread *t = &flp_self;

	if (flp_state != 1)
		return;
	t->buf = NULL;
	t->no_buf = 0;
	t->done = 0;
	t->tail_seen = 0;
	memset(t->stack_hash, 0, sizeof(t->stack_hash)); /* the collector knows no stack of the child yet */
	__atomic_store_n(&t->slot, FL_PRELOAD_SLOT(0, t->outer_func, t->depth || t->in_free), __ATOMIC_RELAXED);
	register_slot();
}

/* --stacks=all: the unwinder, loaded as the library's own work (the kernel's
 * records of it dropped, the loader's allocations in the arena). */
static void load_unwinder(struct fl_preload_shm *m)
{
	uint64_t was = own_begin(&flp_self);
	int failed = flp_stacks_load();

	own_end(&flp_self, was);
	if (failed)
		__atomic_store_n(&m->no_stack, 1, __ATOMIC_RELAXED); /* no stacks, and faultline says so */
	else
		stack_every = m->stack_sample;
}

/* At load, once the C library is up (a call before it starts the recorder
 * as well): the unwinder is loaded here, not inside some allocator call. */
__attribute__((constructor)) static void flp_at_load(void)
{
	if (flp_state == 0)
		flp_init();
}

void flp_init(void)
{
	struct fl_preload_shm *m;
	int fd;

	if (!environ || initializing)
		return; /* the C library is not up yet, or we are in here already */
	initializing = 1;
	fd = env_fd();
	if (fd < 0) {
		flp_state = -1;
		return;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		flp_state = -1;
		return;
	}
	if (m->magic != FL_PRELOAD_MAGIC || m->version != FL_PRELOAD_VERSION || m->nbuf != FL_PRELOAD_NBUF ||
	    m->recs != FL_PRELOAD_RECS || m->size_rec != sizeof(struct fl_preload_rec) || m->stopped) {
		munmap(m, sizeof(*m));
		flp_state = -1;
		return;
	}
	shm = m;
	pthread_atfork(NULL, NULL, at_fork_child);
	register_slot();
	if (m->stack_sample)
		load_unwinder(m);
	lossy = m->lossy != 0;
	flp_state = 1;
}

static void stop_recording(void)
{
	__atomic_store_n(&shm->stopped, 1, __ATOMIC_RELAXED);
	flp_state = -1;
}

static struct fl_preload_buf *claim(struct flp_thread *t)
{
	for (int i = 0; i < FL_PRELOAD_NBUF; i++) {
		struct fl_preload_buf *b = &shm->buf[i];
		uint32_t free_ = FL_PRELOAD_FREE;

		if (__atomic_load_n(&b->state, __ATOMIC_RELAXED) != FL_PRELOAD_FREE ||
		    !__atomic_compare_exchange_n(&b->state, &free_, FL_PRELOAD_OWNED, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		b->tgid = (uint32_t)getpid();
		b->claim_ts = flp_now();
		__atomic_store_n(&b->tid, (uint32_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
		t->buf = b;
		t->tail_seen = 0;
		return b;
	}
	t->no_buf = 1;
	return NULL;
}

/* Waits for the collector to make room in b (head h). 0 if it is gone. */
static void wake_collector(void)
{
	uint64_t one = 1;

	if (write((int)shm->wake_fd, &one, sizeof(one)) < 0)
		return; /* the collector polls anyway */
}

/* Has the collector stopped, died, or not beaten for FL_PRELOAD_DEAD_NS
 * (checked once the thread has been at a full ring that long, since t0)? */
static int collector_gone(uint64_t t0, uint64_t now)
{
	return __atomic_load_n(&shm->stopped, __ATOMIC_RELAXED) ||
	       (kill((pid_t)shm->collector_pid, 0) && errno == ESRCH) ||
	       (now - t0 > FL_PRELOAD_DEAD_NS &&
		now - __atomic_load_n(&shm->heartbeat, __ATOMIC_RELAXED) > FL_PRELOAD_DEAD_NS);
}

static int wait_room(struct fl_preload_buf *b, uint64_t h)
{
	uint64_t t0 = flp_now(), now = t0;

	wake_collector();
	__atomic_fetch_add(&shm->waits, 1, __ATOMIC_RELAXED);
	while (h - __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE) >= FL_PRELOAD_RECS) {
		struct timespec d = { 0, 20000 };

		if (collector_gone(t0, now)) {
			stop_recording();
			return 0;
		}
		nanosleep(&d, NULL);
		now = flp_now();
	}
	__atomic_fetch_add(&shm->wait_ns, flp_now() - t0, __ATOMIC_RELAXED);
	flp_self.tail_seen = __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE);
	return 1;
}

/* --lossy: the call is dropped (its stack with it) and counted. The first
 * drop of a full spell wakes the collector and notes the time; every 4096th
 * asks whether the collector is gone (then recording stops, as a waiting
 * thread's would). */
static int drop(struct flp_thread *t)
{
	__atomic_fetch_add(&shm->unrecorded, 1, __ATOMIC_RELAXED);
	if (t->dropping++ == 0) {
		t->full_since = flp_now();
		wake_collector();
	} else if ((t->dropping & 4095) == 0 && collector_gone(t->full_since, flp_now())) {
		stop_recording();
	}
	return 0;
}

/* Appends the n records r to the thread's ring, together; 1 if written. */
static int put(struct flp_thread *t, const struct fl_preload_rec *r, unsigned n)
{
	struct fl_preload_buf *b = t->buf;
	uint64_t h, used;

	if (!b && (t->no_buf || !(b = claim(t)))) {
		__atomic_fetch_add(&shm->unrecorded, 1, __ATOMIC_RELAXED);
		return 0;
	}
	h = b->head;
	used = h - t->tail_seen;
	if (used + n > FL_PRELOAD_RECS) {
		t->tail_seen = __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE);
		used = h - t->tail_seen;
		if (used >= FL_PRELOAD_RECS / 2)
			wake_collector();
		if (used + n > FL_PRELOAD_RECS && lossy)
			return drop(t);
		if (used + n > FL_PRELOAD_RECS && !wait_room(b, h + n - 1))
			return 0;
	} else if (used < FL_PRELOAD_RECS / 2 && used + n >= FL_PRELOAD_RECS / 2) {
		wake_collector();
	}
	for (unsigned i = 0; i < n; i++)
		b->rec[(h + i) & (FL_PRELOAD_RECS - 1)] = r[i];
	__atomic_store_n(&b->head, h + n, __ATOMIC_RELEASE);
	t->dropping = 0;
	return 1;
}

static void set_slot(struct flp_thread *t)
{
	int in_call = t->depth || t->in_free;

	__atomic_store_n(&t->slot, FL_PRELOAD_SLOT(t->done, in_call ? t->outer_func : FL_FUNC_NONE, in_call),
			 __ATOMIC_RELAXED);
}

/* The slots of a stack of n addresses before a call (fl_preload.h); n = 0:
 * a repeat, ips[0] the hash of the stack repeated. */
static unsigned stack_group(struct fl_preload_rec *g, uint64_t ts, uint64_t ts_ret, const uint64_t *ips,
			    unsigned n)
{
	unsigned slots = fl_preload_stack_slots(n);

	g[0] = (struct fl_preload_rec){ .func = FL_PRELOAD_STACK, .pad = (unsigned char)n, .ts = ts,
					.ts_ret = ts_ret, .a0 = ips[0], .a1 = n > 1 ? ips[1] : 0,
					.a2 = n > 2 ? ips[2] : 0, .ret = n > 3 ? ips[3] : 0 };
	for (unsigned i = 1; i < slots; i++) {
		uint64_t w[FL_PRELOAD_STACK_PER_SLOT] = { 0 };

		for (unsigned k = 0; k < FL_PRELOAD_STACK_PER_SLOT && FL_PRELOAD_STACK_AT(i, k) < n; k++)
			w[k] = ips[FL_PRELOAD_STACK_AT(i, k)];
		memcpy(&g[i], w, sizeof(w));
	}
	return slots;
}

/* Is this outermost call's stack to be taken (--stacks=all, one in stack_every)? */
static int stack_sampled(struct flp_thread *t)
{
	if (++t->unsampled < stack_every)
		return 0;
	t->unsampled = 0;
	return 1;
}

/* The call's record r with its stack before it (the stack's slots and the
 * record written together). Apart, so that the frame of write_rec, on every
 * call's path, stays small. */
static __attribute__((noinline)) void write_with_stack(struct flp_thread *t, const struct fl_preload_rec *r)
{
	struct fl_preload_rec g[FL_PRELOAD_STACK_SLOTS_MAX + 1];
	uint64_t ips[FL_PRELOAD_STACK_FRAMES];
	uint64_t was = own_begin(t);
	unsigned n, slots = 0;

	n = flp_stack_take(ips, FL_PRELOAD_STACK_FRAMES);
	own_end(t, was);
	if (!n) {
		__atomic_fetch_add(&shm->stacks_skipped, 1, __ATOMIC_RELAXED); /* said, as the kernel's */
	} else {
		uint64_t h = fl_ips_hash(ips, n), *seen = &t->stack_hash[h % FL_STACK_IPS_CACHE];

		if (*seen == h && ++t->repeats % 4096) {
			slots = stack_group(g, r->ts, r->ts_ret, &h, 0);
		} else { /* whole: new, or now and then again (a whole one the reader lost) */
			slots = stack_group(g, r->ts, r->ts_ret, ips, n);
			*seen = h;
		}
	}
	g[slots] = *r;
	if (put(t, g, slots + 1))
		t->done += slots + 1;
	else
		memset(t->stack_hash, 0, sizeof(t->stack_hash)); /* not written: the next ones whole */
}

/* The call's record, and before it its stack if outer and sampled. */
static void write_rec(struct flp_thread *t, int outer, unsigned func, unsigned flags, uint64_t ts,
		      uint64_t ts_ret, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t ret)
{
	struct fl_preload_rec r = { .func = (unsigned char)func, .flags = (unsigned short)flags, .ts = ts,
				    .ts_ret = ts_ret, .a0 = a0, .a1 = a1, .a2 = a2, .ret = ret };

	t->writing = 1;
	__asm__ volatile("" ::: "memory");
	if (__builtin_expect(outer && stack_every, 0) && stack_sampled(t))
		write_with_stack(t, &r);
	else if (put(t, &r, 1))
		t->done++;
	__asm__ volatile("" ::: "memory");
	t->writing = 0;
}

void flp_enter(struct flp_thread *t, unsigned func)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	/* a call entered at or above the outermost one's frame: that one was
	 * left by an exception (operator new throwing), unrecorded */
	if (t->depth && sp >= t->outer_sp)
		t->depth = 0;
	if (t->depth == 0)
		t->outer_sp = sp;
	if (t->depth++ == 0 && !t->in_free) {
		t->outer_func = (uint8_t)func;
		set_slot(t);
	}
}

void flp_leave(struct flp_thread *t, unsigned func, uint64_t ts, uint64_t a0, uint64_t a1, uint64_t a2,
	       uint64_t ret)
{
	unsigned flags = t->depth > 1 ? FL_F_NESTED : 0;

	write_rec(t, t->depth == 1 && !t->in_free, func, flags, ts, flp_stamp(), a0, a1, a2, ret);
	if (t->depth)
		t->depth--;
	set_slot(t);
}

int flp_free_enter(struct flp_thread *t, unsigned func, uint64_t a0, uint64_t a1, uint64_t ptr)
{
	int nested = t->depth > 0, in_free = !nested && t->in_free, outer = !nested && !in_free;
	uint64_t now = flp_stamp();

	if (outer) {
		t->in_free = 1;
		t->outer_func = (uint8_t)func;
	}
	write_rec(t, outer, func,
		  FL_F_AT_ENTRY | (nested || in_free ? FL_F_NESTED : 0) | (in_free ? FL_F_IN_FREE : 0), now, now, a0,
		  a1, ptr, 0);
	set_slot(t);
	return outer;
}

void flp_free_done(struct flp_thread *t)
{
	t->in_free = 0;
	set_slot(t);
}

void flp_free_null(struct flp_thread *t)
{
	uint64_t now = flp_stamp();

	write_rec(t, 0, FL_FREE, t->depth > 0 ? FL_F_NESTED : 0, now, now, 0, 0, 0, 0);
	set_slot(t);
}
