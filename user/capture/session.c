/* session.c - one tracing session: start CMD held before its execve (or
 * attach to a running PID), put the probes in place, pass every record to
 * the consumer until the target is gone, a duration passes or a signal
 * arrives, then say what was lost. The meta records (meta.h) that a report
 * needs are produced here, so `record` and `trace` see the same stream.
 * Attached (-p), it ends on time: drains are bounded, and once the duration
 * is over or a signal came, the kernel is quieted, what the consumer can take
 * in a few hundred milliseconds is taken and the rest counted as lost; the
 * lock file /run/faultline/PID.lock is removed on the way out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "capture/alloc/allocator.h"
#include "store/buildid_cache.h"
#include "capture/child.h"
#include "store/meta.h"
#include "capture/session.h"
#include "symbols/elf.h"
#include "symbols/maps.h"
#include "symbols/smaps.h"
#include "capture/tracer.h"
#include "capture/preload.h"
#include "capture/probe_path.h"
#include "fl_preload.h"
#include "util/safe_file.h"

#define MAX_MAPPED 1024
#include "util/id_map.h"
#include "util/escape.h"

struct session {
	const struct session_opts *o;
	struct session_result *res;
	struct tracer *tracer;
	struct alloc_set allocs;     /* the target's allocator objects (found before the tracer is opened) */
	char path[4096];             /* the command's file */
	struct child_creds creds;    /* who it runs as */
	pid_t pid;                   /* the target (the command, or the attached process) */
	struct id_map mapped;        /* tgids whose maps are stored (hash tables: a process */
	struct id_map stale;         /* that forks 200k children costs O(1) per event) */
	bool any_mapped;             /* --stacks: stale: tgids whose stored maps miss new code */
	uint32_t last_mapped;        /* the tgid whose maps were stored last */
	bool ptraced;                /* the command stops at its exit: its last maps, smaps */
	char **objects;              /* --stacks: "tgid path" of the objects whose build-id is stored */
	size_t nobjects;
	bool cache_warned;
	int consumer_rc;
	uint64_t records, busy_ns;   /* for the self statistics */
	uint64_t unread;             /* -p: records left in the ring at the stop (lost) */
	uint64_t stop_at;            /* -p: when the stop began (CLOCK_MONOTONIC ns) */
	struct preload *preload;     /* --probes preload: the library's records */
	const char *preload_variant; /* its build (probe_path_library_variant) */
};

/* -p: the time from the stop (duration over, signal) to the exit, at most:
 * the last drain, counting what is left, the detach. */
#define STOP_DRAIN_MS 150
#define STOP_COUNT_MS 250
#define STOP_DETACH_MS 200
#define STOP_TOTAL_MS 600     /* no wait for the detach past this */
/* each drain of the run loop, at most (then signals and the clock are looked at) */
#define DRAIN_SLICE_MS 100

static volatile sig_atomic_t stop_signal;

static volatile sig_atomic_t boost_on_signal; /* -p: the stop starts here (finish_attached) */

static void on_signal(int sig)
{
	stop_signal = sig;
	if (boost_on_signal)
		setpriority(PRIO_PROCESS, 0, -10); /* a system call: safe here */
}

