/* preload.c - the collector of the in-process fast path (preload.h): maps
 * the memfd the command inherits, reads each thread's ring, and merges the
 * call records with the kernel's records of the same thread by the count
 * the kernel read from the library's slot: a syscall or fault that the
 * kernel saw after the thread's Nth call goes right after that call's
 * record, exactly where the uprobe path would have put it. Across threads
 * the records go in the order of their timestamps. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "faultline.h"
#include "fl_preload.h"
#include "capture/preload.h"
#include "util/id_map.h"

struct range {
	uint64_t lo, hi;         /* the library's shared mapping in a process */
	uint64_t lib_lo, lib_hi; /* where the loader put the library itself (0, 0: not yet) */
};

struct preload {
	struct fl_preload_shm *shm;
	int fd, wake_fd;
	preload_emit_fn emit;
	void *ctx;
	int rc;                     /* the consumer's first non-zero return */
	struct id_map targets;      /* tgids whose calls are kept */
	struct id_map by_tid;       /* tid -> 1 + ring index, of the rings known */
	struct id_map ranges_of;    /* tgid -> index in ranges */
	struct range *ranges;
	size_t nranges, cap_ranges;
	int active[FL_PRELOAD_NBUF]; /* rings owned and known, in no order */
	int nactive;
	uint64_t snap[FL_PRELOAD_NBUF]; /* head of each ring at the last snapshot */
	uint64_t snap_tsc;          /* and the time stamp counter then, less SNAP_LAG_NS: a drain takes the
				       records written before it only (it does not read the lines the
				       threads are writing, which slows them, and keeps the threads' order) */
	bool gone[FL_PRELOAD_NBUF];  /* an untraced process's ring, its process gone at the snapshot */
	uint64_t head_seen[FL_PRELOAD_NBUF]; /* each ring's head as last read (read again when reached) */
	bool seen;
	signed char target[FL_PRELOAD_NBUF]; /* is the ring's process a target: 1 yes, -1 no, 0 not looked up */
	/* the time stamp counter -> CLOCK_MONOTONIC: ns = mono0 + (tsc - tsc0) * mult / 2^32 (integer:
	 * no conversions to and from double per record), the slope taken over the whole run so far
	 * (renewed at every snapshot) */
	uint64_t tsc0, mono0;
	int64_t mult;
	uint64_t lib_extent;        /* bytes the loader reserves for the library (its PT_LOAD extent) */
	unsigned char alias[FL_NFUNC]; /* entry point -> the one it is counted under (one address) */
	_Alignas(8) unsigned char copy[sizeof(struct fl_ev_stack) + FL_STACK_MAX]; /* a record, its tag cleared */
};

#define SNAP_LAG_NS 4000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A (counter, CLOCK_MONOTONIC) pair read as close together as can be: the
 * tightest of a few tries. */
static void clock_pair(uint64_t *tsc, uint64_t *mono)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		uint64_t a = __builtin_ia32_rdtsc(), m = now_ns(), b = __builtin_ia32_rdtsc();

		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*mono = m;
		}
	}
}

static void calibrate(struct preload *p)
{
	uint64_t tsc, mono;

	clock_pair(&tsc, &mono);
	if (tsc > p->tsc0 && mono > p->mono0 + 1000000)
		p->mult = (int64_t)((double)(mono - p->mono0) / (double)(tsc - p->tsc0) * 4294967296.0);
}

static uint64_t tsc_ns(const struct preload *p, uint64_t tsc)
{
	__int128 d = (__int128)(int64_t)(tsc - p->tsc0) * p->mult;

	return p->mono0 + (uint64_t)(int64_t)(d >> 32);
}

