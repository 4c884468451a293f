/* html.c - `report --format html`: one self-contained page. Its data (the
 * JSON summary exactly as `--format json` writes it, the syscall markers and
 * timeline of html_events.c, the folded stacks of folded.c's table) goes into a
 * <script type="application/json"> element, with every '<', '>', '&' and
 * U+2028/U+2029 written as a \u escape (util/escape.c), so no string from the
 * target can end that element or be read as markup; the page's own script (html/page.js)
 * builds the DOM from it with text nodes only. The scripts and the style are
 * inlined, and a Content-Security-Policy allows those two scripts (by hash)
 * and nothing from the network. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output/html.h"
#include "output/html/assets.h"

#define HTML_MAX_STACKS 2000 /* folded stacks per metric (the largest counts) */

static void write_markers(FILE *out, const struct html_events *h, uint64_t t0)
{
	size_t n;
	const uint64_t *total, *every;
	const struct html_marker *m = html_events_markers(h, &n, &total, &every);
	uint64_t all = 0;

	for (int k = 0; k < FL_NSYS; k++)
		all += total[k];
	fprintf(out, "{\"total\":%" PRIu64 ",\"by_kind\":{", all);
	for (int k = 0; k < FL_NSYS; k++)
		fprintf(out, "%s\"%s\":{\"total\":%" PRIu64 ",\"every\":%" PRIu64 "}", k ? "," : "", fl_sys_names[k],
			total[k], every[k]);
	fprintf(out, "},\"fields\":[\"t_ns\",\"sys\",\"seq\",\"call_seq\",\"pid\",\"size\",\"addr\","
		"\"first_touches\",\"failed\",\"call\",\"what\"],\"rows\":[");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s[%" PRIu64 ",\"%s\",%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 ",\"0x%" PRIx64 "\",%u,%d,",
			i ? "," : "", m[i].ts > t0 ? m[i].ts - t0 : 0, fl_sys_names[m[i].sys], m[i].seq,
			m[i].call_seq, m[i].pid, m[i].size, m[i].addr, m[i].touches, m[i].failed);
		json_string(out, m[i].call);
		fputc(',', out);
		json_string(out, m[i].what);
		fputc(']', out);
	}
	fprintf(out, "]}");
}

static void write_points(FILE *out, const struct html_series *sr, uint64_t t0)
{
	fprintf(out, "\"pid\":%u,\"interval_ns\":%" PRIu64 ",\"points\":[", sr->pid, sr->interval);
	for (size_t i = 0; i < sr->n; i++) {
		const struct html_point *p = &sr->p[i];
		uint64_t held = p->heap + p->mmap > p->live ? p->heap + p->mmap - p->live : 0;

		fprintf(out, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%u]", i ? "," : "",
			p->ts > t0 ? p->ts - t0 : 0, p->live, p->heap, p->mmap, held, p->syscalls, p->first_touches);
	}
	fputc(']', out);
}

/* All processes' series, then (with more than one process) each one's. */
static void write_timeline(FILE *out, const struct html_events *h, uint64_t t0)
{
	size_t n;
	const struct html_series *sr = html_events_series(h, &n);

	fprintf(out, "{\"source\":\"recording\",\"fields\":[\"t_ns\",\"live\",\"heap\",\"mmap\",\"held\","
		"\"syscalls\",\"first_touches\"],");
	write_points(out, &sr[0], t0);
	fputs(",\"processes\":[", out);
	for (size_t i = 1; n > 2 && i < n; i++) {
		fputs(i > 1 ? ",{" : "{", out);
		write_points(out, &sr[i], t0);
		fputc('}', out);
	}
	fputs("]}", out);
}

static int by_count_desc(const void *a, const void *b)
{
	const struct cs_folded *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->stack, y->stack);
}

/* The folded stacks of each metric (the table of folded.c), the largest first. */
static void write_flame(FILE *out, struct callsites *cs)
{
	if (!cs) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	for (int m = 0; m < CS_NMETRIC; m++) {
		size_t n;
		struct cs_folded *l = callsites_folded(cs, m, &n);
		uint64_t left_out = 0;

		if (l)
			qsort(l, n, sizeof(*l), by_count_desc);
		for (size_t i = HTML_MAX_STACKS; i < n; i++)
			left_out += l[i].count;
		fprintf(out, "%s\"%s\":{\"stacks\":%zu,\"left_out\":%" PRIu64 ",\"rows\":[", m ? "," : "",
			cs_metric_names[m], l ? n : 0, left_out);
		for (size_t i = 0; l && i < n && i < HTML_MAX_STACKS; i++) {
			fprintf(out, "%s[", i ? "," : "");
			json_string(out, l[i].stack);
			fprintf(out, ",%" PRIu64 "]", l[i].count);
		}
		fputs("]}", out);
		free(l);
	}
	fputc('}', out);
}

/* The page's data as JSON, in a buffer (NULL when out of memory). */
static char *page_data(const struct html_events *h, struct callsites *cs, const struct summary *s,
		       const struct run_info *ri, bool truncated, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	uint64_t t0 = s->first_ts ? s->first_ts : ri->start_ns;

	if (!f)
		return NULL;
	fputs("{\"schema\":\"faultline.html.v1\",\"summary\":", f);
	summary_write_json(f, s, ri, truncated);
	fputs(",\"markers\":", f);
	write_markers(f, h, t0);
	fputs(",\"timeline\":", f);
	write_timeline(f, h, t0);
	fputs(",\"flame\":", f);
	write_flame(f, cs);
	fprintf(f, ",\"limits\":{\"stacks_per_metric\":%d}}", HTML_MAX_STACKS);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int html_write(FILE *out, const struct html_events *h, struct callsites *cs, const struct summary *s,
	       const struct run_info *ri, bool truncated)
{
	size_t len = 0;
	char *data = page_data(h, cs, s, ri, truncated, &len);

	if (!data)
		return -1;
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"script-src 'sha256-%s' 'sha256-%s'; style-src 'unsafe-inline'; img-src data:; "
		"base-uri 'none'; form-action 'none'\">\n"
		"<meta name=\"viewport\" content=\"width=device-width\">\n<title>faultline report</title>\n<style>",
		html_d3_js_sha256, html_page_js_sha256);
	fwrite(html_page_css, 1, html_page_css_len, out);
	fputs("</style></head>\n<body>\n<div id=\"app\"><p id=\"loading\">faultline report: this page needs "
	      "JavaScript.</p></div>\n<script type=\"application/json\" id=\"faultline-data\">", out);
	esc_json_for_html(out, data, len);
	free(data);
	fputs("</script>\n<script>", out);
	fwrite(html_d3_js, 1, html_d3_js_len, out);
	fputs("</script>\n<script>", out);
	fwrite(html_page_js, 1, html_page_js_len, out);
	fputs("</script>\n</body></html>\n", out);
	return ferror(out) ? -1 : 0;
}