void session_request_stop(void)
{
	stop_signal = SIGTERM;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void emit_meta(struct session *s, uint8_t kind, uint32_t tgid, uint64_t value,
		      const void *data, size_t len)
{
	size_t size = sizeof(struct fl_meta) + len;
	struct fl_meta *m = calloc(1, size);

	if (!m)
		return;
	m->type = FL_REC_META;
	m->kind = kind;
	m->tgid = tgid;
	m->value = value;
	if (len)
		memcpy(m + 1, data, len);
	if (s->o->consume(s->o->ctx, m, size))
		s->consumer_rc = 1;
	free(m);
}

static bool maps_stored(const struct session *s, uint32_t tgid)
{
	size_t unused;

	return id_map_get(&s->mapped, tgid, &unused);
}

/* --stacks: code mapped (or an exec) since tgid's maps were stored. */
static void mark_stale(struct session *s, uint32_t tgid)
{
	id_map_put(&s->stale, tgid, 0); /* out of memory: its maps are not stored again */
}

static bool take_stale(struct session *s, uint32_t tgid)
{
	return id_map_del(&s->stale, tgid);
}

struct object_note {
	struct session *s;
	uint32_t tgid;
};

/* --stacks: one executable object of tgid: its build-id stored, its bytes
 * copied into the build-id cache (once), for a report after the process. */
static void note_object(void *ctx, const char *path, const char *via)
{
	struct object_note *on = ctx;
	struct session *s = on->s;
	char key[4200], id[130], data[4300];
	size_t plen = strlen(path);
	int rc, too_large = 0;
	char **no;

	snprintf(key, sizeof(key), "%u %s", on->tgid, path);
	for (size_t i = 0; i < s->nobjects; i++)
		if (!strcmp(s->objects[i], key))
			return;
	no = realloc(s->objects, (s->nobjects + 1) * sizeof(*no));
	if (!no || !(no[s->nobjects] = strdup(key)))
		return;
	s->objects = no;
	s->nobjects++;
	if (elf_build_id_hex(via, id, sizeof(id)) <= 0 || plen + strlen(id) + 2 > sizeof(data))
		return;
	if (buildid_cache_open()) {
		if (!s->cache_warned)
			fprintf(stderr, "faultline: %s (recording without it: reports read objects from their "
				"paths)\n", buildid_cache_error());
		s->cache_warned = true;
	} else if ((rc = buildid_cache_add(id, via)) == BUILDID_CACHE_TOO_LARGE) {
		too_large = 1;
		fprintf(stderr, "faultline: %s is larger than the build-id cache's bound of %llu MiB per "
			"object: not copied (reports read it from its path)\n", path,
			(unsigned long long)(buildid_cache_max_object() >> 20));
	} else if (rc && !s->cache_warned) {
		s->cache_warned = true;
		fprintf(stderr, "faultline: cannot copy %s into the build-id cache %s: %s (reports will "
			"read it from its path)\n", path, buildid_cache_dir(), sf_strerror(errno));
	}
	memcpy(data, path, plen + 1);
	memcpy(data + plen + 1, id, strlen(id));
	emit_meta(s, FL_META_BUILD_ID, on->tgid, too_large, data, plen + 1 + strlen(id));
}

static void free_objects(struct session *s)
{
	for (size_t i = 0; i < s->nobjects; i++)
		free(s->objects[i]);
	free(s->objects);
}

/* The length of maps text's first lines that fit meta.h's limits (all of it,
 * but for a process with hundreds of thousands of mappings). */
static size_t maps_within_limits(const char *text, size_t len)
{
	size_t lines = 0, keep = 0;

	if (fl_meta_maps_ok(text, len))
		return len;
	for (const char *p = text, *end = text + len; p < end && (p = memchr(p, '\n', end - p)); p++) {
		if (++lines > FL_META_MAX_MAPS_LINES || (size_t)(p + 1 - text) > FL_META_MAX_MAPS_BYTES)
			break;
		keep = (size_t)(p + 1 - text);
	}
	return keep;
}

/* Stores tgid's /proc/PID/maps as a meta record (again, with force). */
static void store_maps(struct session *s, uint32_t tgid, bool force)
{
	size_t len;
	char *text;

	if (maps_stored(s, tgid) && !force)
		return;
	if (!maps_stored(s, tgid) && id_map_put(&s->mapped, tgid, 0) == 0) {
		s->any_mapped = true;
		s->last_mapped = tgid;
	}
	text = proc_maps_read(tgid, &len);
	if (text)
		len = maps_within_limits(text, len);
	if (text && len && s->o->stack_mode) {
		struct object_note on = { s, tgid };

		proc_maps_for_each_code(tgid, text, len, note_object, &on);
	}
	if (text && len)
		emit_meta(s, FL_META_MAPS, tgid, 0, text, len);
	free(text);
}

static void emit_maps(struct session *s, uint32_t tgid)
{
	store_maps(s, tgid, false);
}

/* --stacks: a stack is unwound with the maps stored before it, so they are
 * stored (again) before a stack of a process whose code changed. */
static void maps_before_stack(struct session *s, const struct fl_hdr *h, const void *rec)
{
	if (h->type == FL_EV_STACK) {
		if (!maps_stored(s, h->tgid) || take_stale(s, h->tgid))
			store_maps(s, h->tgid, true);
	} else if (h->type == FL_EV_SYSCALL) {
		const struct fl_ev_syscall *e = rec;

		if ((e->sys == FL_SYS_MMAP || e->sys == FL_SYS_MPROTECT || e->sys == FL_SYS_MREMAP) &&
		    e->ret >= 0 && (e->sys == FL_SYS_MREMAP || (e->args[2] & PROT_EXEC)))
			mark_stale(s, h->tgid);
	} else if (h->type == FL_EV_PROC && ((const struct fl_ev_proc *)rec)->kind == FL_PROC_EXEC) {
		mark_stale(s, h->tgid);
	}
}

/* The command's arguments, as many as fit in meta.h's limits (what a
 * reader accepts). */
static void emit_command(struct session *s, char **argv)
{
	size_t len = 0, off = 0;
	int argc = 0;
	char *buf;

	for (; argv[argc] && (unsigned)argc < FL_META_MAX_COMMAND_ARGS &&
	       len + strlen(argv[argc]) + 1 <= FL_META_MAX_COMMAND_BYTES; argc++)
		len += strlen(argv[argc]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(buf + off, argv[i], n);
		off += n;
	}
	emit_meta(s, FL_META_COMMAND, 0, 0, buf, off);
	free(buf);
}

/* The parent pid in /proc/PID/status, 0 if unknown. */
static uint32_t proc_ppid(pid_t pid)
{
	char path[64], line[256];
	unsigned ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %u", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}

/* FL_META_PROC for pid: its executable's real path, its argv without the
 * padding a process that rewrote its title leaves (trailing NULs and
 * spaces), its parent. Read at its exec: a process gone by then has none. */
static void emit_proc_info(struct session *s, pid_t pid)
{
	char path[64], buf[FL_META_MAX_PATH_BYTES + 8192];
	ssize_t n;
	size_t off;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, FL_META_MAX_PATH_BYTES);
	if (n <= 0 || n >= (ssize_t)FL_META_MAX_PATH_BYTES)
		return;
	buf[n] = 0;
	off = (size_t)n + 1;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf + off, sizeof(buf) - off - 1);
		close(fd);
		if (n > 0) {
			size_t end = off + (size_t)n;

			while (end > off && (buf[end - 1] == 0 || buf[end - 1] == ' '))
				end--;
			if (end > off)
				buf[end++] = 0;
			off = end;
		}
	}
	emit_meta(s, FL_META_PROC, (uint32_t)pid, proc_ppid(pid), buf, off);
}