struct preload *preload_open(preload_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	struct preload *p = calloc(1, sizeof(*p));
	size_t size = sizeof(struct fl_preload_shm);

	if (!p)
		return snprintf(err, errlen, "out of memory"), NULL;
	p->emit = emit;
	p->ctx = ctx;
	for (int f = 0; f < FL_NFUNC; f++)
		p->alias[f] = (unsigned char)f;
	p->fd = memfd_create("faultline-preload", 0); /* inherited by the command: no close-on-exec */
	p->wake_fd = eventfd(0, EFD_NONBLOCK);
	if (p->fd < 0 || p->wake_fd < 0 || ftruncate(p->fd, (off_t)size)) {
		snprintf(err, errlen, "the preload path's shared memory: %s", strerror(errno));
		goto fail;
	}
	p->shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->shm == MAP_FAILED) {
		p->shm = NULL;
		snprintf(err, errlen, "mapping the preload path's shared memory: %s", strerror(errno));
		goto fail;
	}
	p->shm->version = FL_PRELOAD_VERSION;
	p->shm->nbuf = FL_PRELOAD_NBUF;
	p->shm->recs = FL_PRELOAD_RECS;
	p->shm->size_rec = sizeof(struct fl_preload_rec);
	p->shm->size = size;
	p->shm->collector_pid = (uint32_t)getpid();
	p->shm->wake_fd = (uint32_t)p->wake_fd;
	p->shm->heartbeat = now_ns();
	{
		struct timespec d = { 0, 5000000 };

		clock_pair(&p->tsc0, &p->mono0);
		p->mult = (int64_t)1 << 32;
		nanosleep(&d, NULL);
		calibrate(p);
	}
	__atomic_store_n(&p->shm->magic, FL_PRELOAD_MAGIC, __ATOMIC_RELEASE);
	return p;
fail:
	if (p->fd >= 0)
		close(p->fd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	free(p);
	return NULL;
}

void preload_close(struct preload *p)
{
	if (!p)
		return;
	if (p->shm) {
		__atomic_store_n(&p->shm->stopped, 1, __ATOMIC_RELAXED);
		munmap(p->shm, sizeof(*p->shm));
	}
	close(p->fd);
	close(p->wake_fd);
	id_map_clear(&p->targets);
	id_map_clear(&p->by_tid);
	id_map_clear(&p->ranges_of);
	free(p->ranges);
	free(p);
}

int preload_fd(const struct preload *p)
{
	return p->fd;
}

int preload_wake_fd(const struct preload *p)
{
	return p->wake_fd;
}

int preload_library_path(char *out, size_t len, const char *variant, char *err, size_t errlen)
{
	const char *env = getenv("FAULTLINE_PRELOAD_LIB");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) { /* the plain build's path: a variant's has its suffix before ".so" */
		size_t base = strlen(env) > 3 && !strcmp(env + strlen(env) - 3, ".so") ? strlen(env) - 3 : strlen(env);

		if (snprintf(out, len, "%.*s%s%s", (int)base, env, variant, *variant || base < strlen(env) ? ".so" : "") >=
		    (int)len)
			return snprintf(err, errlen, "FAULTLINE_PRELOAD_LIB is too long"), -1;
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return snprintf(err, errlen, "cannot find faultline's own file: %s", strerror(errno)), -1;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(out, len, "%s/libfaultline-preload%s.so", exe, variant) >= (int)len)
			return snprintf(err, errlen, "the preload library's path is too long"), -1;
	}
	if (strchr(out, ':') || strchr(out, ' '))
		return snprintf(err, errlen, "%s: the preload library's path cannot be in LD_PRELOAD (a ':' or ' ')",
				out), -1;
	if (access(out, R_OK))
		return snprintf(err, errlen, "%s: %s (make builds it; --probes uprobes does without)", out,
				strerror(errno)), -1;
	return 0;
}

/* The extent of the loadable segments (from the first page) of the ELF file at path, 0 if unknown. */
static uint64_t load_extent(const char *path)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;

	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 64)
		for (int i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;

			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))) !=
			    (ssize_t)sizeof(ph))
				break;
			if (ph.p_type != PT_LOAD)
				continue;
			if ((ph.p_vaddr & ~4095ull) < lo)
				lo = ph.p_vaddr & ~4095ull;
			if (ph.p_vaddr + ph.p_memsz > hi)
				hi = ph.p_vaddr + ph.p_memsz; /* the loader's first mapping is this long, unrounded */
		}
	close(fd);
	return hi > lo ? hi - lo : 0;
}

