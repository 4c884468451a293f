/* sites.c - the top call sites of --stacks (analyze/callsites.h) as a text
 * section and as the JSON object extra.call_sites. */
#include <inttypes.h>
#include <stdlib.h>
#include "output/output.h"
#include "store/buildid_cache.h"
#include "util/escape.h"

static const char *const section_titles[CS_NMETRIC] = {
	"Top call sites by memory syscalls",
	"Top call sites by first-touch faults",
	"Top call sites by bytes requested",
};

static void syscall_kinds(const struct cs_site *s, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int k = 0; k < FL_NSYS && off < len; k++)
		if (s->count.syscalls[k])
			off += snprintf(buf + off, len - off, "%s%s %" PRIu64, off ? ", " : "", fl_sys_names[k],
					s->count.syscalls[k]);
}

static void write_section(struct callsites *cs, FILE *out, enum cs_metric m, int top)
{
	size_t n;
	struct cs_site *s = callsites_sites(cs, m, &n);
	char kinds[160];

	fprintf(out, "\n%s%s\n", section_titles[m], n ? "" : ": none");
	for (size_t i = 0; i < n && (int)i < top; i++) {
		uint64_t v = cs_counts_metric(&s[i].count, m);

		switch (m) {
		case CS_SYSCALLS:
			syscall_kinds(&s[i], kinds, sizeof(kinds));
			fprintf(out, "  %8" PRIu64 "  %-24s  ", v, kinds);
			break;
		case CS_FAULTS:
			snprintf(kinds, sizeof(kinds), "allocated here %" PRIu64 ", touched %" PRIu64,
				 s[i].count.faults_owned, s[i].count.faults_touched);
			fprintf(out, "  %8" PRIu64 "  %-32s  ", v, kinds);
			break;
		default:
			snprintf(kinds, sizeof(kinds), "%" PRIu64 " call%s", s[i].count.calls, s[i].count.calls == 1 ? "" : "s");
			fprintf(out, "  %12" PRIu64 "  %-12s  ", v, kinds);
			break;
		}
		esc_puts(out, s[i].name, ESC_TEXT); /* names from the target's files */
		fputc('\n', out);
	}
	if (n > (size_t)top)
		fprintf(out, "  ... %zu more call sites (report --format folded --metric %s has them all)\n",
			n - top, cs_metric_names[m]);
	free(s);
}

void sites_write_text(struct callsites *cs, FILE *out)
{
	struct cs_stats st;

	callsites_stats(cs, &st);
	fprintf(out, "\nCall sites (--stacks%s): %" PRIu64 " stacks unwound into %" PRIu64 " distinct stacks (%.0f bytes "
		"each on average)", st.mode == FL_STACKS_ALL ? "=all" : "", st.stacks, st.distinct,
		st.stacks ? (double)st.stack_bytes / st.stacks : 0.0);
	if (st.not_unwound)
		fprintf(out, ", %" PRIu64 " could not be unwound", st.not_unwound);
	if (st.not_taken)
		fprintf(out, "; %" PRIu64 " stacks were not taken (counts are whole): the ring buffer was over "
			"half full (raise --buffer-size or lower --stack-size), or on the preload path the call "
			"came while another thread forked", st.not_taken);
	if (st.objects_cached)
		fprintf(out, "; %" PRIu64 " object%s read from the build-id cache (%s: replaced, deleted or "
			"in another mount namespace)", st.objects_cached, st.objects_cached == 1 ? "" : "s",
			buildid_cache_dir());
	if (st.objects_missing)
		fprintf(out, "; %" PRIu64 " object%s not the recorded one%s and not in the build-id cache: "
			"frames in %s may be misnamed", st.objects_missing, st.objects_missing == 1 ? " is" : "s are",
			st.objects_missing == 1 ? "" : "s", st.objects_missing == 1 ? "it" : "them");
	if (st.objects_too_large)
		fprintf(out, "; %" PRIu64 " object%s not copied into the build-id cache when recorded (larger than "
			"its bound per object): frames in %s are named from the path%s", st.objects_too_large,
			st.objects_too_large == 1 ? " was" : "s were", st.objects_too_large == 1 ? "it" : "them",
			st.objects_too_large == 1 ? "" : "s");
	fprintf(out, "\n  a call site is the first frame outside the allocator, then its callers (innermost first)\n");
	if (st.mode == FL_STACKS_ALL && st.sample > 1)
		fprintf(out, "  stacks of 1 in %u allocator calls (--sample %u): bytes per call site are those calls' "
			"bytes times %u; syscall and fault counts are exact\n", st.sample, st.sample, st.sample);
	else if (st.mode != FL_STACKS_ALL)
		fprintf(out, "  bytes count for the calls that made a syscall (record --stacks=all for every call)\n");
	for (int m = 0; m < CS_NMETRIC; m++)
		write_section(cs, out, m, st.top);
}

void sites_write_json(void *ctx, FILE *out)
{
	struct callsites *cs = ctx;
	struct cs_stats st;

	callsites_stats(cs, &st);
	fprintf(out, "{\"stacks\": %" PRIu64 ", \"distinct_stacks\": %" PRIu64 ", \"not_unwound\": %" PRIu64
		", \"not_taken\": %" PRIu64 ", \"sample\": %u, \"mode\": \"%s\"", st.stacks, st.distinct,
		st.not_unwound, st.not_taken, st.sample, st.mode == FL_STACKS_ALL ? "all" : "events");
	for (int m = 0; m < CS_NMETRIC; m++) {
		size_t n;
		struct cs_site *s = callsites_sites(cs, m, &n);

		fprintf(out, ", \"%s\": [", cs_metric_names[m]);
		for (size_t i = 0; i < n && (int)i < st.top; i++) {
			fprintf(out, "%s{\"count\": %" PRIu64 ", \"site\": ", i ? ", " : "", cs_counts_metric(&s[i].count, m));
			json_string(out, s[i].name);
			if (s[i].mangled) {
				fputs(", \"mangled\": ", out);
				json_string(out, s[i].mangled);
			}
			if (m == CS_SYSCALLS)
				for (int k = 0; k < FL_NSYS; k++)
					fprintf(out, ", \"%s\": %" PRIu64, fl_sys_names[k], s[i].count.syscalls[k]);
			if (m == CS_FAULTS)
				fprintf(out, ", \"allocated_here\": %" PRIu64 ", \"touched_here\": %" PRIu64,
					s[i].count.faults_owned, s[i].count.faults_touched);
			if (m == CS_BYTES)
				fprintf(out, ", \"calls\": %" PRIu64, s[i].count.calls);
			fputc('}', out);
		}
		fputc(']', out);
		free(s);
	}
	fputc('}', out);
}