/* FL_META_PROC for the command faultline starts: its file's real path and
 * its argv (as many as fit in buf), before its exec. */
static void emit_command_info(struct session *s, pid_t pid, char **argv)
{
	char buf[FL_META_MAX_PATH_BYTES + 8192], real[PATH_MAX];
	size_t off;

	if (!realpath(s->path, real) || strlen(real) >= FL_META_MAX_PATH_BYTES)
		return;
	off = strlen(real) + 1;
	memcpy(buf, real, off);
	for (int i = 0; argv[i] && off + strlen(argv[i]) + 1 <= sizeof(buf); i++) {
		memcpy(buf + off, argv[i], strlen(argv[i]) + 1);
		off += strlen(argv[i]) + 1;
	}
	while (off > strlen(real) + 2 && buf[off - 2] == 0)
		off--; /* no trailing empty strings */
	emit_meta(s, FL_META_PROC, (uint32_t)pid, (uint64_t)getpid(), buf, off);
}

static int deliver(void *ctx, const void *rec, size_t len);

/* The kernel's records pass through here on their way to the consumer (on
 * the preload path, with the library's call records put in their place). */
static int on_record(void *ctx, const void *rec, size_t len)
{
	struct session *s = ctx;

	if (s->preload) {
		preload_kernel_record(s->preload, rec, len);
		return 0;
	}
	return deliver(ctx, rec, len);
}

static int deliver(void *ctx, const void *rec, size_t len)
{
	struct session *s = ctx;
	const struct fl_hdr *h = rec;

	s->records++;
	if (s->o->stack_mode)
		maps_before_stack(s, h, rec);
	if (h->type == FL_EV_PROC && ((const struct fl_ev_proc *)rec)->kind == FL_PROC_EXEC)
		emit_proc_info(s, (pid_t)h->tgid); /* before the exec: its file is known there */
	if (s->o->consume(s->o->ctx, rec, len))
		s->consumer_rc = 1;
	if (h->type == FL_EV_CALL && (!s->any_mapped || s->last_mapped != h->tgid))
		emit_maps(s, h->tgid);
	if (h->type == FL_EV_PROC && s->o->attach_pid) {
		const struct fl_ev_proc *p = rec;

		/* an attached process is not our child: its status comes from the kernel */
		if (p->kind == FL_PROC_EXIT && h->tid == (uint32_t)s->pid) {
			s->res->have_status = true;
			s->res->wait_status = p->exit_code;
		}
	}
	return 0;
}

static void on_child(int sig)
{
	(void)sig; /* only to end the wait for records early */
}