void preload_set_library(struct preload *p, const char *path)
{
	p->lib_extent = load_extent(path);
}

void preload_set_alias(struct preload *p, unsigned func, unsigned counted_as)
{
	if (func < FL_NFUNC && counted_as < FL_NFUNC)
		p->alias[func] = (unsigned char)counted_as;
}

void preload_add_target(struct preload *p, pid_t tgid)
{
	if (id_map_put(&p->targets, (uint32_t)tgid, 0))
		p->rc = p->rc ? p->rc : -1;
	memset(p->target, 0, sizeof(p->target)); /* a "no" may be a yes now */
}

static int out(struct preload *p, const void *rec, size_t len)
{
	int rc = p->emit(p->ctx, rec, len);

	if (rc && !p->rc)
		p->rc = rc;
	return rc;
}

/* ---- the rings ---- */

static struct fl_preload_buf *ring(struct preload *p, int i)
{
	return &p->shm->buf[i];
}

/* Are ring i's records kept (its process a target)? Looked up once per ring, not per record. */
static bool is_target(struct preload *p, int i)
{
	size_t v;

	if (!p->target[i])
		p->target[i] = id_map_get(&p->targets, ring(p, i)->tgid, &v) ? 1 : -1;
	return p->target[i] > 0;
}

/* Rings claimed since the last look, added to the active set. */
static void find_rings(struct preload *p)
{
	for (int i = 0; i < FL_PRELOAD_NBUF; i++) {
		struct fl_preload_buf *b = ring(p, i);
		uint32_t tid;
		size_t v;

		if (__atomic_load_n(&b->state, __ATOMIC_ACQUIRE) != FL_PRELOAD_OWNED)
			continue;
		tid = __atomic_load_n(&b->tid, __ATOMIC_ACQUIRE);
		if (!tid || (id_map_get(&p->by_tid, tid, &v) && v == (size_t)i + 1))
			continue;
		/* two rings of one tid: a thread's before its exec (or exit) and after; the
		 * newer is the thread's now, the older is found by its exec or exit */
		if (!(id_map_get(&p->by_tid, tid, &v) && ring(p, (int)v - 1)->claim_ts > b->claim_ts) &&
		    id_map_put(&p->by_tid, tid, (size_t)i + 1))
			continue;
		for (int k = 0; k < p->nactive; k++)
			if (p->active[k] == i)
				goto known;
		p->active[p->nactive++] = i;
		p->snap[i] = b->tail;
	known:;
	}
}

static int ring_of(struct preload *p, uint32_t tid)
{
	size_t v;

	if (id_map_get(&p->by_tid, tid, &v))
		return (int)v - 1;
	find_rings(p);
	return id_map_get(&p->by_tid, tid, &v) ? (int)v - 1 : -1;
}

/* The newest ring of tid claimed before ts, -1 if none. */
static int ring_before(struct preload *p, uint32_t tid, uint64_t ts)
{
	int best = -1;

	for (int k = 0; k < p->nactive; k++) {
		struct fl_preload_buf *b = ring(p, p->active[k]);

		if (b->tid == tid && b->claim_ts <= ts && (best < 0 || b->claim_ts > ring(p, best)->claim_ts))
			best = p->active[k];
	}
	return best;
}

static uint64_t head_of(struct fl_preload_buf *b)
{
	return __atomic_load_n(&b->head, __ATOMIC_ACQUIRE);
}

/* Ring i's head, read from the ring only once the records seen are taken
 * (the producer's cache line is not pulled at every record). */
static uint64_t head_known(struct preload *p, int i)
{
	struct fl_preload_buf *b = &p->shm->buf[i];

	if (b->tail >= p->head_seen[i] || b->tail + FL_PRELOAD_RECS < p->head_seen[i])
		p->head_seen[i] = head_of(b);
	return p->head_seen[i];
}

/* The entry point a record's func is counted under (one address, one name). */
static unsigned char counted_as(const struct preload *p, unsigned char func)
{
	return func < FL_NFUNC ? p->alias[func] : func;
}

