/* tracer.c - the live BPF session: loads the skeleton, attaches the BTF
 * tracepoints (which need no tracefs) and the allocator's uprobes, and hands
 * each ring-buffer record to a callback. Owns the libbpf message routing too. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultline.skel.h"
#include "tracer.h"

#define MAX_LINKS 64

struct tracer {
	struct faultline *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int nuprobes;
	bool detach_in_background;
	tracer_record_fn fn;
	void *ctx;
};

static int libbpf_verbose;
static char libbpf_last[512];

/* libbpf's messages: kept (the last one explains a failure), shown with -vv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (level != LIBBPF_DEBUG) {
		vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, copy);
		libbpf_last[strcspn(libbpf_last, "\n")] = 0;
	}
	va_end(copy);
	if (libbpf_verbose >= 2 || (libbpf_verbose && level != LIBBPF_DEBUG))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;

	return t->fn(t->ctx, data, len);
}

static void explain_load_error(int e, char *err, size_t errlen)
{
	if ((e == EPERM || e == EACCES) && geteuid() != 0)
		snprintf(err, errlen, "loading BPF programs was refused (%s): run as root "
			 "(CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN are needed)", strerror(e));
	else if (e == EACCES)
		snprintf(err, errlen, "this kernel's BPF verifier rejected a faultline program "
			 "(unsupported kernel?); run with -vv for the verifier's log");
	else
		snprintf(err, errlen, "loading BPF programs failed: %s%s%s", strerror(e),
			 libbpf_last[0] ? "; libbpf: " : "", libbpf_last);
}

/* The kernel's own support, checked before anything is loaded. */
int tracer_check_supported(char *err, size_t errlen)
{
	struct stat st;

	if (stat("/sys/kernel/btf/vmlinux", &st))
		return snprintf(err, errlen, "this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"faultline needs CONFIG_DEBUG_INFO_BTF"), -1;
	if (geteuid() != 0)
		return snprintf(err, errlen, "faultline must run as root (it loads BPF programs "
				"and attaches uprobes)"), -1;
	return 0;
}

struct tracer *tracer_open(const struct tracer_opts *o, tracer_record_fn fn, void *ctx,
			   char *err, size_t errlen)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct tracer *t;
	int e;

	libbpf_verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	if (tracer_check_supported(err, errlen))
		return NULL;
	setrlimit(RLIMIT_MEMLOCK, &rl); /* memcg accounting makes this optional */
	t = calloc(1, sizeof(*t));
	if (!t)
		return snprintf(err, errlen, "out of memory"), NULL;
	t->fn = fn;
	t->ctx = ctx;
	t->skel = faultline__open();
	if (!t->skel) {
		explain_load_error(errno, err, errlen);
		goto fail;
	}
	t->skel->rodata->follow_forks = o->follow_forks;
	t->skel->rodata->uprobes_per_pid = !o->follow_forks;
	t->skel->rodata->count_only = o->count_only;
	t->skel->rodata->stack_mode = o->stack_mode;
	t->skel->rodata->stack_sample = o->stack_sample ? o->stack_sample : 1;
	if (o->stack_bytes)
		t->skel->rodata->stack_bytes = o->stack_bytes;
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(t->skel->maps.events, o->ringbuf_bytes);
	/* uprobe programs are attached by hand, per allocator and pid */
	e = faultline__load(t->skel);
	if (e) {
		explain_load_error(-e, err, errlen);
		goto fail;
	}
	e = faultline__attach(t->skel);
	if (e) {
		snprintf(err, errlen, "attaching the tracepoints failed: %s%s%s", strerror(-e),
			 libbpf_last[0] ? "; libbpf: " : "", libbpf_last);
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		snprintf(err, errlen, "ring buffer setup failed: %s", strerror(errno));
		goto fail;
	}
	return t;
fail:
	tracer_close(t);
	return NULL;
}

int tracer_add_target(struct tracer *t, pid_t tgid, bool pending)
{
	__u32 key = tgid, val = pending ? FL_TARGET_PENDING : FL_TARGET_ACTIVE;

	return bpf_map_update_elem(bpf_map__fd(t->skel->maps.targets), &key, &val, BPF_ANY);
}

