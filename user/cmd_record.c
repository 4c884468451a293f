/* cmd_record.c - `faultline record`: runs a command under the probes and
 * stores the kernel's events as they came, with what `report` needs later
 * (command, target, allocator path, memory maps, exit status, losses). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "allocator.h"
#include "child.h"
#include "cli.h"
#include "meta.h"
#include "tracefile.h"
#include "tracer.h"

#define MAX_MAPPED 1024

struct recording {
	struct tf_writer *w;
	struct tracer *tracer;
	const char *out_path;
	pid_t main_pid;
	bool write_failed;
	uint64_t events;
	int nmapped;
	uint32_t mapped[MAX_MAPPED]; /* tgids whose maps are stored */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int write_meta(struct recording *r, uint8_t kind, uint32_t tgid, uint64_t value,
		      const void *data, size_t len)
{
	char buf[sizeof(struct fl_meta) + 65536];
	struct fl_meta *m = (struct fl_meta *)buf;

	if (len > sizeof(buf) - sizeof(*m))
		len = sizeof(buf) - sizeof(*m);
	memset(m, 0, sizeof(*m));
	m->type = FL_REC_META;
	m->kind = kind;
	m->tgid = tgid;
	m->value = value;
	if (len)
		memcpy(buf + sizeof(*m), data, len);
	if (tf_writer_add(r->w, buf, sizeof(*m) + len)) {
		r->write_failed = true;
		return -1;
	}
	return 0;
}

/* Stores /proc/PID/maps once per process, when its allocator is first used
 * (by then the loader has mapped its libraries). */
static void store_maps(struct recording *r, uint32_t tgid)
{
	char path[64], *text = NULL;
	size_t cap = 0, len = 0;
	FILE *f;

	for (int i = 0; i < r->nmapped; i++)
		if (r->mapped[i] == tgid)
			return;
	if (r->nmapped < MAX_MAPPED)
		r->mapped[r->nmapped++] = tgid;
	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (!feof(f)) {
		if (len + 4096 > cap) {
			char *nt = realloc(text, cap = cap ? cap * 2 : 16384);

			if (!nt)
				break;
			text = nt;
		}
		len += fread(text + len, 1, cap - len, f);
		if (ferror(f))
			break;
	}
	fclose(f);
	if (text && len)
		write_meta(r, FL_META_MAPS, tgid, 0, text, len);
	free(text);
}

static int on_event(void *ctx, const void *rec, size_t len)
{
	struct recording *r = ctx;
	const struct fl_hdr *h = rec;

	if (r->write_failed)
		return 0;
	if (tf_writer_add(r->w, rec, len)) {
		r->write_failed = true;
		return 0;
	}
	r->events++;
	if (h->type == FL_EV_CALL && (r->nmapped == 0 || r->mapped[r->nmapped - 1] != h->tgid))
		store_maps(r, h->tgid);
	return 0;
}

static void write_command(struct recording *r, int argc, char **argv)
{
	size_t len = 0;
	char *buf;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return;
	len = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(buf + len, argv[i], n);
		len += n;
	}
	write_meta(r, FL_META_COMMAND, 0, 0, buf, len);
	free(buf);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Polls until every traced process is gone; returns the main one's status.
 * A first SIGINT/SIGTERM is passed on to the command; a second stops at once. */
static int run_until_exit(struct recording *r, pid_t main_pid, bool follow)
{
	int status = 0, main_status = -1, forwarded = 0;
	uint64_t last_flush = now_ns(CLOCK_MONOTONIC);

	for (;;) {
		pid_t p;

		tracer_poll(r->tracer, 100);
		if (now_ns(CLOCK_MONOTONIC) - last_flush > 1000000000ull) {
			/* a recording killed later keeps all but its last second */
			if (!r->write_failed && tf_writer_flush(r->w))
				r->write_failed = true;
			last_flush = now_ns(CLOCK_MONOTONIC);
		}
		if (stop_signal && !forwarded) {
			kill(main_pid, stop_signal);
			forwarded = stop_signal;
			stop_signal = 0;
		} else if (stop_signal) {
			kill(main_pid, SIGKILL);
		}
		while ((p = waitpid(follow ? -1 : main_pid, &status, WNOHANG | __WALL)) > 0) {
			write_meta(r, FL_META_EXIT, p, (uint64_t)status, NULL, 0);
			if (p == main_pid)
				main_status = status;
		}
		if ((p < 0 && errno == ECHILD) || (!follow && main_status != -1))
			break;
	}
	tracer_drain(r->tracer);
	return main_status;
}

static void usage_record(FILE *out)
{
	fprintf(out,
		"usage: faultline record [-o FILE] [-f] [-v] [--buffer-size MIB] -- CMD [ARG...]\n"
		"\n"
		"Runs CMD with faultline's probes in place from its execve to its exit and\n"
		"stores every allocator call, memory syscall and page fault in FILE.\n"
		"\n"
		"  -o, --output FILE      trace file to write (default: faultline.data, mode 0600)\n"
		"  -f, --follow-forks     trace the processes CMD forks too\n"
		"      --buffer-size MIB  kernel ring buffer size (default 64, power of 2)\n"
		"  -q, --quiet            no summary line on stderr\n"
		"  -v, --verbose          libbpf warnings and attach details (-vv: debug)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: CMD's own (128+N if killed by signal N); 125 if faultline\n"
		"failed (the file then has no end block and `report` says so); 126 if CMD\n"
		"could not be executed; 127 if CMD was not found.\n");
}