/* The stack group at ring i's tail (fl_preload.h) as an FL_EV_STACK of kind
 * FL_STACK_FOR_CALL | FL_STACK_IPS for the call record after it; the ring
 * advanced past it. */
static void emit_stack(struct preload *p, int i)
{
	struct fl_preload_buf *b = ring(p, i);
	uint64_t t = b->tail;
	const struct fl_preload_rec *r = &b->rec[t & (FL_PRELOAD_RECS - 1)];
	const struct fl_preload_rec *call;
	unsigned n = __atomic_load_n(&r->pad, __ATOMIC_RELAXED), slots = fl_preload_stack_slots(n); /* once: the
		program may write it */
	struct {
		struct fl_ev_stack s;
		uint64_t ips[FL_PRELOAD_STACK_SLOTS_MAX * FL_PRELOAD_STACK_PER_SLOT];
	} e;

	if (n > FL_PRELOAD_STACK_FRAMES || head_of(b) - t < slots + 1) { /* not the library's */
		__atomic_store_n(&b->tail, t + 1, __ATOMIC_RELEASE);
		return;
	}
	call = &b->rec[(t + slots) & (FL_PRELOAD_RECS - 1)];
	memset(&e.s, 0, sizeof(e.s));
	e.s.h.type = FL_EV_STACK;
	e.s.h.func = counted_as(p, call->func);
	e.s.h.tid = b->tid;
	e.s.h.tgid = b->tgid;
	e.s.h.ts = tsc_ns(p, r->ts);
	e.s.kind = FL_STACK_FOR_CALL | FL_STACK_IPS | (n ? 0 : FL_STACK_REPEAT);
	e.s.ip = r->a0;
	e.ips[0] = r->a1;
	e.ips[1] = r->a2;
	e.ips[2] = r->ret;
	for (unsigned k = 1; k < slots; k++) /* address FL_PRELOAD_STACK_AT(k, 0) goes to ips[that - 1] */
		memcpy(&e.ips[FL_PRELOAD_STACK_AT(k, 0) - 1], &b->rec[(t + k) & (FL_PRELOAD_RECS - 1)],
		       sizeof(struct fl_preload_rec));
	e.s.len = n ? (n - 1) * (uint32_t)sizeof(uint64_t) : 0;
	__atomic_store_n(&b->tail, t + slots, __ATOMIC_RELEASE);
	if (is_target(p, i))
		out(p, &e, sizeof(e.s) + e.s.len);
}

/* The next record of ring i as the uprobe path's FL_EV_CALL (and before it
 * its stack, if the library took it), and the ring advanced. */
static void emit_next(struct preload *p, int i)
{
	struct fl_preload_buf *b = ring(p, i);
	uint64_t t = b->tail;
	const struct fl_preload_rec *r = &b->rec[t & (FL_PRELOAD_RECS - 1)];

	if (__builtin_expect(r->func == FL_PRELOAD_STACK, 0)) {
		emit_stack(p, i);
		if (b->tail >= head_of(b))
			return;
		t = b->tail;
		r = &b->rec[t & (FL_PRELOAD_RECS - 1)];
	}
	struct fl_ev_call e = {
		.h = { .type = FL_EV_CALL, .func = counted_as(p, r->func), .flags = r->flags,
		       .tid = b->tid, .tgid = b->tgid, .ts = tsc_ns(p, r->ts) },
		.a0 = r->a0, .a1 = r->a1, .a2 = r->a2, .ret = r->ret, .ts_ret = tsc_ns(p, r->ts_ret),
	};

	__builtin_prefetch(&b->rec[(t + 8) & (FL_PRELOAD_RECS - 1)]); /* the producer's core wrote it */
	__atomic_store_n(&b->tail, t + 1, __ATOMIC_RELEASE);
	if (is_target(p, i))
		out(p, &e, sizeof(e));
}

