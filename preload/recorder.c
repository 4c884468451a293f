/* recorder.c - inside libfaultline-preload.so: the shared memory faultline
 * handed over (FAULTLINE_PRELOAD_FD), the registration the kernel sees, the
 * thread's ring (claimed at its first call), one record per call, the wait
 * for room (lossless) and giving up when the collector is gone. Nothing here
 * allocates: the hooks call it from inside malloc. */
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

__thread struct flp_thread flp_self __attribute__((tls_model("initial-exec")));
int flp_state;
static struct fl_preload_shm *shm;
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
	__atomic_store_n(&t->slot, FL_PRELOAD_SLOT(0, t->outer_func, t->depth || t->in_free), __ATOMIC_RELAXED);
	register_slot();
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

static int wait_room(struct fl_preload_buf *b, uint64_t h)
{
	uint64_t t0 = flp_now(), now = t0;

	wake_collector();
	__atomic_fetch_add(&shm->waits, 1, __ATOMIC_RELAXED);
	while (h - __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE) >= FL_PRELOAD_RECS) {
		struct timespec d = { 0, 20000 };

		if (__atomic_load_n(&shm->stopped, __ATOMIC_RELAXED) ||
		    (kill((pid_t)shm->collector_pid, 0) && errno == ESRCH) ||
		    (now - t0 > FL_PRELOAD_DEAD_NS &&
		     now - __atomic_load_n(&shm->heartbeat, __ATOMIC_RELAXED) > FL_PRELOAD_DEAD_NS)) {
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

/* Appends r to the thread's ring; 1 if written. */
static int put(struct flp_thread *t, const struct fl_preload_rec *r)
{
	struct fl_preload_buf *b = t->buf;
	uint64_t h, used;

	if (!b && (t->no_buf || !(b = claim(t)))) {
		__atomic_fetch_add(&shm->unrecorded, 1, __ATOMIC_RELAXED);
		return 0;
	}
	h = b->head;
	used = h - t->tail_seen;
	if (used >= FL_PRELOAD_RECS) {
		t->tail_seen = __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE);
		used = h - t->tail_seen;
		if (used >= FL_PRELOAD_RECS / 2)
			wake_collector();
		if (used >= FL_PRELOAD_RECS && !wait_room(b, h))
			return 0;
	} else if (used == FL_PRELOAD_RECS / 2) {
		wake_collector();
	}
	b->rec[h & (FL_PRELOAD_RECS - 1)] = *r;
	__atomic_store_n(&b->head, h + 1, __ATOMIC_RELEASE);
	return 1;
}

static void set_slot(struct flp_thread *t)
{
	int in_call = t->depth || t->in_free;

	__atomic_store_n(&t->slot, FL_PRELOAD_SLOT(t->done, in_call ? t->outer_func : FL_FUNC_NONE, in_call),
			 __ATOMIC_RELAXED);
}

static void write_rec(struct flp_thread *t, unsigned func, unsigned flags, uint64_t ts, uint64_t ts_ret,
		      uint64_t a0, uint64_t a1, uint64_t a2, uint64_t ret)
{
	struct fl_preload_rec r = { .func = (unsigned char)func, .flags = (unsigned short)flags, .ts = ts,
				    .ts_ret = ts_ret, .a0 = a0, .a1 = a1, .a2 = a2, .ret = ret };

	t->writing = 1;
	__asm__ volatile("" ::: "memory");
	if (put(t, &r))
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

	write_rec(t, func, flags, ts, flp_stamp(), a0, a1, a2, ret);
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
	write_rec(t, func, FL_F_AT_ENTRY | (nested || in_free ? FL_F_NESTED : 0) | (in_free ? FL_F_IN_FREE : 0),
		  now, now, a0, a1, ptr, 0);
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

	write_rec(t, FL_FREE, t->depth > 0 ? FL_F_NESTED : 0, now, now, 0, 0, 0, 0);
	set_slot(t);
}
