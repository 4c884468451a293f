/* record.c - `faultline record`: runs a command (or attaches to a
 * process) under the probes and stores the kernel's events as they came,
 * with the meta records `report` needs later, in a trace file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "capture/child.h"
#include "cmd/cli.h"
#include "faultline.h"
#include "store/event_codec.h"
#include "store/meta.h"
#include "capture/session.h"
#include "store/tracefile.h"
#include "capture/tracer.h"

struct recording {
	struct tf_writer *w;
	bool write_failed;
	bool published;  /* renamed over FILE already */
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

/* About every second: a recording killed later keeps all but its last
 * second. The first tick comes once the command runs: the new file is then
 * renamed over FILE (before it, a failed start left FILE as it was). */
static void flush_tick(void *ctx, bool final)
{
	struct recording *r = ctx;

	if (final || r->write_failed)
		return;
	if (!r->published ? tf_writer_publish(r->w) : tf_writer_flush(r->w))
		r->write_failed = true;
	r->published = true;
}

enum { RO_HTML = SO_NEXT, RO_CALL_TIMES };

/* The calls' time resolution a trace file gets unless --call-times says
 * otherwise: the reports' timeline's finest interval (1 ms unless --interval
 * asks for less; syscalls and faults keep their exact times, and the events'
 * order is exact whatever the times), and coarse enough that the times cost
 * a file almost nothing: about 2 bytes a thread for each tick its calls
 * cross, whatever their number (at 100 us sqlite3's file took 19-20 kB
 * against 16 at 1 ms, and grew with the run's length). */
#define DEFAULT_CALL_TIME_RES 1000000u /* 1 ms */

static const struct opt record_options[] = {
	{ 'o', "output", "FILE", OPT_STRING, 0, 0, NULL,
	  "trace file to write (default: faultline.data, mode 0600; made\n"
	  "under a temporary name, renamed over FILE once CMD runs)" },
	SESSION_ROW_PID("attach to a running process instead of starting CMD"),
	SESSION_ROW_DURATION("stop after SEC seconds (with CMD: CMD gets SIGINT)"),
	SESSION_ROW_FOLLOW("trace the processes CMD forks too"),
	SESSION_ROW_BUFFER,
	SESSION_ROWS_STACKS,
	SESSION_ROWS_COMMAND,
	{ 'q', "quiet", NULL, OPT_FLAG, 0, 0, NULL, "no summary line on stderr" },
	{ RO_HTML, "html", "PAGE", OPT_STRING, 0, 0, NULL,
	  "then write the HTML report of the recording to PAGE (report\n"
	  "--format html -o PAGE FILE)" },
	{ RO_CALL_TIMES, "call-times", "RES", OPT_STRING, 0, 0, NULL,
	  "store the allocator calls' times rounded down to RES: exact, or\n"
	  "1ns to 1s (as 10us, 1ms); default 1ms (syscalls and faults\n"
	  "are always exact)" },
	SESSION_ROW_VERBOSE("allocator, attach time, libbpf warnings (-vv: debug)"),
	{ 0 },
};

static const struct cmd_spec record_spec = {
	.name = "record",
	.usage = "faultline record [-o FILE] [-f] [-q] [-v] [--buffer-size MIB] [--stacks[=all]] [--html PAGE]\n"
		 "                       -- CMD [ARG...]\n"
		 "       faultline record -p PID [-o FILE] [--duration SEC] [-q] [-v] [--stacks[=all]]",
	.about = "Runs CMD with faultline's probes in place from its execve to its exit (or\n"
		 "attaches to the running process PID) and stores every allocator call, memory\n"
		 "syscall and page fault in FILE.",
	.opts = record_options,
	.after = "Exit status: CMD's own (128+N if killed by signal N; 0 with -p); 125 if\n"
		 "faultline failed (FILE as it was if nothing was recorded; else FILE cut\n"
		 "short, without its end block, and `report` says so);\n"
		 "126 if CMD could not be executed; 127 if CMD was not found; 2 bad usage;\n"
		 "with --html, 125 when the page could not be written (the recording is kept).\n",
	.options_first = true,
};