static void install_signals(bool wake_on_child)
{
	struct sigaction sa = { .sa_handler = on_signal }, sc = { .sa_handler = on_child };

	if (wake_on_child) /* a ptraced command waits in its stops until we see them */
		sigaction(SIGCHLD, &sc, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- the loop ------------------------------------------------------------- */

static bool duration_over(const struct session *s, uint64_t start)
{
	return s->o->duration_s > 0 && now_ns() - start >= (uint64_t)(s->o->duration_s * 1e9);
}

/* The kernel's resident bytes per mapping, as the command exits: what the
 * report checks its resident-memory model against. */
static void store_smaps(struct session *s, pid_t p)
{
	size_t len;
	char *text = smaps_read_compact(p, &len);

	if (text && len && len <= FL_META_MAX_SMAPS_BYTES)
		emit_meta(s, FL_META_SMAPS, (uint32_t)p, 0, text, len);
	free(text);
}

/* The command is ptraced for one reason, to stop at its exit
 * while its memory maps can still be read (libraries it loaded late). Its
 * signals are passed on untouched; a group stop stays a stop. */
static void ptrace_stop(struct session *s, pid_t p, int status)
{
	int event = status >> 16;

	if (event == PTRACE_EVENT_EXIT) {
		tracer_drain_until(s->tracer, now_ns() + 1000000000ull, false);
		if (s->o->stack_mode)
			store_maps(s, p, true);
		store_smaps(s, p);
		ptrace(PTRACE_CONT, p, 0, 0);
	} else if (event == PTRACE_EVENT_STOP) {
		int sig = WSTOPSIG(status);

		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, p, 0, 0); /* a group stop */
		else /* SIGTRAP: a SIGCONT's notice to a seized tracee; LISTEN would leave it stopped */
			ptrace(PTRACE_CONT, p, 0, 0);
	} else {
		ptrace(PTRACE_CONT, p, 0, WSTOPSIG(status));
	}
}

/* A started command: reap children; a first signal is passed on to the
 * command, a second kills it (with -f, once the command is gone, a signal or
 * --duration's end ends the recording: its descendants go on, no longer
 * followed). Returns true when the loop should end. */
static bool command_done(struct session *s, int *forwarded)
{
	int status;
	pid_t p;

	if (stop_signal) {
		if (s->res->have_status) { /* -f, CMD reaped (its pid may be another's now): nothing to signal */
			fprintf(stderr, "faultline: stopped following: processes the command started run on, "
				"unrecorded\n");
			return true;
		}
		kill(s->pid, *forwarded ? SIGKILL : stop_signal);
		*forwarded = stop_signal;
		stop_signal = 0;
	}
	while ((p = waitpid(s->o->follow_forks ? -1 : s->pid, &status, WNOHANG | __WALL)) > 0) {
		if (WIFSTOPPED(status)) {
			ptrace_stop(s, p, status);
			continue;
		}
		emit_meta(s, FL_META_EXIT, p, (uint64_t)status, NULL, 0);
		if (p == s->pid) {
			s->res->have_status = true;
			s->res->wait_status = status;
		}
	}
	if (p < 0 && errno == ECHILD)
		return true;
	return !s->o->follow_forks && s->res->have_status;
}

/* An attached process: done when it exits or we are told to stop. */
static bool attached_done(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	if (stop_signal)
		return true;
	return pidfd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* -p, at the stop: the kernel is told to stop producing, the consumer gets
 * what it can take by STOP_DRAIN_MS after the stop (a second signal ends
 * that), and what is left in the ring is counted, not handed on. */
static void finish_attached(struct session *s)
{
	uint64_t stop_at = s->stop_at = now_ns(), t0;

	/* The stop is bounded in time, and a target busy on every core (the
	 * 64-thread storm of tests/e2e/90-stop.t) leaves this thread a few per
	 * cent of a CPU: for the last few hundred milliseconds it gets a larger
	 * share (root may raise it; if not, it ends as it can). Measured there:
	 * 1.3-1.5 s from SIGINT to exit at nice 0, 0.3-0.6 s at -10. A signal
	 * raises it in its handler already. */
	setpriority(PRIO_PROCESS, 0, -10);
	tracer_quiesce(s->tracer);
	stop_signal = 0;
	t0 = now_ns();
	tracer_drain_until(s->tracer, stop_at + STOP_DRAIN_MS * 1000000ull, true);
	s->busy_ns += now_ns() - t0;
	s->unread = tracer_count_unread(s->tracer, stop_at + STOP_COUNT_MS * 1000000ull);
	if (s->unread)
		fprintf(stderr, "faultline: the consumer was behind: %llu records left unread in the ring "
			"buffer at the stop, counted as lost\n", (unsigned long long)s->unread);
}

static void run_loop(struct session *s, int pidfd)
{
	uint64_t start = now_ns(), last_tick = start;
	uint64_t end = s->o->duration_s > 0 ? start + (uint64_t)(s->o->duration_s * 1e9) : 0;
	int forwarded = 0;

	for (;;) {
		uint64_t t0, until;
		bool done;

		tracer_wait(s->tracer, s->preload && preload_busy(s->preload) ? 0 : 100);
		t0 = now_ns();
		until = t0 + DRAIN_SLICE_MS * 1000000ull;
		if (s->o->attach_pid && end && end < until)
			until = end;
		if (s->preload)
			preload_snapshot(s->preload);
		if (tracer_drain_until(s->tracer, until, true) != TRACER_CUT && s->preload)
			preload_flush(s->preload);
		s->busy_ns += now_ns() - t0;
		if (now_ns() - last_tick >= 1000000000ull) {
			if (s->o->tick)
				s->o->tick(s->o->ctx, false);
			last_tick = now_ns();
		}
		if (duration_over(s, start) && !s->o->attach_pid && (!forwarded || s->res->have_status))
			stop_signal = SIGINT;
		done = s->o->attach_pid ? attached_done(pidfd) || duration_over(s, start)
					: command_done(s, &forwarded);
		if (done || s->consumer_rc)
			break;
	}
	if (s->o->attach_pid)
		finish_attached(s);
	else
		tracer_drain(s->tracer); /* the command is gone: its last records */
	if (s->preload)
		preload_flush_all(s->preload);
}

/* -v: where the time went, what was lost. */
static void print_self_stats(const struct session *s, uint64_t ns)
{
	double secs = ns / 1e9;
	uint64_t size, peak = tracer_ring_peak(s->tracer, &size);

	fprintf(stderr, "faultline: %llu records in %.2f s (%.0f/s), %llu lost; time in the consumer %.2f s "
		"(%.0f%% of the run); ring buffer peak fill %.1f of %.0f MiB (%.1f%%)\n",
		(unsigned long long)s->records, secs, secs > 0 ? s->records / secs : 0.0, s->res->lost,
		s->busy_ns / 1e9, ns ? 100.0 * s->busy_ns / ns : 0.0, peak / 1048576.0, size / 1048576.0,
		size ? 100.0 * peak / size : 0.0);
}

/* ---- starting -------------------------------------------------------------- */

static void emit_stack_mode(struct session *s);

/* The probes of every object of the allocator set. */
static int attach_allocators(struct session *s, pid_t pid, char *err, size_t errlen)
{
	for (int i = 0; i < s->allocs.n; i++)
		if (tracer_attach_allocator(s->tracer, &s->allocs.obj[i], pid, err, errlen))
			return -1;
	return 0;
}

/* "libc.so.6" or "libc.so.6 + libstdc++.so.6": the objects, for -v (static storage). */
static const char *allocators_shown(const struct session *s)
{
	static char buf[8192];
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->allocs.n && off < sizeof(buf); i++) {
		char e[1024]; /* a path from the target's maps: never raw on the terminal */

		off += snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " + " : "",
				esc_str(e, sizeof(e), s->allocs.obj[i].shown, ESC_TEXT));
	}
	return buf;
}

/* Probes the kernel must single-step (no emulated instruction near the
 * entry): said with -v, and always when attaching to a running process,
 * whose speed someone is watching. */
