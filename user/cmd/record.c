/* cmd_record.c - `faultline record`: runs a command (or attaches to a
 * process) under the probes and stores the kernel's events as they came,
 * with the meta records `report` needs later, in a trace file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "capture/child.h"
#include "cmd/cli.h"
#include "faultline.h"
#include "store/meta.h"
#include "capture/session.h"
#include "store/tracefile.h"
#include "capture/tracer.h"

struct recording {
	struct tf_writer *w;
	bool write_failed;
	uint64_t events;
};

static int store_record(void *ctx, const void *rec, size_t len)
{
	struct recording *r = ctx;

	if (r->write_failed)
		return 1;
	if (tf_writer_add(r->w, rec, len)) {
		r->write_failed = true;
		return 1; /* ends the session: nothing more can be stored */
	}
	r->events += ((const uint8_t *)rec)[0] != FL_REC_META;
	return 0;
}

/* About every second: a recording killed later keeps all but its last second. */
static void flush_tick(void *ctx, bool final)
{
	struct recording *r = ctx;

	if (!final && !r->write_failed && tf_writer_flush(r->w))
		r->write_failed = true;
}

static const struct opt record_options[] = {
	{ 'o', "output", "FILE", OPT_STRING, 0, 0, NULL, "trace file to write (default: faultline.data, mode 0600)" },
	SESSION_ROW_PID("attach to a running process instead of starting CMD"),
	SESSION_ROW_DURATION("stop after SEC seconds (with CMD: CMD gets SIGINT)"),
	SESSION_ROW_FOLLOW("trace the processes CMD forks too"),
	SESSION_ROW_BUFFER,
	SESSION_ROWS_STACKS,
	{ 'q', "quiet", NULL, OPT_FLAG, 0, 0, NULL, "no summary line on stderr" },
	SESSION_ROW_VERBOSE("allocator, attach time, libbpf warnings (-vv: debug)"),
	{ 0 },
};

static const struct cmd_spec record_spec = {
	.name = "record",
	.usage = "faultline record [-o FILE] [-f] [-q] [-v] [--buffer-size MIB] [--stacks[=all]] -- CMD [ARG...]\n"
		 "       faultline record -p PID [-o FILE] [--duration SEC] [-q] [-v] [--stacks[=all]]",
	.about = "Runs CMD with faultline's probes in place from its execve to its exit (or\n"
		 "attaches to the running process PID) and stores every allocator call, memory\n"
		 "syscall and page fault in FILE.",
	.opts = record_options,
	.after = "Exit status: CMD's own (128+N if killed by signal N; 0 with -p); 125 if\n"
		 "faultline failed (the file then has no end block and `report` says so);\n"
		 "126 if CMD could not be executed; 127 if CMD was not found; 2 bad usage.\n",
	.options_first = true,
};

struct record_opts {
	const char *out;
	bool quiet;
	struct session_opts s;
};

static int take_record_option(void *ctx, int key, const struct opt_value *v)
{
	struct record_opts *o = ctx;
	int rc = cli_session_option("record", key, v, &o->s);

	if (rc)
		return rc < 0 ? -1 : 0;
	if (key == 'o')
		o->out = v->s;
	else if (key == 'q')
		o->quiet = true;
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = { .out = "faultline.data" };
	struct recording r = { 0 };
	struct session_result res;
	char err[1024];
	int rc;

	rc = opts_parse(&record_spec, argc, argv, take_record_option, &o);
	if (rc == OPT_HELP)
		return 0;
	if (rc < 0 || cli_session_target("record", argc, argv, rc, &o.s))
		return FL_EXIT_USAGE;
	if (tracer_check_supported(err, sizeof(err)))
		return fprintf(stderr, "faultline: %s\n", err), FL_EXIT_FAILED;
	r.w = tf_writer_open(o.out, FL_EVENT_ABI, err, sizeof(err));
	if (!r.w)
		return fprintf(stderr, "faultline: %s\n", err), FL_EXIT_FAILED;
	o.s.consume = store_record;
	o.s.tick = flush_tick;
	o.s.ctx = &r;
	rc = session_run(&o.s, &res);
	if (rc) {
		tf_writer_abort(r.w);
		unlink(o.out); /* nothing was recorded */
		return rc;
	}
	if (r.write_failed) {
		fprintf(stderr, "faultline: %s (the recording is incomplete)\n", tf_writer_error(r.w));
		tf_writer_abort(r.w);
		return FL_EXIT_FAILED;
	}
	if (tf_writer_close(r.w, err, sizeof(err)))
		return fprintf(stderr, "faultline: %s (the recording is incomplete)\n", err), FL_EXIT_FAILED;
	if (!o.quiet)
		fprintf(stderr, "faultline: recorded %llu events (%llu lost) to %s; see: faultline report %s\n",
			(unsigned long long)r.events, res.lost, o.out, o.out);
	if (o.s.attach_pid || !res.have_status)
		return 0;
	return child_exit_code(res.wait_status);
}
