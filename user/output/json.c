/* json.c - the summary as JSON (schema faultline.summary.v1); every
 * key is present even when zero, since scripts and CI depend on the names. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "fl_schema.h"
#include "output/output.h"

static void json_counts(FILE *out, const uint64_t *v, const char *const *names, int n)
{
	fputc('{', out);
	for (int i = 0; i < n; i++)
		fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", names[i], v[i]);
	fputc('}', out);
}

static void write_target(FILE *out, const struct run_info *ri)
{
	fprintf(out, "\"target\":{\"command\":[");
	for (int i = 0; i < ri->argc; i++) {
		if (i)
			fputc(',', out);
		json_string(out, ri->argv[i]);
	}
	fprintf(out, "],\"pid\":%u,\"exit_status\":", ri->pid);
	if (!ri->have_exit)
		fprintf(out, "null");
	else if (WIFEXITED(ri->exit_status))
		fprintf(out, "%d", WEXITSTATUS(ri->exit_status));
	else
		fprintf(out, "%d", 128 + WTERMSIG(ri->exit_status));
	fputc('}', out);
}

static void write_by_caller(FILE *out, const struct summary *s)
{
	fprintf(out, "\"syscalls_by_caller\":{");
	for (int f = 0; f < FL_NCALLERS; f++) {
		fprintf(out, "%s\"%s\":", f ? "," : "",
			f < FL_NCALLS ? fl_call_names[f] : f == FL_CALLER_NONE ? "none" : "allocator_background");
		json_counts(out, s->by_caller[f], fl_sys_names, FL_NSYS);
	}
	fputc('}', out);
}

/* The count sections: calls, syscalls, syscalls_by_caller, faults, bytes. */
static void write_count_sections(FILE *out, const struct summary *s)
{
	fprintf(out, "\"calls\":");
	json_counts(out, s->calls, fl_call_names, FL_NCALLS);
	fprintf(out, ",\"syscalls\":");
	json_counts(out, s->syscalls, fl_sys_names, FL_NSYS);
	fputc(',', out);
	write_by_caller(out, s);
	fprintf(out, ",\"faults\":{\"total\":%" PRIu64 ",\"user_mode\":%" PRIu64 ",\"kernel_mode\":%" PRIu64
		",\"allocation\":%" PRIu64 ",\"allocator\":%" PRIu64 ",\"other\":%" PRIu64 ",\"runtime\":%" PRIu64
		",\"tracer\":%" PRIu64 "}",
		s->faults_total, s->faults_user, s->faults_kernel, s->faults_owner[FL_OWNER_ALLOCATION],
		s->faults_owner[FL_OWNER_ALLOCATOR], s->faults_owner[FL_OWNER_OTHER], s->faults_owner[FL_OWNER_RUNTIME],
		s->faults_owner[FL_OWNER_TRACER]);
	fprintf(out, ",\"bytes\":{\"requested\":%" PRIu64 ",\"peak_live\":%" PRIu64 ",\"peak_heap\":%" PRIu64
		",\"peak_mmap\":%" PRIu64 "}", s->bytes_requested, s->peak_live, s->peak_heap, s->peak_mmap);
}

/* The members added to "extra", in the order added; a key added again replaces its writer. */
#define MAX_EXTRAS 8
static struct {
	const char *key;
	void (*writer)(void *ctx, FILE *out);
	void *ctx;
} extras[MAX_EXTRAS];
static int nextras;

void summary_json_add_extra(const char *key, void (*fn)(void *ctx, FILE *out), void *ctx)
{
	int i = 0;

	while (i < nextras && strcmp(extras[i].key, key))
		i++;
	if (i == MAX_EXTRAS)
		return;
	if (i == nextras)
		nextras++;
	extras[i].key = key;
	extras[i].writer = fn;
	extras[i].ctx = ctx;
}

static void (*top_writer)(void *ctx, FILE *out);
static const char *top_key;
static void *top_ctx;

void summary_json_add_top(const char *key, void (*fn)(void *ctx, FILE *out), void *ctx)
{
	top_key = key;
	top_writer = fn;
	top_ctx = ctx;
}

void summary_write_json_runs(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated,
			     unsigned runs, const struct summary *stddev)
{
	fprintf(out, "{\"schema\":\"" FL_SUMMARY_SCHEMA "\",");
	write_target(out, ri);
	fprintf(out, ",\"duration_ns\":%" PRIu64 ",\"lost_events\":%" PRIu64 ",",
		run_duration_ns(s, ri), ri->lost);
	if (run_probe_path(ri))
		fprintf(out, "\"probe_path\":\"%s\",", run_probe_path(ri));
	if (ri->call_time_res > 1)
		fprintf(out, "\"call_time_res_ns\":%" PRIu64 ",", ri->call_time_res);
	write_count_sections(out, s);
	fprintf(out, ",\"extra\":{\"first_touch_faults\":%" PRIu64 ",\"first_touch_by_owner\":", s->first_touch);
	json_counts(out, s->first_touch_owner, fl_owner_names, FL_NOWNER);
	fprintf(out, ",\"nested_calls\":%" PRIu64 ",\"nested_calls_by\":", s->calls_nested);
	json_counts(out, s->calls_nested_by, fl_call_names, FL_NCALLS);
	fprintf(out, ",\"frees_unknown\":%" PRIu64 ",\"frees_null\":%" PRIu64
		",\"frees_thread_cache\":%" PRIu64 ",\"orphan_events\":%" PRIu64 ",\"allocator\":",
		s->frees_unknown, s->frees_null, s->frees_thread_cache, s->orphan_events);
	json_string(out, ri->allocator);
	fprintf(out, ",\"allocators\":[");
	json_string(out, ri->allocator);
	for (const char *p = ri->allocators_more; *p;) {
		const char *end = strstr(p, "; ");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char one[4096];

		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		fputc(',', out);
		json_string(out, one);
		p += n + (end ? 2 : 0);
	}
	fprintf(out, "],\"mismatched_frees\":{");
	for (int a = 0, first = 1; a < FL_NFAMILY; a++)
		for (int f = 0; f < FL_NFAMILY; f++)
			if (a != f) {
				fprintf(out, "%s\"%s/%s\":%" PRIu64, first ? "" : ",", fl_family_names[a],
					fl_family_free_names[f], s->mismatched[a][f]);
				first = 0;
			}
	fputc('}', out);
	fprintf(out, ",\"peak_unused\":%" PRIu64, s->peak_unused);
	fprintf(out, ",\"truncated\":%s,\"mode\":\"%s\"", truncated ? "true" : "false",
		s->kernel_counted ? "syscalls-and-faults" : "full");
	for (int i = 0; i < nextras; i++) {
		fprintf(out, ",\"%s\":", extras[i].key);
		extras[i].writer(extras[i].ctx, out);
	}
	if (runs > 1 && stddev) {
		fprintf(out, ",\"runs\":%u,\"stddev\":{", runs);
		write_count_sections(out, stddev);
		fputc('}', out);
	}
	fputc('}', out);
	if (top_writer) {
		fprintf(out, ",\"%s\":", top_key);
		top_writer(top_ctx, out);
	}
	fprintf(out, "}\n");
}

void summary_write_json(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated)
{
	summary_write_json_runs(out, s, ri, truncated, 1, NULL);
}