/* The active ring whose next record (below its limit) is the oldest, -1 if none. */
static int oldest(struct preload *p, bool to_snapshot)
{
	uint64_t best_ts = UINT64_MAX;
	int best = -1;

	if (p->nactive == 1) { /* one thread: no order to find */
		struct fl_preload_buf *b = ring(p, p->active[0]);

		if (to_snapshot)
			return b->tail < p->snap[p->active[0]] &&
					       b->rec[b->tail & (FL_PRELOAD_RECS - 1)].ts_ret < p->snap_tsc ? p->active[0] : -1;
		return b->tail < head_known(p, p->active[0]) ? p->active[0] : -1;
	}
	for (int k = 0; k < p->nactive; k++) {
		int i = p->active[k];
		struct fl_preload_buf *b = ring(p, i);
		uint64_t lim = to_snapshot ? p->snap[i] : head_of(b); /* fresh: another thread may have just written what this one frees */

		if (b->tail >= lim || (to_snapshot && b->rec[b->tail & (FL_PRELOAD_RECS - 1)].ts_ret >= p->snap_tsc))
			continue;
		if (b->rec[b->tail & (FL_PRELOAD_RECS - 1)].ts_ret < best_ts) {
			best_ts = b->rec[b->tail & (FL_PRELOAD_RECS - 1)].ts_ret;
			best = i;
		}
	}
	return best;
}

/* Emits ring i's records until its tail is at want (at most its head), the
 * other threads' older records first. */
static void emit_ring_to(struct preload *p, int i, uint64_t want)
{
	struct fl_preload_buf *b = ring(p, i);
	uint64_t h = head_of(b);

	p->head_seen[i] = h;
	if (want > h)
		want = h;
	while (b->tail < want) {
		int o = oldest(p, false);

		emit_next(p, o >= 0 ? o : i);
	}
}

/* Emits ring i's records written before ts (CLOCK_MONOTONIC ns, the clock
 * of the kernel's records), the other threads' older records first: the
 * place of a record the kernel could not tag (a fork, an exit, an exec). */
static void emit_ring_before(struct preload *p, int i, uint64_t ts)
{
	struct fl_preload_buf *b = ring(p, i);

	while (b->tail < head_of(b) && tsc_ns(p, b->rec[b->tail & (FL_PRELOAD_RECS - 1)].ts_ret) < ts) {
		int o = oldest(p, false);

		emit_next(p, o >= 0 ? o : i);
	}
}

static void release_ring(struct preload *p, int i)
{
	struct fl_preload_buf *b = ring(p, i);
	size_t v;

	for (int k = 0; k < p->nactive; k++)
		if (p->active[k] == i) {
			p->active[k] = p->active[--p->nactive];
			break;
		}
	if (id_map_get(&p->by_tid, b->tid, &v) && v == (size_t)i + 1)
		id_map_del(&p->by_tid, b->tid);
	b->head = b->tail = 0;
	p->head_seen[i] = 0;
	p->target[i] = 0;
	b->tid = b->tgid = 0;
	__atomic_store_n(&b->state, FL_PRELOAD_FREE, __ATOMIC_RELEASE);
}

/* ---- the library's own mapping ---- */

static struct range *range_of(struct preload *p, uint32_t tgid)
{
	size_t v;

	return id_map_get(&p->ranges_of, tgid, &v) ? &p->ranges[v] : NULL;
}

static struct range *new_range(struct preload *p, uint32_t tgid)
{
	struct range *r = range_of(p, tgid);

	if (!r) {
		if (p->nranges == p->cap_ranges) {
			size_t cap = p->cap_ranges ? 2 * p->cap_ranges : 16;
			struct range *n = realloc(p->ranges, cap * sizeof(*n));

			if (!n)
				return NULL;
			p->ranges = n;
			p->cap_ranges = cap;
		}
		if (id_map_put(&p->ranges_of, tgid, p->nranges))
			return NULL;
		r = &p->ranges[p->nranges++];
		memset(r, 0, sizeof(*r));
	}
	return r;
}

static bool in(uint64_t a, uint64_t lo, uint64_t hi)
{
	return a >= lo && a < hi;
}

/* Is rec the library's own: the loader mapping it (its first mapping has
 * the library's extent; the rest lie inside it), its mapping of the shared
 * memory, a fault on either, or anything the kernel saw while the library
 * worked for itself (FL_PRELOAD_OWN: its unwinder)? Those the uprobe path
 * does not have. */