static void warn_stepped(const struct session *s)
{
	char names[1024];
	size_t off = 0;
	int n = 0;

	names[0] = '\0';
	for (int i = 0; i < s->allocs.n; i++) {
		const struct allocator *a = &s->allocs.obj[i];
		const char *base = strrchr(a->shown, '/');

		for (int f = 0; f < FL_NFUNC; f++) {
			if (!a->offset[f] || a->alias_of[f] >= 0 || !a->stepped[f] || a->usdt_refalloc)
				continue;
			if (off < sizeof(names)) {
				char e[256];

				off += snprintf(names + off, sizeof(names) - off, "%s%s in %s", n ? ", " : "",
						fl_entries[f].symbol, esc_str(e, sizeof(e), base ? base + 1 : a->shown, ESC_TEXT));
			}
			n++;
		}
	}
	if (n && !s->preload && (s->o->verbose || s->o->attach_pid)) /* the preload path sets no uprobe */
		fprintf(stderr, "faultline: %d probe%s on an instruction the kernel single-steps (%s): each such call "
			"costs several µs more than one on an emulated instruction\n", n, n == 1 ? " is" : "s are", names);
}

/* One FL_META_ALLOCATOR per object, malloc's first, each followed by the
 * FL_META_PROBES of what is probed in it (which entry points share a probe). */
static void emit_allocators(struct session *s, pid_t pid)
{
	for (int i = 0; i < s->allocs.n; i++) {
		const struct allocator *a = &s->allocs.obj[i];
		uint8_t pairs[2 * FL_NFUNC];
		size_t n = 0;

		emit_meta(s, FL_META_ALLOCATOR, pid, 0, a->shown, strlen(a->shown));
		for (int f = 0; f < FL_NFUNC; f++) {
			if (!a->offset[f])
				continue;
			pairs[n++] = (uint8_t)f;
			pairs[n++] = (uint8_t)(a->alias_of[f] >= 0 ? a->alias_of[f] : f);
		}
		emit_meta(s, FL_META_PROBES, pid, 0, pairs, n);
	}
	if (!s->allocs.n)
		emit_meta(s, FL_META_ALLOCATOR, pid, 0, "", 0);
}

/* The command's file and its allocator, before anything is loaded. */
static int find_command(struct session *s)
{
	const struct session_opts *o = s->o;
	char err[1024];
	int rc;

	if (resolve_command(o->argv[0], s->path, sizeof(s->path)))
		return fprintf(stderr, "faultline: %s: command not found\n", o->argv[0]), FL_EXIT_NOT_FOUND;
	if (access(s->path, X_OK))
		return fprintf(stderr, "faultline: %s: cannot execute: %s\n", o->argv[0], strerror(errno)),
		       FL_EXIT_CANNOT_EXEC;
	if (child_creds_for(o->user, &s->creds, err, sizeof(err)))
		return fprintf(stderr, "faultline: %s\n", err), FL_EXIT_FAILED;
	/* a file that is no program is "cannot execute" (126), as in the shell; an
	 * ELF without an allocator is faultline's own failure (125) */
	if (!o->count_only && (rc = allocator_for_exec(s->path, &s->allocs, err, sizeof(err))) != 0)
		return fprintf(stderr, "faultline: %s\n", err),
		       rc == ALLOCATOR_NOT_A_PROGRAM ? FL_EXIT_CANNOT_EXEC : FL_EXIT_FAILED;
	return 0;
}

static int spawn_held(struct session *s, struct child *c);
static void emit_preload_library(struct session *s, pid_t pid);

