/* tracer.c - the live BPF session: loads the skeleton, attaches the BTF
 * tracepoints (which need no tracefs) and the allocator's uprobes (on
 * uprobe-multi links where the kernel has them, else perf-event uprobes),
 * hands each ring-buffer record to a callback in drains bounded by a
 * deadline and a stop flag, and detaches, in a background child when nobody
 * waits (or waits only so long). Owns the libbpf message routing too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultline.skel.h"
#include "capture/kernel.h"
#include "capture/tracer.h"
#include "capture/uprobe_multi.h"
#include "util/io.h"
#include "capture/alloc/families.h"

#define MAX_LINKS 64
/* uprobes of one allocator: an entry and a return probe per function at most */
#define MAX_ALLOC_PROBES (2 * FL_NFUNC)

/* Everything attached: libbpf's links (uprobes, USDT; at close the
 * skeleton's tracepoint links too) and our uprobe-multi link fds. */
struct attachments {
	struct bpf_link *links[MAX_LINKS * 2];
	int nlinks;
	int fds[MAX_LINKS];
	int nfds;
};

struct tracer {
	struct faultline *skel;
	struct ring_buffer *rb;
	struct attachments att;
	bool use_multi;     /* uprobe programs loaded for uprobe-multi links */
	int nuprobes;
	bool detach_in_background;
	unsigned detach_wait_ms;        /* wait this long for a background detach */
	tracer_record_fn fn;
	void *ctx;
	const volatile sig_atomic_t *stop; /* a drain that heeds it ends when it is set */
	bool heed_stop;
	uint64_t drain_deadline;        /* CLOCK_MONOTONIC ns; 0: the drain is unbounded */
	unsigned since_clock;           /* records since the clock was last read */
	bool discarding;                /* records counted, not handed on */
	uint64_t discarded;
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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* libbpf's consume returns only when the ring is empty, which a busy target
 * can keep from happening for ever; a negative return here ends it early
 * (the record just handed on is consumed). */
static int on_record(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	int rc;

	if (t->discarding) {
		t->discarded++;
	} else {
		rc = t->fn(t->ctx, data, len);
		if (rc)
			return rc;
	}
	if (!t->drain_deadline)
		return 0;
	if (t->heed_stop && t->stop && *t->stop)
		return TRACER_CUT;
	if (++t->since_clock >= (t->discarding ? 1024u : 16u)) {
		t->since_clock = 0;
		if (mono_ns() >= t->drain_deadline)
			return TRACER_CUT;
	}
	return 0;
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

/* The entry program of each line of fl_funcs.h's table (bpf/faultline.bpf.c
 * makes one per line, enter_<ID>). */
static const char *const entry_prog_names[FL_NFUNC] = {
#define ENTRY_PROG_NAME(id, ...) "enter_" #id,
	FL_ENTRIES(ENTRY_PROG_NAME)
#undef ENTRY_PROG_NAME
};

/* Is the uprobe program name needed: its entry point is in some object
 * probed with uprobes (the shared return and free(NULL) programs whenever
 * any is)? */
static bool entry_needed(const struct tracer_opts *o, const char *name)
{
	if (o->count_only || !o->uprobes)
		return false;
	for (int f = 0; f < FL_NFUNC; f++)
		if (!strcmp(name, entry_prog_names[f]))
			return !o->entries_used || o->entries_used[f];
	return true;
}

/* Which programs are loaded: the uprobe programs for an allocator probed
 * with uprobes (for uprobe-multi links where use_multi), the USDT ones (off
 * by default: "?usdt") for refalloc, neither without calls (count_only). */
static void choose_programs(struct bpf_object *obj, const struct tracer_opts *o, bool use_multi)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		const char *sec = bpf_program__section_name(p);
		bool uprobe = !strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe");

		if (uprobe && !entry_needed(o, bpf_program__name(p)))
			bpf_program__set_autoload(p, false);
		else if (uprobe && use_multi)
			bpf_program__set_expected_attach_type(p, FL_ATTACH_UPROBE_MULTI);
		else if (!strcmp(sec, "usdt"))
			bpf_program__set_autoload(p, o->usdt_refalloc && !o->count_only);
	}
}

