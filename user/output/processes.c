/* processes.c - the per-process rows of analyze/processes.h: a text section
 * (with more than one process) and the JSON array extra.processes. */
#include <inttypes.h>
#include <stdio.h>
#include "analyze/processes.h"
#include "output/output.h"

static uint64_t syscalls_of(const struct proc_counts *n)
{
	uint64_t t = 0;

	for (int k = 0; k < FL_NSYS; k++)
		t += n->syscalls[k];
	return t;
}

static void write_argv_text(FILE *out, const struct corr_proc *p)
{
	if (!p || !p->exe) {
		fprintf(out, "(not read: the process was gone when its exec was seen)");
		return;
	}
	esc_puts(out, p->exe, ESC_TEXT);
	for (int i = 0; i < p->argc; i++) {
		fputs(i ? " " : "  [", out);
		esc_puts(out, p->argv[i], ESC_TEXT);
	}
	if (p->argc)
		fputc(']', out);
}

void processes_write_text(const struct processes *ps, FILE *out)
{
	size_t n;
	const struct proc_row *r = processes_rows(ps, &n);
	char a[32], b[32], c[32];

	if (n < 2)
		return;
	fprintf(out, "\nProcesses: %zu (each its own peaks; the totals above add their counts, and their\n"
		     "peaks are the largest of any one process's)\n", n);
	fprintf(out, "  %7s %7s %9s %8s %8s %8s %10s %10s %10s  %s\n", "pid", "parent", "calls", "syscalls",
		"touches", "runtime", "peak live", "peak heap", "peak mmap", "file [argv]");
	for (size_t i = 0; i < n; i++) {
		const struct corr_proc *p = r[i].proc;

		fprintf(out, "  %7u %7u %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10s %10s %10s  ", r[i].pid,
			p ? p->ppid : 0, r[i].n.calls, syscalls_of(&r[i].n), r[i].n.first_touch,
			r[i].n.first_touch_owner[FL_OWNER_RUNTIME], fmt_bytes(p ? p->peak_live : 0, a, sizeof(a)),
			fmt_bytes(p ? p->peak_heap : 0, b, sizeof(b)), fmt_bytes(p ? p->peak_mmap : 0, c, sizeof(c)));
		write_argv_text(out, p);
		fputc('\n', out);
	}
}

static void write_row_json(FILE *out, const struct proc_row *r)
{
	const struct corr_proc *p = r->proc;

	fprintf(out, "{\"pid\":%u,\"ppid\":%u,\"exe\":", r->pid, p ? p->ppid : 0);
	if (p && p->exe)
		json_string(out, p->exe);
	else
		fprintf(out, "null");
	fprintf(out, ",\"argv\":[");
	for (int i = 0; p && i < p->argc; i++) {
		if (i)
			fputc(',', out);
		json_string(out, p->argv[i]);
	}
	fprintf(out, "],\"exited\":%s,\"calls\":%" PRIu64 ",\"bytes_requested\":%" PRIu64 ",\"syscalls\":{",
		p && p->exited ? "true" : "false", r->n.calls, r->n.bytes_requested);
	for (int k = 0; k < FL_NSYS; k++)
		fprintf(out, "%s\"%s\":%" PRIu64, k ? "," : "", fl_sys_names[k], r->n.syscalls[k]);
	fprintf(out, "},\"faults\":%" PRIu64 ",\"first_touch\":%" PRIu64 ",\"first_touch_by_owner\":{", r->n.faults,
		r->n.first_touch);
	for (int o = 0; o < FL_NOWNER; o++)
		fprintf(out, "%s\"%s\":%" PRIu64, o ? "," : "", fl_owner_names[o], r->n.first_touch_owner[o]);
	fprintf(out, "},\"peak_live\":%" PRIu64 ",\"peak_heap\":%" PRIu64 ",\"peak_mmap\":%" PRIu64
		",\"peak_unused\":%" PRIu64 "}", p ? p->peak_live : 0, p ? p->peak_heap : 0, p ? p->peak_mmap : 0,
		p ? p->peak_unused : 0);
}

void processes_write_json(void *ctx, FILE *out)
{
	size_t n;
	const struct proc_row *r = processes_rows(ctx, &n);

	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		write_row_json(out, &r[i]);
	}
	fputc(']', out);
}