static int start_command(struct session *s, struct child *c, double *attach_ms)
{
	const struct session_opts *o = s->o;
	char err[1024];
	uint64_t t0 = now_ns();

	if (o->follow_forks)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (spawn_held(s, c))
		return fprintf(stderr, "faultline: cannot fork: %s\n", strerror(errno)), FL_EXIT_FAILED;
	s->pid = c->pid;
	if (s->preload)
		preload_add_target(s->preload, c->pid);
	s->ptraced = !ptrace(PTRACE_SEIZE, c->pid, 0, PTRACE_O_TRACEEXIT); /* last maps, smaps */
	if (tracer_add_target(s->tracer, c->pid, true, err, sizeof(err)) ||
	    (!o->count_only && !s->preload && attach_allocators(s, o->follow_forks ? -1 : c->pid, err, sizeof(err)))) {
		fprintf(stderr, "faultline: %s\n", err);
		child_abort(c);
		return FL_EXIT_FAILED;
	}
	tracer_arm(s->tracer);
	*attach_ms = (now_ns() - t0) / 1e6;
	warn_stepped(s);
	if (o->verbose && s->preload)
		fprintf(stderr, "faultline: allocator %s, calls recorded in the process (--probes preload: "
			"libfaultline-preload%s.so), pid %d, probes live in %.1f ms\n", allocators_shown(s),
			s->preload_variant, c->pid, *attach_ms);
	else if (o->verbose)
		fprintf(stderr, "faultline: allocator %s, %d uprobes (%s), pid %d, probes live in %.1f ms\n",
			allocators_shown(s), tracer_uprobe_count(s->tracer), tracer_uprobe_kind(s->tracer), c->pid,
			*attach_ms);
	emit_meta(s, FL_META_START, c->pid, now_ns(), NULL, 0);
	emit_command(s, o->argv);
	emit_command_info(s, c->pid, o->argv);
	emit_meta(s, FL_META_TARGET, c->pid, 0, NULL, 0);
	emit_allocators(s, c->pid);
	if (s->preload)
		emit_preload_library(s, c->pid);
	emit_stack_mode(s);
	if (!o->count_only)
		emit_meta(s, FL_META_PROBE_PATH, c->pid, (uint64_t)s->res->probe_path, NULL, 0);
	if (child_release(c, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s: %s\n", o->argv[0], err);
		waitpid(c->pid, NULL, 0);
		return FL_EXIT_CANNOT_EXEC;
	}
	return 0;
}

/* The library as one more allocator object: its frames are the allocator's
 * in call sites (the entry points a program calls are its own). */
static void emit_preload_library(struct session *s, pid_t pid)
{
	char lib[4096], err[256];

	if (preload_library_path(lib, sizeof(lib), s->preload_variant, err, sizeof(err)) == 0)
		emit_meta(s, FL_META_ALLOCATOR, pid, 0, lib, strlen(lib));
}

/* The command held, with the preload library in its LD_PRELOAD (first,
 * the user's own after it) and the shared memory's fd in its environment
 * (set in ours around the fork, which the child's execv passes on). */
static int spawn_held(struct session *s, struct child *c)
{
	const struct session_opts *o = s->o;
	char *old = getenv("LD_PRELOAD"), *saved = old ? strdup(old) : NULL, lib[4096], val[8192], fd[16];
	char err[1024];
	int rc;

	if (!s->preload)
		return child_spawn_held(s->path, o->argv, &s->creds, o->on_error != FL_ON_ERROR_DETACH, c);
	if ((old && !saved) || preload_library_path(lib, sizeof(lib), s->preload_variant, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", old && !saved ? "out of memory" : err);
		free(saved);
		errno = ENOENT;
		return -1;
	}
	preload_set_library(s->preload, lib);
	snprintf(val, sizeof(val), "%s%s%s", lib, saved && *saved ? ":" : "", saved ? saved : "");
	snprintf(fd, sizeof(fd), "%d", preload_fd(s->preload));
	setenv("LD_PRELOAD", val, 1);
	setenv(FL_PRELOAD_ENV_FD_NAME, fd, 1);
	rc = child_spawn_held(s->path, o->argv, &s->creds, o->on_error != FL_ON_ERROR_DETACH, c);
	if (saved)
		setenv("LD_PRELOAD", saved, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv(FL_PRELOAD_ENV_FD_NAME);
	free(saved);
	return rc;
}

static void emit_stack_mode(struct session *s)
{
	const struct session_opts *o = s->o;

	if (o->stack_mode)
		emit_meta(s, FL_META_STACKS, s->pid,
			  (uint64_t)o->stack_mode | (uint64_t)(o->stack_sample ? o->stack_sample : 1) << 8 |
			  (uint64_t)(o->stack_bytes ? o->stack_bytes : FL_STACK_DEFAULT) << 32, NULL, 0);
}

/* The target's command line, from /proc/PID/cmdline. */
static void emit_proc_command(struct session *s, pid_t pid)
{
	char path[64], buf[8192];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	emit_meta(s, FL_META_COMMAND, 0, 0, buf, n > 0 ? (size_t)n : 0);
}

/* One faultline per process: a lock file held while attached, removed at
 * the end (unlink_lock). The lock taken must be on the file the path names
 * now: one unlinked by its holder in between is taken again. */
#define LOCK_DIR "/run/faultline"
static int lock_path(char *path, size_t len, pid_t pid)
{
	return snprintf(path, len, LOCK_DIR "/%d.lock", pid);
}

static int lock_target(pid_t pid)
{
	char path[96];
	struct stat a, b;

	mkdir(LOCK_DIR, 0700);
	lock_path(path, sizeof(path), pid);
	for (int tries = 0; tries < 10; tries++) {
		int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);

		if (fd < 0)
			return -2;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			return -1;
		}
		if (!fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	return -2;
}

/* The lock file goes first, then the lock: whoever opens the path next
 * makes a new file. */
static void unlock_target(pid_t pid, int fd)
{
	char path[96];

	lock_path(path, sizeof(path), pid);
	unlink(path);
	close(fd);
}

/* Lock files left by a faultline that was killed (SIGKILL): those of pids
 * that no longer exist, and that no one holds, are removed. */
static void remove_stale_locks(void)
{
	DIR *d = opendir(LOCK_DIR);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], proc[64];
		int pid, fd;

		if (sscanf(e->d_name, "%d.lock", &pid) != 1 || pid <= 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%d", pid);
		if (!access(proc, F_OK))
			continue;
		snprintf(path, sizeof(path), LOCK_DIR "/%s", e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && !flock(fd, LOCK_EX | LOCK_NB))
			unlink(path);
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
}

/* Checks the pid names a user process we may trace. */
static int check_attach_target(pid_t pid)
{
	char path[64], buf[16];
	struct stat st;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (pid <= 0 || stat(path, &st))
		return fprintf(stderr, "faultline: no process with pid %d\n", pid), -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	if (n == 0)
		return fprintf(stderr, "faultline: pid %d is a kernel thread (it has no user memory to trace)\n",
			       pid), -1;
	if (n < 0)
		return fprintf(stderr, "faultline: cannot read the memory maps of pid %d: %s\n", pid,
			       strerror(errno)), -1;
	return 0;
}

/* The attached process's allocator, before anything is loaded. */
static int find_attached(struct session *s)
{
	char err[1024];

	if (!s->o->count_only && allocator_for_pid(s->o->attach_pid, &s->allocs, err, sizeof(err)))
		return fprintf(stderr, "faultline: %s\n", err), FL_EXIT_FAILED;
	return 0;
}

static int start_attach(struct session *s, int *pidfd, double *attach_ms)
{
	pid_t pid = s->o->attach_pid;
	uint64_t t0 = now_ns();
	char err[1024];

	s->pid = pid;
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* probes first, then the target: no syscall is seen before the calls can be */
	if ((!s->o->count_only && attach_allocators(s, pid, err, sizeof(err))) ||
	    tracer_add_target(s->tracer, pid, false, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_FAILED;
	}
	tracer_arm(s->tracer);
	warn_stepped(s);
	if (kill(pid, 0) && errno == ESRCH)
		return fprintf(stderr, "faultline: process %d exited while faultline was attaching\n", pid),
		       FL_EXIT_FAILED;
	*attach_ms = (now_ns() - t0) / 1e6;
	if (s->o->verbose)
		fprintf(stderr, "faultline: attached to pid %d: allocator %s, %d uprobes (%s), probes live in %.1f ms\n",
			pid, allocators_shown(s), tracer_uprobe_count(s->tracer), tracer_uprobe_kind(s->tracer), *attach_ms);
	emit_meta(s, FL_META_START, pid, now_ns(), NULL, 0);
	emit_proc_command(s, pid);
	emit_proc_info(s, pid);
	emit_meta(s, FL_META_TARGET, pid, 1, NULL, 0);
	emit_allocators(s, pid);
	emit_stack_mode(s);
	emit_maps(s, pid);
	return 0;
}

/* The consumer failed (faultline cannot go on): the command is killed, or
 * left to run untraced, as --on-error says. */
static void on_consumer_error(struct session *s)
{
	int status;

	if (s->o->attach_pid || s->res->have_status) {
		s->res->fate = s->o->attach_pid ? FL_FATE_ATTACHED : FL_FATE_EXITED;
		return;
	}
	if (s->o->on_error == FL_ON_ERROR_DETACH) {
		/* no parent-death signal was set; a ptraced command is let go when we exit */
		s->res->fate = FL_FATE_DETACHED;
		return;
	}
	kill(s->pid, SIGKILL);
	for (;;) { /* reaped here, past any ptrace stop on its way out */
		pid_t p = waitpid(s->pid, &status, __WALL);

		if (p < 0 && errno == EINTR)
			continue;
		if (p > 0 && WIFSTOPPED(status)) {
			ptrace(PTRACE_CONT, p, 0, 0);
			continue;
		}
		break;
	}
	s->res->fate = FL_FATE_KILLED;
}

const char *session_fate_text(const struct session_result *res, char *buf, size_t len)
{
	switch (res->fate) {
	case FL_FATE_KILLED:
		snprintf(buf, len, "the command (pid %d) was killed (--on-error kill)", (int)res->pid);
		break;
	case FL_FATE_DETACHED:
		snprintf(buf, len, "the command (pid %d) goes on, untraced (--on-error detach)", (int)res->pid);
		break;
	case FL_FATE_ATTACHED:
		snprintf(buf, len, "the process (pid %d) goes on, untraced (-p: never killed)", (int)res->pid);
		break;
	case FL_FATE_EXITED:
		snprintf(buf, len, "the command (pid %d) had exited already", (int)res->pid);
		break;
	default:
		snprintf(buf, len, "the command was not affected");
	}
	return buf;
}

/* --probes: the preload path for a command it can record (auto, preload),
 * uprobes otherwise and for -p; its shared memory opened here. */
static int choose_probe_path(struct session *s, struct tracer_opts *t)
{
	char why[4200], err[1024];

	s->res->probe_path = FL_PROBES_UPROBES;
	if (s->o->attach_pid || s->o->count_only)
		return 0;
	s->res->probe_path = probe_path_choose(s->o->probes, s->path, &s->allocs, s->o->stack_mode, why, sizeof(why));
	if (s->res->probe_path < 0)
		return fprintf(stderr, "faultline: --probes preload: %s\n", why), -1;
	if (why[0] && s->o->verbose)
		fprintf(stderr, "faultline: uprobes, not the preload path: %s\n", why);
	if (s->res->probe_path != FL_PROBES_PRELOAD)
		return 0;
	s->preload_variant = probe_path_library_variant(&s->allocs);
	s->preload = preload_open(deliver, s, err, sizeof(err));
	if (!s->preload)
		return fprintf(stderr, "faultline: %s\n", err), -1;
	if (s->o->stack_mode == FL_STACKS_ALL)
		preload_set_stacks(s->preload, s->o->stack_sample ? s->o->stack_sample : 1);
	if (s->o->lossy)
		preload_set_lossy(s->preload);
	for (int i = s->allocs.n - 1; i >= 0; i--) /* the first definer's aliases win */
		for (int f = 0; f < FL_NFUNC; f++)
			if (s->allocs.obj[i].offset[f] && s->allocs.obj[i].alias_of[f] >= 0)
				preload_set_alias(s->preload, (unsigned)f, (unsigned)s->allocs.obj[i].alias_of[f]);
	t->preload = true;
	t->uprobes = false;
	return 0;
}

/* The preload path's end: its waits stored, calls it could not record
 * counted as lost, a command that never loaded the library said. */
static void note_preload(struct session *s)
{
	uint64_t wait_ns, waits = preload_waits(s->preload, &wait_ns);

	s->res->preload_waits = waits;
	s->res->lost += preload_unrecorded(s->preload);
	s->res->counters[FL_CNT_STACKS_SKIPPED] += preload_stacks_skipped(s->preload);
	emit_meta(s, FL_META_PRELOAD_WAITS, s->pid, waits, &wait_ns, sizeof(wait_ns));
	if (s->o->verbose)
		fprintf(stderr, "faultline: preload path: %llu waits for the collector (%.1f ms), %llu calls "
			"not recorded\n", (unsigned long long)waits, wait_ns / 1e6,
			(unsigned long long)preload_unrecorded(s->preload));
	if (preload_stacks_missing(s->preload))
		fprintf(stderr, "faultline: the preload library could not load libunwind.so.8: the calls have no "
			"stacks (--probes uprobes takes them)\n");
	if (!preload_seen(s->preload) && s->o->verbose)
		fprintf(stderr, "faultline: the command never loaded libfaultline-preload.so (it cleared "
			"LD_PRELOAD, or made no allocator call): its calls are not recorded; --probes uprobes "
			"records them\n");
}

int session_run(const struct session_opts *o, struct session_result *res)
{
	struct tracer_opts topts = { .follow_forks = o->follow_forks, .verbose = o->verbose,
				     .ringbuf_bytes = o->ringbuf_bytes };
	struct session s = { .o = o, .res = res };
	int rc, pidfd = -1, lockfd = -1;
	struct child c;
	char err[1024];

	memset(res, 0, sizeof(*res));
	if (o->attach_pid) {
		if (check_attach_target(o->attach_pid))
			return FL_EXIT_FAILED;
		remove_stale_locks();
		lockfd = lock_target(o->attach_pid);
		if (lockfd == -1)
			return fprintf(stderr, "faultline: another faultline is already tracing pid %d\n",
				       o->attach_pid), FL_EXIT_FAILED;
	}
	rc = o->attach_pid ? find_attached(&s) : find_command(&s);
	if (rc)
		goto out;
	topts.count_only = o->count_only;
	for (int i = 0; i < s.allocs.n; i++)
		topts.usdt_refalloc |= s.allocs.obj[i].usdt_refalloc;
	topts.uprobes = !o->count_only && (s.allocs.n > 1 || !topts.usdt_refalloc);
	topts.entries_used = s.allocs.used;
	topts.stack_mode = o->stack_mode;
	topts.stack_sample = o->stack_sample;
	topts.stack_bytes = o->stack_bytes;
	if (choose_probe_path(&s, &topts)) {
		rc = FL_EXIT_FAILED;
		goto out;
	}
	s.tracer = tracer_open(&topts, on_record, &s, err, sizeof(err));
	if (!s.tracer) {
		fprintf(stderr, "faultline: %s\n", err);
		rc = FL_EXIT_FAILED;
		goto out;
	}
	tracer_set_stop_flag(s.tracer, &stop_signal);
	if (s.preload)
		tracer_wake_on(s.tracer, preload_wake_fd(s.preload));
	boost_on_signal = o->attach_pid != 0;
	install_signals(!o->attach_pid);
	rc = o->attach_pid ? start_attach(&s, &pidfd, &res->attach_ms) : start_command(&s, &c, &res->attach_ms);
	res->pid = s.pid;
	if (rc == 0) {
		uint64_t t0 = now_ns();

		run_loop(&s, pidfd);
		if (s.consumer_rc)
			on_consumer_error(&s);
		if (o->stack_mode && o->attach_pid && kill(o->attach_pid, 0) == 0)
			store_maps(&s, o->attach_pid, true); /* the last word for the report's unwinding */
		res->lost = tracer_lost(s.tracer) + s.unread;
		if (o->verbose)
			print_self_stats(&s, now_ns() - t0);
		for (int i = 0; i < FL_NCOUNTERS; i++)
			res->counters[i] = tracer_counter(s.tracer, i);
		if (s.preload)
			note_preload(&s);
		emit_meta(&s, FL_META_LOST, 0, res->lost, NULL, 0);
		if (o->stack_mode)
			emit_meta(&s, FL_META_STACKS_SKIPPED, 0, res->counters[FL_CNT_STACKS_SKIPPED], NULL, 0);
		emit_meta(&s, FL_META_END, s.pid, now_ns(), NULL, 0);
	}
	if (!o->attach_pid)
		tracer_detach_in_background(s.tracer); /* the command is gone: no one waits for it */
	else if (rc == 0) { /* the process runs on; we end on time */
		uint64_t now = now_ns(), total = s.stop_at + STOP_TOTAL_MS * 1000000ull;
		uint64_t left = total > now ? (total - now) / 1000000 : 0;

		if (left)
			tracer_detach_within(s.tracer, left < STOP_DETACH_MS ? (unsigned)left : STOP_DETACH_MS);
		else
			tracer_detach_in_background(s.tracer);
	}
	tracer_close(s.tracer); /* detaches every probe */
	preload_close(s.preload);
	free_objects(&s);
	id_map_clear(&s.mapped);
	id_map_clear(&s.stale);
	if (o->tick)
		o->tick(o->ctx, true);
out:
	if (pidfd >= 0)
		close(pidfd);
	if (lockfd >= 0)
		unlock_target(o->attach_pid, lockfd);
	return rc;
}