struct tracer *tracer_open(const struct tracer_opts *o, tracer_record_fn fn, void *ctx,
			   char *err, size_t errlen)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct kernel_features k;
	struct tracer *t;
	int e;

	libbpf_verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	if (tracer_check_supported(err, errlen))
		return NULL;
	setrlimit(RLIMIT_MEMLOCK, &rl); /* memcg accounting makes this optional */
	kernel_probe(&k);
	if (kernel_check(&k, o->stack_mode != 0, o->count_only, o->verbose, err, errlen))
		return NULL;
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
	t->skel->rodata->preload = o->preload;
	t->skel->rodata->stack_mode = o->stack_mode;
	t->skel->rodata->stack_sample = o->stack_sample ? o->stack_sample : 1;
	if (o->stack_bytes)
		t->skel->rodata->stack_bytes = o->stack_bytes;
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(t->skel->maps.events, o->ringbuf_bytes);
	if (!k.fault_tp) { /* said by kernel_check: faults are not traced */
		bpf_program__set_autoload(t->skel->progs.fault_user, false);
		bpf_program__set_autoload(t->skel->progs.fault_kernel, false);
	}
	/* uprobe programs are attached by hand, per allocator and pid */
	t->use_multi = k.uprobe_multi;
	choose_programs(t->skel->obj, o, t->use_multi);
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

int tracer_add_target(struct tracer *t, pid_t tgid, bool pending, char *err, size_t errlen)
{
	__u32 key = tgid, val = pending ? FL_TARGET_PENDING : FL_TARGET_ACTIVE;
	int e = bpf_map_update_elem(bpf_map__fd(t->skel->maps.targets), &key, &val, BPF_ANY);

	if (e)
		return snprintf(err, errlen, "adding pid %d to the traced set failed: %s", (int)tgid, strerror(-e)), -1;
	return 0;
}

int tracer_remove_target(struct tracer *t, pid_t tgid)
{
	__u32 key = tgid;

	return bpf_map_delete_elem(bpf_map__fd(t->skel->maps.targets), &key);
}

static struct bpf_program *entry_prog(struct faultline *s, int func)
{
	return bpf_object__find_program_by_name(s->obj, entry_prog_names[func]);
}

/* One uprobe of an allocator: the program, where, entry or return. */
struct probe_spec {
	struct bpf_program *prog;
	bool ret;
	uint64_t off;
	int func;
	uint64_t cookie; /* the entry program's FL_ARGMAP_* (0 for the others) */
};

/* A perf-event uprobe through libbpf (kernels without uprobe-multi links). */
static int attach_perf_uprobe(struct tracer *t, const struct probe_spec *p, pid_t pid, const char *path)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = p->ret, .bpf_cookie = p->cookie);
	struct bpf_link *l;

	if (t->att.nlinks >= MAX_LINKS)
		return -E2BIG;
	l = bpf_program__attach_uprobe_opts(p->prog, pid, path, p->off, &opts);
	if (!l)
		return -errno;
	t->att.links[t->att.nlinks++] = l;
	t->nuprobes++;
	return 0;
}

/* One uprobe-multi link for spec[at]'s program: its offsets in every spec. */
static int attach_multi_uprobe(struct tracer *t, const struct probe_spec *spec, int n, int at, pid_t pid,
			       const char *path)
{
	uint64_t offs[MAX_ALLOC_PROBES], cookies[MAX_ALLOC_PROBES];
	unsigned k = 0;
	bool any = false;
	int fd;

	if (t->att.nfds >= MAX_LINKS)
		return -E2BIG;
	for (int i = at; i < n; i++)
		if (spec[i].prog == spec[at].prog) {
			cookies[k] = spec[i].cookie;
			any |= spec[i].cookie != 0;
			offs[k++] = spec[i].off;
		}
	fd = uprobe_multi_attach(bpf_program__fd(spec[at].prog), path, offs, any ? cookies : NULL, k,
				 spec[at].ret, pid);
	if (fd < 0)
		return fd;
	t->att.fds[t->att.nfds++] = fd;
	t->nuprobes += (int)k;
	return 0;
}

static bool prog_seen_before(const struct probe_spec *spec, int at)
{
	for (int i = 0; i < at; i++)
		if (spec[i].prog == spec[at].prog)
			return true;
	return false;
}

/* Every uprobe an allocator needs: an entry probe per function, a return
 * probe for all but free, free's past its NULL test plus its NULL path. */
static int allocator_probes(struct tracer *t, const struct allocator *a, struct probe_spec *spec)
{
	int n = 0;

	for (int f = 0; f < FL_NFUNC; f++) {
		if (!a->offset[f] || a->alias_of[f] >= 0)
			continue;
		uint64_t off = a->offset[f] + (f == FL_FREE && a->free_skip ? a->free_skip : a->skip[f]);

		spec[n++] = (struct probe_spec){ entry_prog(t->skel, f), false, off, f, a->argmap[f] };
		if (!fl_is_free(f)) /* free-like calls are followed without a return probe */
			spec[n++] = (struct probe_spec){ t->skel->progs.call_return, true, off, f, 0 };
		else if (f == FL_FREE && a->free_skip)
			spec[n++] = (struct probe_spec){ t->skel->progs.free_null, false, a->free_null_offset, f, 0 };
	}
	return n;
}