struct record_opts {
	const char *out, *html;
	bool quiet;
	uint64_t call_time_res; /* ns */
	struct session_opts s;
};

/* --call-times RES: "exact", or a whole number with a unit ns, us, ms or s,
 * 1 ns to 1 s. 0 and *ns set, or -1. */
static int parse_time_res(const char *v, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	char *end;
	unsigned long long n;

	if (strcmp(v, "exact") == 0)
		return *ns = 1, 0;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!errno && strcmp(end, units[i].unit) == 0 && n >= 1 && n <= EC_MAX_TIME_RES / units[i].ns)
			return *ns = n * units[i].ns, 0;
	return -1;
}

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
	else if (key == RO_HTML)
		o->html = v->s;
	else if (key == RO_CALL_TIMES && parse_time_res(v->s, &o->call_time_res))
		return opts_error("record", "--call-times: '%s' is not a resolution (exact, or 1ns to 1s: 10us, 1ms)",
				  v->s);
	return 0;
}

/* The calls' time resolution, in the writer and (when not exact) in a meta
 * record that `report` shows. 0, or -1. */
static int set_call_time_res(struct recording *r, uint64_t ns)
{
	struct fl_meta m = { .type = FL_REC_META, .kind = FL_META_CALL_TIME_RES, .value = ns };

	tf_writer_set_call_time_res(r->w, ns);
	return ns > 1 ? tf_writer_add(r->w, &m, sizeof(m)) : 0;
}

/* --html PAGE: the report of the file just written, as `report --format
 * html -o PAGE FILE` makes it (its messages included). 0, or -1. */
static int write_html(const char *file, const char *page)
{
	char in[4096];
	char *argv[] = { "report", "--format", "html", "-o", (char *)page, in, NULL };

	/* a FILE starting with '-' is still the input, not an option */
	snprintf(in, sizeof(in), "%s%s", file[0] == '-' ? "./" : "", file);
	return cmd_report(6, argv) ? -1 : 0;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = { .out = "faultline.data", .call_time_res = DEFAULT_CALL_TIME_RES };
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
	(void)tf_writer_compress_behind(r.w); /* if not, the collector compresses: slower, as right */
	if (set_call_time_res(&r, o.call_time_res)) {
		snprintf(err, sizeof(err), "%s", tf_writer_error(r.w));
		tf_writer_abort(r.w); /* frees the writer: its message copied first */
		return fprintf(stderr, "faultline: %s\n", err), FL_EXIT_FAILED;
	}
	o.s.consume = store_record;
	o.s.tick = flush_tick;
	o.s.ctx = &r;
	rc = session_run(&o.s, &res);
	if (rc) {
		tf_writer_abort(r.w); /* nothing was recorded: an existing file stays as it was */
		return rc;
	}
	if (r.write_failed) {
		char msg[300], fate[160];

		snprintf(msg, sizeof(msg), "%s", tf_writer_error(r.w));
		session_fate_text(&res, fate, sizeof(fate));
		if (tf_writer_cut(r.w) == 0)
			fprintf(stderr, "faultline: %s: %s; the recording is cut short (kept as %s without its end "
				"block: `report` says so)\n", msg, fate, o.out);
		else
			fprintf(stderr, "faultline: %s: %s; the recording is cut short and could not be kept\n",
				msg, fate);
		return FL_EXIT_FAILED;
	}
	if (tf_writer_close(r.w, err, sizeof(err)))
		return fprintf(stderr, "faultline: %s: the recording is cut short (%s without its end block, "
			       "if it could be kept: `report` says so)\n", err, o.out), FL_EXIT_FAILED;
	if (!o.quiet)
		fprintf(stderr, "faultline: recorded %llu events (%llu lost) to %s; see: faultline report %s\n",
			(unsigned long long)r.events, res.lost, o.out, o.out);
	if (o.html && write_html(o.out, o.html))
		return FL_EXIT_FAILED;
	if (o.s.attach_pid || !res.have_status)
		return 0;
	return child_exit_code(res.wait_status);
}