int tracer_remove_target(struct tracer *t, pid_t tgid)
{
	__u32 key = tgid;

	return bpf_map_delete_elem(bpf_map__fd(t->skel->maps.targets), &key);
}

static struct bpf_program *entry_prog(struct faultline *s, int func)
{
	switch (func) {
	case FL_MALLOC: return s->progs.malloc_enter;
	case FL_CALLOC: return s->progs.calloc_enter;
	case FL_REALLOC: return s->progs.realloc_enter;
	case FL_REALLOCARRAY: return s->progs.reallocarray_enter;
	case FL_FREE: return s->progs.free_enter;
	case FL_POSIX_MEMALIGN: return s->progs.posix_memalign_enter;
	case FL_ALIGNED_ALLOC: return s->progs.aligned_alloc_enter;
	case FL_MEMALIGN: return s->progs.memalign_enter;
	case FL_VALLOC: return s->progs.valloc_enter;
	default: return s->progs.pvalloc_enter;
	}
}

static int attach_one(struct tracer *t, struct bpf_program *prog, bool ret, pid_t pid,
		      const char *path, uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
	struct bpf_link *l;

	if (t->nlinks >= MAX_LINKS)
		return -E2BIG;
	l = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!l)
		return -errno;
	t->links[t->nlinks++] = l;
	t->nuprobes++;
	return 0;
}

/* refalloc's USDT probes and the programs that take them. */
static int attach_refalloc(struct tracer *t, const struct allocator *a, pid_t pid, char *err, size_t errlen)
{
	struct faultline *s = t->skel;
	const struct { const char *probe; struct bpf_program *prog; } probes[] = {
		{ "malloc_entry", s->progs.ra_malloc_entry }, { "malloc_return", s->progs.ra_malloc_return },
		{ "free_entry", s->progs.ra_free_entry }, { "free_return", s->progs.ra_free_return },
		{ "calloc_entry", s->progs.ra_calloc_entry }, { "calloc_return", s->progs.ra_calloc_return },
		{ "realloc_entry", s->progs.ra_realloc_entry }, { "realloc_return", s->progs.ra_realloc_return },
		{ "reallocarray_entry", s->progs.ra_reallocarray_entry },
		{ "reallocarray_return", s->progs.ra_reallocarray_return },
		{ "posix_memalign_entry", s->progs.ra_posix_memalign_entry },
		{ "posix_memalign_return", s->progs.ra_posix_memalign_return },
		{ "aligned_alloc_entry", s->progs.ra_aligned_alloc_entry },
		{ "aligned_alloc_return", s->progs.ra_aligned_alloc_return },
		{ "memalign_entry", s->progs.ra_memalign_entry }, { "memalign_return", s->progs.ra_memalign_return },
		{ "valloc_entry", s->progs.ra_valloc_entry }, { "valloc_return", s->progs.ra_valloc_return },
		{ "pvalloc_entry", s->progs.ra_pvalloc_entry }, { "pvalloc_return", s->progs.ra_pvalloc_return },
		{ "heap_grow", s->progs.ra_heap_grow }, { "heap_trim", s->progs.ra_heap_trim },
		{ "heap_madvise", s->progs.ra_heap_madvise }, { "freelist_miss", s->progs.ra_freelist_miss },
		{ "block_mmap", s->progs.ra_block_mmap }, { "block_munmap", s->progs.ra_block_munmap },
		{ "block_mremap", s->progs.ra_block_mremap },
	};

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct bpf_link *l;

		if (t->nlinks >= MAX_LINKS)
			return snprintf(err, errlen, "too many probes"), -1;
		l = bpf_program__attach_usdt(probes[i].prog, pid, a->path, "refalloc", probes[i].probe, NULL);
		if (!l)
			return snprintf(err, errlen, "attaching USDT probe refalloc:%s in %s failed: %s",
					probes[i].probe, a->path, strerror(errno)), -1;
		t->links[t->nlinks++] = l;
		t->nuprobes++;
	}
	return 0;
}