/* refalloc's USDT probes, each taken by the program ra_<probe>. */
static int attach_refalloc(struct tracer *t, const struct allocator *a, pid_t pid, char *err, size_t errlen)
{
	for (size_t i = 0; i < refalloc_nprobes; i++) {
		char name[64];
		struct bpf_program *prog;
		struct bpf_link *l;

		snprintf(name, sizeof(name), "ra_%s", refalloc_probes[i]);
		prog = bpf_object__find_program_by_name(t->skel->obj, name);
		if (!prog)
			return snprintf(err, errlen, "no BPF program %s for USDT probe refalloc:%s", name,
					refalloc_probes[i]), -1;
		if (t->att.nlinks >= MAX_LINKS)
			return snprintf(err, errlen, "too many probes"), -1;
		l = bpf_program__attach_usdt(prog, pid, a->path, "refalloc", refalloc_probes[i], NULL);
		if (!l)
			return snprintf(err, errlen, "attaching USDT probe refalloc:%s in %s failed: %s",
					refalloc_probes[i], a->path, strerror(errno)), -1;
		t->att.links[t->att.nlinks++] = l;
		t->nuprobes++;
	}
	return 0;
}

int tracer_attach_allocator(struct tracer *t, const struct allocator *a, pid_t pid,
			    char *err, size_t errlen)
{
	struct probe_spec spec[MAX_ALLOC_PROBES];
	int n;

	if (a->usdt_refalloc)
		return attach_refalloc(t, a, pid, err, errlen);
	n = allocator_probes(t, a, spec);
	for (int i = 0; i < n; i++) {
		int e;

		if (!spec[i].prog)
			return snprintf(err, errlen, "this faultline has no BPF program for %s (a build out of date?)",
					fl_entries[spec[i].func].symbol), -1;

		if (!t->use_multi)
			e = attach_perf_uprobe(t, &spec[i], pid, a->path);
		else if (!prog_seen_before(spec, i))
			e = attach_multi_uprobe(t, spec, n, i, pid, a->path);
		else
			continue;
		if (e && !t->use_multi)
			return snprintf(err, errlen, "attaching a uprobe to %s in %s failed: %s",
					fl_func_name(spec[i].func), a->path, strerror(-e)), -1;
		if (e)
			return snprintf(err, errlen, "attaching the uprobes of %s in %s (one uprobe-multi link) "
					 "failed: %s; FAULTLINE_NO_UPROBE_MULTI=1 uses perf-event uprobes",
					 bpf_program__name(spec[i].prog), a->path, strerror(-e)), -1;
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

int tracer_wake_on(struct tracer *t, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u32 = 0; /* seen as ring 0 by a ring_buffer__poll: a harmless extra consume */
	return epoll_ctl(ring_buffer__epoll_fd(t->rb), EPOLL_CTL_ADD, fd, &ev);
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

void tracer_set_stop_flag(struct tracer *t, const volatile sig_atomic_t *flag)
{
	t->stop = flag;
}

int tracer_drain_until(struct tracer *t, uint64_t deadline_ns, bool heed_stop)
{
	int n;

	if (mono_ns() >= deadline_ns || (heed_stop && t->stop && *t->stop))
		return TRACER_CUT;
	t->drain_deadline = deadline_ns;
	t->heed_stop = heed_stop;
	t->since_clock = 0;
	n = ring_buffer__consume(t->rb);
	t->drain_deadline = 0;
	return n;
}

void tracer_quiesce(struct tracer *t)
{
	int fd = bpf_map__fd(t->skel->maps.targets);
	__u32 key;

	__atomic_store_n(&t->skel->bss->armed, false, __ATOMIC_SEQ_CST);
	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			break;
}

uint64_t tracer_count_unread(struct tracer *t, uint64_t deadline_ns)
{
	t->discarding = true;
	t->discarded = 0;
	tracer_drain_until(t, deadline_ns, false);
	t->discarding = false;
	return t->discarded;
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

const char *tracer_uprobe_kind(const struct tracer *t)
{
	return t->att.nfds ? "uprobe-multi links" : "perf-event uprobes";
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

static void *close_fd(void *fd)
{
	close((int)(intptr_t)fd);
	return NULL;
}

/* Each teardown waits for grace periods; the waits of uprobe-multi links
 * overlap when they go in parallel (perf-event uprobes take a global mutex
 * and go one by one all the same). */
static void detach_all(struct attachments *a)
{
	pthread_t th[MAX_LINKS * 3];
	bool started[MAX_LINKS * 3] = { 0 };
	int n = a->nlinks;

	for (int i = 0; i < a->nlinks; i++)
		started[i] = !pthread_create(&th[i], NULL, destroy_link, a->links[i]);
	for (int i = 0; i < a->nfds; i++)
		started[n + i] = !pthread_create(&th[n + i], NULL, close_fd, (void *)(intptr_t)a->fds[i]);
	for (int i = 0; i < n + a->nfds; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else if (i < n)
			bpf_link__destroy(a->links[i]);
		else
			close(a->fds[i - n]);
	}
	a->nlinks = a->nfds = 0;
}

/* Our own references only: the child holds copies of every fd. */
static void drop_own_copies(struct attachments *a)
{
	for (int i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]); /* disables a perf event, closes our fds */
	for (int i = 0; i < a->nfds; i++)
		close(a->fds[i]);
	a->nlinks = a->nfds = 0;
}

/* In the detach child: stdio to /dev/null, and every fd that is not a BPF
 * or perf object (files, pipes, sockets the parent had) closed but `keep`:
 * whoever reads a pipe or FIFO the parent wrote sees its end now, not after
 * the teardown. (The fds of libbpf's USDT links are hidden inside it, so the
 * kind of file decides, not a list.) */
static void close_all_but_bpf(int keep)
{
	int null = open("/dev/null", O_RDWR);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	for (int fd = 0; null >= 0 && fd < 3; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	while (d && (e = readdir(d))) {
		char path[64], target[32];
		int fd = atoi(e->d_name); /* "." and "..": 0 */
		ssize_t n;

		if (fd < 3 || fd == keep || fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target));
		if (n < 11 || memcmp(target, "anon_inode:", 11) != 0)
			close(fd);
	}
	if (d)
		closedir(d);
}

/* The teardown takes the kernel a while (about 0.1 s per perf-event uprobe,
 * one at a time: 1.7 s for faultline's; one or two grace periods for
 * uprobe-multi links). When nobody waits for it (the traced command has
 * exited), a child holding copies of the fds does it. Whoever closes the
 * last copy pays, so the child waits until ours are closed. */
static pid_t detach_in_child(struct attachments *a)
{
	int ours_closed[2];
	pid_t pid;
	char c;

	if (pipe2(ours_closed, O_CLOEXEC) < 0)
		return -1; /* then here, the slow way */
	pid = fork();
	if (pid == 0) {
		setsid();
		close_all_but_bpf(ours_closed[0]);
		io_read(ours_closed[0], &c, 1);
		detach_all(a);
		_exit(0);
	}
	close(ours_closed[0]);
	if (pid > 0)
		drop_own_copies(a);
	close(ours_closed[1]); /* EOF: the child's copies are the last ones */
	return pid;
}

/* Waits up to ms for the detach child (on its pidfd: a sleep loop overshot
 * by 2x under qemu); past that it finishes on its own. */
static void wait_detach(pid_t pid, unsigned ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	uint64_t until = mono_ns() + ms * 1000000ull;

	while (pfd >= 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		uint64_t now = mono_ns();

		if (now >= until || poll(&p, 1, (int)((until - now + 999999) / 1000000)) == 0)
			break;
	}
	if (pfd >= 0)
		close(pfd);
}

void tracer_close(struct tracer *t)
{
	struct attachments *a;

	if (!t)
		return;
	a = &t->att;
	ring_buffer__free(t->rb);
	if (t->skel && t->skel->skeleton) {
		struct bpf_object_skeleton *sk = t->skel->skeleton;

		for (int i = 0; i < sk->prog_cnt && a->nlinks < MAX_LINKS * 2; i++) {
			if (sk->progs[i].link && *sk->progs[i].link) {
				a->links[a->nlinks++] = *sk->progs[i].link;
				*sk->progs[i].link = NULL;
			}
		}
	}
	if ((t->detach_in_background || t->detach_wait_ms) && a->nlinks + a->nfds > 0) {
		pid_t pid = detach_in_child(a);

		if (pid > 0 && t->detach_wait_ms)
			wait_detach(pid, t->detach_wait_ms);
	}
	detach_all(a);
	faultline__destroy(t->skel);
	free(t);
}

void tracer_detach_in_background(struct tracer *t)
{
	t->detach_in_background = true;
}

void tracer_detach_within(struct tracer *t, unsigned ms)
{
	t->detach_wait_ms = ms;
}