static bool own_record(struct preload *p, const struct fl_hdr *h, const void *rec)
{
	struct range *r = range_of(p, h->tgid);

	if ((h->flags & (FL_F_PRELOAD | FL_F_IN_CALL)) == (FL_F_PRELOAD | FL_F_IN_CALL) && h->func == FL_PRELOAD_OWN)
		return true; /* made while the library worked for itself (fl_preload.h) */

	if (h->type == FL_EV_SYSCALL) {
		const struct fl_ev_syscall *s = rec;

		if (fl_syscall_failed(s->ret) || s->sys > FL_SYS_MPROTECT || s->sys == FL_SYS_BRK)
			return false;
		if (s->sys == FL_SYS_MMAP && (int)s->args[4] == p->fd && (s->args[3] & MAP_SHARED) &&
		    s->args[1] == sizeof(struct fl_preload_shm)) {
			r = new_range(p, h->tgid);
			if (r) {
				r->lo = (uint64_t)s->ret;
				r->hi = r->lo + s->args[1];
			}
			p->seen = true;
			return true;
		}
		if (s->sys == FL_SYS_MMAP && (!r || !r->lib_hi) && p->lib_extent && s->args[1] == p->lib_extent &&
		    (int)s->args[4] >= 0 && !(s->args[3] & (MAP_FIXED | MAP_ANONYMOUS)) && (r = new_range(p, h->tgid))) {
			r->lib_lo = (uint64_t)s->ret;
			r->lib_hi = r->lib_lo + p->lib_extent;
			return true;
		}
		return r && r->lib_hi && in(s->args[0], r->lib_lo, r->lib_hi);
	} else if (h->type == FL_EV_FAULT) {
		const struct fl_ev_fault *f = rec;

		return r && (in(f->addr, r->lo, r->hi) || in(f->addr, r->lib_lo, r->lib_hi));
	}
	return false;
}

/* ---- the merge ---- */

static void on_proc(struct preload *p, const struct fl_ev_proc *e)
{
	const struct fl_hdr *h = &e->h;
	int i;

	if (e->kind == FL_PROC_FORK) {
		struct range *r = range_of(p, h->tgid);

		i = ring_of(p, h->tid);
		if (i >= 0)
			emit_ring_before(p, i, h->ts);
		preload_add_target(p, (pid_t)e->child);
		if (r) {
			struct range copy = *r, *c = new_range(p, e->child);

			if (c)
				*c = copy;
		}
		return;
	}
	if (e->kind == FL_PROC_EXEC) {
		struct range *r = range_of(p, h->tgid);

		if (r)
			memset(r, 0, sizeof(*r)); /* a new image maps the library again */
	}
	find_rings(p);
	for (int k = p->nactive - 1; k >= 0; k--) {
		struct fl_preload_buf *b;

		if (k >= p->nactive)
			continue;
		i = p->active[k];
		b = ring(p, i);
		if (b->claim_ts > h->ts)
			continue; /* a thread of the new image, or a new thread of the same number */
		if ((e->kind == FL_PROC_EXIT && b->tid == h->tid) || (e->kind == FL_PROC_EXEC && b->tgid == h->tgid)) {
			/* its thread wrote all of it before exiting (or exec'ing) */
			emit_ring_to(p, i, UINT64_MAX);
			release_ring(p, i);
		}
	}
}