int tracer_attach_allocator(struct tracer *t, const struct allocator *a, pid_t pid,
			    char *err, size_t errlen)
{
	if (a->usdt_refalloc)
		return attach_refalloc(t, a, pid, err, errlen);
	for (int f = 0; f < FL_NFUNC; f++) {
		int e;

		if (!a->offset[f] || a->alias_of[f] >= 0)
			continue;
		uint64_t off = a->offset[f] + (f == FL_FREE ? a->free_skip : 0);

		e = attach_one(t, entry_prog(t->skel, f), false, pid, a->path, off);
		if (!e && f != FL_FREE) /* free is followed without a return probe */
			e = attach_one(t, t->skel->progs.call_return, true, pid, a->path, off);
		if (!e && f == FL_FREE && a->free_skip)
			e = attach_one(t, t->skel->progs.free_null, false, pid, a->path, a->free_null_offset);
		if (e) {
			snprintf(err, errlen, "attaching a uprobe to %s in %s failed: %s",
				 fl_func_names[f], a->path, strerror(-e));
			return -1;
		}
	}
	return 0;
}

void tracer_arm(struct tracer *t)
{
	__atomic_store_n(&t->skel->bss->armed, true, __ATOMIC_SEQ_CST);
}

int tracer_poll(struct tracer *t, int timeout_ms)
{
	return ring_buffer__poll(t->rb, timeout_ms);
}

void tracer_wait(struct tracer *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = ring_buffer__epoll_fd(t->rb), .events = POLLIN };

	poll(&pfd, 1, timeout_ms);
}

int tracer_drain(struct tracer *t)
{
	return ring_buffer__consume(t->rb);
}

uint64_t tracer_ring_peak(struct tracer *t, uint64_t *size)
{
	*size = bpf_map__max_entries(t->skel->maps.events);
	return __atomic_load_n(&t->skel->bss->ring_peak, __ATOMIC_RELAXED);
}

uint64_t tracer_lost(struct tracer *t)
{
	return tracer_counter(t, FL_CNT_LOST);
}

uint64_t tracer_counter(struct tracer *t, int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 key = idx;
	uint64_t sum = 0;
	__u64 *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.counters), &key, vals))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

int tracer_uprobe_count(const struct tracer *t)
{
	return t->nuprobes;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Each link's teardown waits for an RCU grace period (about 0.2 s here);
 * one after the other they would take seconds, so they go in parallel. */
static void destroy_links(struct bpf_link **links, int n)
{
	pthread_t th[MAX_LINKS * 2];
	bool started[MAX_LINKS * 2] = { 0 };

	for (int i = 0; i < n; i++)
		started[i] = links[i] && !pthread_create(&th[i], NULL, destroy_link, links[i]);
	for (int i = 0; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else if (links[i])
			bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

/* The kernel takes about 0.1-0.4 s per uprobe link to tear it down (an RCU
 * grace period each), close to 2 s in all. When nobody waits for that (the
 * traced command has exited), a child holding copies of the link fds does the
 * teardown, and our own closes only drop references. */
static void detach_in_child(struct bpf_link **links, int n)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		destroy_links(links, n);
		_exit(0);
	}
	if (pid < 0)
		return; /* then here, the slow way */
	for (int i = 0; i < n; i++) {
		bpf_link__disconnect(links[i]); /* our fds go at exit; the child detaches */
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

void tracer_close(struct tracer *t)
{
	struct bpf_link *all[MAX_LINKS * 2];
	int n = 0;

	if (!t)
		return;
	ring_buffer__free(t->rb);
	for (int i = 0; i < t->nlinks; i++)
		all[n++] = t->links[i];
	t->nlinks = 0;
	if (t->skel && t->skel->skeleton) {
		struct bpf_object_skeleton *sk = t->skel->skeleton;

		for (int i = 0; i < sk->prog_cnt && n < MAX_LINKS * 2; i++) {
			if (sk->progs[i].link && *sk->progs[i].link) {
				all[n++] = *sk->progs[i].link;
				*sk->progs[i].link = NULL;
			}
		}
	}
	if (t->detach_in_background && n > 0)
		detach_in_child(all, n);
	destroy_links(all, n);
	faultline__destroy(t->skel);
	free(t);
}

void tracer_detach_in_background(struct tracer *t)
{
	t->detach_in_background = true;
}