struct record_opts {
	const char *out;
	bool follow, quiet;
	int verbose;
	size_t rb_bytes;
};

static int parse_record(int argc, char **argv, struct record_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' }, { "follow-forks", no_argument, 0, 'f' },
		{ "buffer-size", required_argument, 0, 'b' }, { "quiet", no_argument, 0, 'q' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' }, { 0 } };
	int c;

	o->out = "faultline.data";
	while ((c = getopt_long(argc, argv, "+o:fqvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'f': o->follow = true; break;
		case 'q': o->quiet = true; break;
		case 'v': o->verbose++; break;
		case 'b': {
			unsigned long mib = strtoul(optarg, NULL, 10);

			if (mib == 0 || (mib & (mib - 1)) || mib > 4096)
				return cli_usage_error("record", "--buffer-size takes a power of 2 from 1 to 4096 (MiB)");
			o->rb_bytes = mib << 20;
			break;
		}
		case 'h': usage_record(stdout); exit(0);
		default: usage_record(stderr); return -1;
		}
	}
	if (optind >= argc)
		return cli_usage_error("record", "no command given: faultline record [OPTIONS] -- CMD [ARG...]");
	return optind;
}

static int finish(struct recording *r, int status, pid_t pid, bool quiet)
{
	char err[512];
	uint64_t lost = tracer_lost(r->tracer);

	write_meta(r, FL_META_LOST, 0, lost, NULL, 0);
	write_meta(r, FL_META_END, pid, now_ns(CLOCK_MONOTONIC), NULL, 0);
	tracer_close(r->tracer);
	if (r->write_failed) {
		fprintf(stderr, "faultline: %s\n", tf_writer_error(r->w));
		tf_writer_abort(r->w);
		return 125;
	}
	if (tf_writer_close(r->w, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return 125;
	}
	if (!quiet)
		fprintf(stderr, "faultline: recorded %llu events (%llu lost) to %s; see: faultline report %s\n",
			(unsigned long long)r->events, (unsigned long long)lost, r->out_path, r->out_path);
	return status < 0 ? 125 : child_exit_code(status);
}

int cmd_record(int argc, char **argv)
{
	struct tracer_opts topts = { 0 };
	struct record_opts o = { 0 };
	struct recording r = { 0 };
	struct allocator alloc;
	char path[4096], err[1024];
	struct child c;
	int first;

	first = parse_record(argc, argv, &o);
	if (first < 0)
		return 2;
	if (resolve_command(argv[first], path, sizeof(path)))
		return fprintf(stderr, "faultline: %s: command not found\n", argv[first]), 127;
	if (allocator_for_exec(path, &alloc, err, sizeof(err)))
		return fprintf(stderr, "faultline: %s\n", err), 125;
	r.out_path = o.out;
	r.w = tf_writer_open(o.out, FL_EVENT_ABI, err, sizeof(err));
	if (!r.w)
		return fprintf(stderr, "faultline: %s\n", err), 125;
	topts.follow_forks = o.follow;
	topts.verbose = o.verbose;
	topts.ringbuf_bytes = o.rb_bytes;
	r.tracer = tracer_open(&topts, on_event, &r, err, sizeof(err));
	if (!r.tracer) {
		tf_writer_abort(r.w);
		unlink(o.out);
		return fprintf(stderr, "faultline: %s\n", err), 125;
	}
	if (o.follow)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (child_spawn_held(path, argv + first, &c)) {
		fprintf(stderr, "faultline: cannot fork: %s\n", strerror(errno));
		goto fail;
	}
	if (tracer_add_target(r.tracer, c.pid, true) ||
	    tracer_attach_allocator(r.tracer, &alloc, o.follow ? -1 : c.pid, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		child_abort(&c);
		goto fail;
	}
	if (o.verbose)
		fprintf(stderr, "faultline: allocator %s, %d uprobes, pid %d\n", alloc.path,
			tracer_uprobe_count(r.tracer), c.pid);
	write_meta(&r, FL_META_START, c.pid, now_ns(CLOCK_MONOTONIC), NULL, 0);
	write_command(&r, argc - first, argv + first);
	write_meta(&r, FL_META_TARGET, c.pid, 0, NULL, 0);
	write_meta(&r, FL_META_ALLOCATOR, c.pid, 0, alloc.path, strlen(alloc.path));
	if (tf_writer_flush(r.w)) {
		fprintf(stderr, "faultline: %s\n", tf_writer_error(r.w));
		child_abort(&c);
		goto fail;
	}
	install_signals();
	if (child_release(&c, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s: %s\n", argv[first], err);
		waitpid(c.pid, NULL, 0);
		tracer_close(r.tracer);
		tf_writer_abort(r.w);
		unlink(o.out);
		return 126;
	}
	return finish(&r, run_until_exit(&r, c.pid, o.follow), c.pid, o.quiet);
fail:
	tracer_close(r.tracer);
	tf_writer_abort(r.w);
	unlink(o.out);
	return 125;
}