int preload_kernel_record(struct preload *p, const void *rec, size_t len)
{
	const struct fl_hdr *h = rec;
	int i;

	if (own_record(p, h, rec))
		return p->rc;
	i = ring_of(p, h->tid);
	if (i >= 0 && ring(p, i)->claim_ts > h->ts)
		i = ring_before(p, h->tid, h->ts); /* the thread's ring of its image before an exec */
	if (h->type == FL_EV_PROC) {
		on_proc(p, rec);
	} else if (i >= 0 && (h->flags & FL_F_PRELOAD)) {
		struct fl_preload_buf *b = ring(p, i);
		uint32_t ahead = h->cpu - (uint32_t)b->tail; /* calls before the record not yet emitted */

		if (ahead < 0x80000000u) /* else already emitted: the record comes late */
			emit_ring_to(p, i, b->tail + ahead);
	} else if (i >= 0) {
		emit_ring_before(p, i, h->ts);
	}
	if ((h->flags & FL_F_PRELOAD) && len <= sizeof(p->copy)) {
		struct fl_hdr *c = (struct fl_hdr *)p->copy;

		memcpy(p->copy, rec, len);
		c->flags &= (uint16_t)~FL_F_PRELOAD;
		c->cpu = 0;
		out(p, p->copy, len);
	} else {
		out(p, rec, len);
	}
	return p->rc;
}

/* Rings of processes that are not traced (children without -f) are freed
 * once their process is gone, so they do not take the rings traced threads
 * need: a process found gone before a drain (marked here) whose fork the
 * drain did not make a target (reap_untraced, after it). */
static void mark_untraced_gone(struct preload *p)
{
	for (int k = 0; k < p->nactive; k++) {
		int i = p->active[k];
		struct fl_preload_buf *b = ring(p, i);
		size_t v;

		p->gone[i] = !id_map_get(&p->targets, b->tgid, &v) && kill((pid_t)b->tgid, 0) && errno == ESRCH;
	}
}

static void reap_untraced(struct preload *p)
{
	for (int k = p->nactive - 1; k >= 0; k--) {
		int i = p->active[k];
		struct fl_preload_buf *b = ring(p, i);
		size_t v;

		if (!p->gone[i] || id_map_get(&p->targets, b->tgid, &v))
			continue;
		p->gone[i] = false;
		while (b->tail < head_of(b))
			emit_next(p, i); /* dropped: not a target */
		release_ring(p, i);
	}
}

void preload_snapshot(struct preload *p)
{
	uint64_t n;

	if (read(p->wake_fd, &n, sizeof(n)) < 0)
		n = 0; /* nothing written since: EAGAIN */
	__atomic_store_n(&p->shm->heartbeat, now_ns(), __ATOMIC_RELAXED);
	calibrate(p);
	find_rings(p);
	mark_untraced_gone(p);
	p->snap_tsc = __builtin_ia32_rdtsc() - (uint64_t)(((__int128)SNAP_LAG_NS << 32) / (p->mult > 0 ? p->mult : 1));
	for (int k = 0; k < p->nactive; k++)
		p->snap[p->active[k]] = head_of(ring(p, p->active[k]));
}

int preload_flush(struct preload *p)
{
	int i;

	reap_untraced(p);
	while ((i = oldest(p, true)) >= 0)
		emit_next(p, i);
	return p->rc;
}

int preload_flush_all(struct preload *p)
{
	int i;

	find_rings(p);
	while ((i = oldest(p, false)) >= 0)
		emit_next(p, i);
	return p->rc;
}

uint64_t preload_waits(const struct preload *p, uint64_t *wait_ns)
{
	if (wait_ns)
		*wait_ns = p->shm->wait_ns;
	return p->shm->waits;
}

void preload_set_stacks(struct preload *p, unsigned sample)
{
	p->shm->stack_sample = sample;
}

void preload_set_lossy(struct preload *p)
{
	p->shm->lossy = 1;
}

bool preload_stacks_missing(const struct preload *p)
{
	return __atomic_load_n(&p->shm->no_stack, __ATOMIC_RELAXED) != 0;
}

uint64_t preload_stacks_skipped(const struct preload *p)
{
	return __atomic_load_n(&p->shm->stacks_skipped, __ATOMIC_RELAXED);
}

uint64_t preload_unrecorded(const struct preload *p)
{
	return p->shm->unrecorded;
}

bool preload_busy(struct preload *p)
{
	find_rings(p);
	for (int k = 0; k < p->nactive; k++) {
		struct fl_preload_buf *b = ring(p, p->active[k]);

		if (head_of(b) - b->tail >= FL_PRELOAD_RECS / 8)
			return true;
	}
	return false;
}

bool preload_seen(const struct preload *p)
{
	return p->seen;
}
