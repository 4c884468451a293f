/* analyses.c - the heap analyses (analyze/analyses.h) as the JSON object
 * "analyses" (the contract: every key present, even when empty) and
 * as text sections: short tables, and a sparkline of the timeline. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output/output.h"

#define TOP 10

/* ---- site lists ---------------------------------------------------------- */

enum order { BY_LEAK, BY_PEAK, BY_TEMP };

/* A site as listed: its counts (rows of one call-site text merged). */
struct row {
	unsigned key;
	const char *name;   /* stack sites: the call-site text */
	struct hs_site c;
	uint64_t peak_bytes, peak_blocks;
	uint64_t v;         /* the value of the order */
};

static int row_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->v != b->v)
		return a->v < b->v ? 1 : -1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static int row_name_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

static void row_add(struct row *into, const struct row *r)
{
	const uint64_t *from = (const uint64_t *)&r->c;
	uint64_t *to = (uint64_t *)&into->c;

	for (size_t i = 0; i < sizeof(r->c) / sizeof(uint64_t); i++)
		to[i] += from[i];
	into->peak_bytes += r->peak_bytes;
	into->peak_blocks += r->peak_blocks;
}

/* Stack sites stand for `sample` calls each. */
static void row_scale(struct row *r, unsigned sample)
{
	uint64_t *v = (uint64_t *)&r->c;

	for (size_t i = 0; i < sizeof(r->c) / sizeof(uint64_t); i++)
		v[i] *= sample;
	r->peak_bytes *= sample;
	r->peak_blocks *= sample;
}

static uint64_t row_value(const struct row *r, enum order o)
{
	return o == BY_LEAK ? (r->c.leak_bytes ? r->c.leak_bytes : r->c.leak_blocks)
	       : o == BY_PEAK ? r->peak_bytes : r->c.temp_calls;
}

/* The sites with a non-zero value of o, most first; the caller frees. */
static struct row *rows_of(const struct ha_results *r, enum order o, size_t *n)
{
	size_t total = HS_NSITES + r->sites->nrows, k = 0, m = 0, first_stack;
	struct row *v = calloc(total ? total : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (unsigned key = 0; key < total; key++) {
		struct row w = { .key = key, .c = *hs_at_c(r->sites, key) };

		hs_at_peak(r->sites, key, &w.peak_bytes, &w.peak_blocks);
		if (!row_value(&w, o))
			continue;
		if (hs_is_row(key))
			w.name = callsites_row_site(r->cs, hs_row_of(key));
		v[k++] = w;
	}
	/* stack sites: rows of one call-site text are one site */
	for (first_stack = 0; first_stack < k && !hs_is_row(v[first_stack].key); first_stack++)
		;
	qsort(v + first_stack, k - first_stack, sizeof(*v), row_name_cmp);
	m = first_stack;
	for (size_t i = first_stack; i < k; i++) {
		if (m > first_stack && !strcmp(v[m - 1].name, v[i].name))
			row_add(&v[m - 1], &v[i]);
		else
			v[m++] = v[i];
	}
	for (size_t i = 0; i < m; i++) {
		if (hs_is_row(v[i].key) && r->sample > 1)
			row_scale(&v[i], r->sample);
		v[i].v = row_value(&v[i], o);
	}
	qsort(v, m, sizeof(*v), row_cmp);
	*n = m;
	return v;
}

static void site_name(const struct row *w, char *buf, size_t len)
{
	if (w->name)
		snprintf(buf, len, "%s", w->name);
	else
		hs_name(w->key, buf, len);
}

static void json_site(FILE *out, const struct row *w)
{
	char name[1024];

	site_name(w, name, sizeof(name));
	fprintf(out, "\"site\":");
	json_string(out, name);
	fprintf(out, ",\"frames\":[");
	if (w->name) { /* "f (a.c:1) < g (a.c:9)": one frame each (C++ names may hold '<' alone) */
		for (const char *f = name, *end; *f; f = end ? end + 3 : f + strlen(f)) {
			char one[1024];

			end = strstr(f, " < ");
			snprintf(one, sizeof(one), "%.*s", (int)(end ? (size_t)(end - f) : strlen(f)), f);
			if (f != name)
				fputc(',', out);
			json_string(out, one);
		}
		fprintf(out, "]");
		return;
	}
	json_string(out, hs_func(w->key));
	fprintf(out, "],\"size_min\":%" PRIu64 ",\"size_max\":%" PRIu64, hs_class_min(w->key % HS_NCLASS),
		hs_class_max(w->key % HS_NCLASS));
}

static void json_sites(FILE *out, const struct ha_results *r, enum order o)
{
	size_t n;
	struct row *v = rows_of(r, o, &n);

	fprintf(out, "\"sites\":[");
	for (size_t i = 0; i < n; i++) {
		const struct hs_site *s = &v[i].c;

		fprintf(out, "%s{", i ? "," : "");
		json_site(out, &v[i]);
		if (o == BY_LEAK)
			fprintf(out, ",\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"touched_pages\":%" PRIu64,
				s->leak_blocks, s->leak_bytes, s->leak_pages);
		else if (o == BY_PEAK)
			fprintf(out, ",\"bytes\":%" PRIu64 ",\"blocks\":%" PRIu64, v[i].peak_bytes, v[i].peak_blocks);
		else
			fprintf(out, ",\"calls\":%" PRIu64 ",\"of_calls\":%" PRIu64 ",\"syscalls\":%" PRIu64
				",\"first_touches\":%" PRIu64, s->temp_calls, s->calls, s->temp_syscalls, s->temp_touches);
		fputc('}', out);
	}
	fputc(']', out);
	free(v);
}

/* v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* The points are most of the object: written without printf (a line is
 * built in a buffer, then one fwrite). */
static void json_timeline(FILE *out, const struct timeline *tl, uint64_t start_ns)
{
	static const char *const keys[] = { "{\"t_ns\":", ",\"live\":", ",\"heap\":", ",\"mmap\":", ",\"held\":",
					    ",\"resident\":" };
	char line[512 + FL_NSYS * 48];

	fprintf(out, "\"timeline\":{\"interval_ns\":%" PRIu64 ",\"start_ns\":%" PRIu64 ",\"points\":[",
		tl->interval_ns, start_ns);
	for (size_t i = 0; i < tl->n; i++) {
		const struct tl_point *pt = &tl->pts[i];
		const uint64_t v[] = { pt->t_ns, pt->v.live, pt->v.heap, pt->v.mmap, pt->v.held, pt->v.resident };
		char *p = line;

		if (i)
			*p++ = ',';
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			p = put_u64(put_str(p, keys[k]), v[k]);
		p = put_str(p, ",\"syscalls\":{");
		for (int sc = 0; sc < FL_NSYS; sc++) {
			*p++ = sc ? ',' : '"';
			if (sc)
				*p++ = '"';
			p = put_str(p, fl_sys_names[sc]);
			p = put_u64(put_str(p, "\":"), pt->syscalls[sc]);
		}
		p = put_u64(put_str(p, "},\"first_touches\":"), pt->first_touches);
		*p++ = '}';
		fwrite(line, 1, (size_t)(p - line), out);
	}
	fprintf(out, "]}");
}

static void json_resident(FILE *out, const struct ha_results *r)
{
	/* with the kernel's count: the model over the same mappings; else the allocator's pages */
	fprintf(out, "\"resident\":{\"model_bytes\":%" PRIu64 ",\"kernel_bytes\":",
		r->have_kernel ? r->model_rss : r->resident_allocator);
	if (r->have_kernel)
		fprintf(out, "%" PRIu64, r->kernel_rss);
	else
		fprintf(out, "null");
	fprintf(out, ",\"allocator_bytes\":%" PRIu64 ",\"peak_allocator_bytes\":%" PRIu64 ",\"peak_ts_ns\":%" PRIu64
		",\"all_pages_bytes\":%" PRIu64 ",\"freeable_bytes\":%" PRIu64 ",\"touches_not_kept\":%" PRIu64
		",\"by_region\":[", r->resident_allocator, r->peak_resident, r->peak_resident_ts, r->resident, r->freeable,
		r->model_lost);
	for (size_t i = 0; i < r->nregions; i++) {
		const struct ha_region *g = &r->regions[i];

		fprintf(out, "%s{\"pid\":%u,\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"name\":", i ? "," : "", g->tgid,
			g->start, g->end);
		json_string(out, g->name);
		fprintf(out, ",\"kernel_bytes\":%" PRIu64 ",\"model_bytes\":%" PRIu64 ",\"model_allocator_bytes\":%" PRIu64
			"}", g->kernel, g->model, g->model_allocator);
	}
	fprintf(out, "]}");
}

/* One process's keys (the contract's), without the braces. */
static void json_proc(FILE *out, const struct ha_results *r)
{
	fprintf(out, "\"leaks\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"touched_pages\":%" PRIu64
		",\"exact\":%s,\"by\":\"%s\",\"at\":\"%s\",", r->leak_blocks, r->leak_bytes,
		r->leak_pages, r->cs && r->sample > 1 ? "false" : "true", r->cs ? "stack" : "function and size class",
		r->attached ? "end of recording" : "exit");
	json_sites(out, r, BY_LEAK);
	fprintf(out, "},\"peak\":{\"ts_ns\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"live_bytes\":%" PRIu64 ",",
		r->peak_ts, r->peak_seq, r->peak_live);
	json_sites(out, r, BY_PEAK);
	fprintf(out, "},\"temporary\":{\"calls\":%" PRIu64 ",\"of_calls\":%" PRIu64 ",", r->temp_calls, r->calls);
	json_sites(out, r, BY_TEMP);
	fprintf(out, "},\"sizes\":[");
	for (unsigned k = 0, first = 1; k < HS_NCLASS; k++) {
		const struct ha_size_class *c = &r->sizes[k];

		if (!c->calls)
			continue;
		fprintf(out, "%s{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",\"calls\":%" PRIu64 ",\"bytes\":%" PRIu64
			",\"syscalls\":%" PRIu64 ",\"first_touches\":%" PRIu64 ",\"mmapped\":%" PRIu64 "}",
			first ? "" : ",", hs_class_min(k), hs_class_max(k), c->calls, c->bytes, c->syscalls,
			c->first_touches, c->mmapped);
		first = 0;
	}
	fprintf(out, "],\"mmap_threshold\":{\"end\":%" PRIu64 ",\"moves\":[", r->threshold);
	for (unsigned i = 0; i < r->nmoves; i++)
		fprintf(out, "%s{\"seq\":%" PRIu64 ",\"ts_ns\":%" PRIu64 ",\"threshold\":%" PRIu64 "}", i ? "," : "",
			r->moves[i].seq, r->moves[i].ts, r->moves[i].threshold);
	fprintf(out, "]},");
	json_timeline(out, r->timeline, r->start_ns);
	fputc(',', out);
	json_resident(out, r);
}

/* The command's process's keys, and "processes": every process's (the
 * command's first), each with its pid and parent. */
void analyses_write_json(void *ctx, FILE *out)
{
	const struct analyses *a = ctx;

	char *root = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&root, &len);

	/* the command's keys are written twice (top level, processes[0]): made once */
	if (m) {
		json_proc(m, analyses_results(a));
		if (fclose(m)) {
			free(root);
			root = NULL;
		}
	}
	fputc('{', out);
	if (root)
		fwrite(root, 1, len, out);
	else
		json_proc(out, analyses_results(a));
	fprintf(out, ",\"processes\":[");
	for (size_t i = 0; i < analyses_nprocs(a); i++) {
		const struct ha_results *r = analyses_proc(a, i);

		fprintf(out, "%s{\"pid\":%u,\"ppid\":%u,", i ? "," : "", r->pid, r->ppid);
		if (i == 0 && root)
			fwrite(root, 1, len, out);
		else
			json_proc(out, r);
		fputc('}', out);
	}
	fprintf(out, "]}");
	free(root);
}

/* ---- text ------------------------------------------------------------------ */

static void text_site_list(FILE *out, const struct ha_results *r, enum order o)
{
	size_t n;
	struct row *v = rows_of(r, o, &n);
	char name[1024], b[32];

	for (size_t i = 0; i < n && i < TOP; i++) {
		const struct hs_site *s = &v[i].c;

		site_name(&v[i], name, sizeof(name));
		if (o == BY_LEAK)
			fprintf(out, "  %10s in %6" PRIu64 " blocks, %6" PRIu64 " pages touched  ",
				fmt_bytes(s->leak_bytes, b, sizeof(b)), s->leak_blocks, s->leak_pages);
		else if (o == BY_PEAK)
			fprintf(out, "  %10s in %6" PRIu64 " blocks  ", fmt_bytes(v[i].peak_bytes, b, sizeof(b)),
				v[i].peak_blocks);
		else
			fprintf(out, "  %8" PRIu64 " of %8" PRIu64 " calls (%3.0f%%), %6" PRIu64 " syscalls, %6" PRIu64
				" first touches  ", s->temp_calls, s->calls, 100.0 * s->temp_calls / (s->calls ? s->calls : 1),
				s->temp_syscalls, s->temp_touches);
		esc_puts(out, name, ESC_TEXT); /* stack sites: names from the target's files */
		fputc('\n', out);
	}
	if (n > TOP)
		fprintf(out, "  ... %zu more (report --format json has them all)\n", n - TOP);
	if (r->cs && r->sample > 1)
		fprintf(out, "  (sites by stack are estimates: each sampled call stands for %u)\n", r->sample);
	free(v);
}

static void text_sizes(FILE *out, const struct ha_results *r)
{
	char lo[32], hi[32], by[32];
	bool marked = false;

	fprintf(out, "\nRequests by size (class: calls, bytes, syscalls, first touches, calls that got an mmap):\n");
	for (unsigned k = 0; k < HS_NCLASS; k++) {
		const struct ha_size_class *c = &r->sizes[k];

		if (!marked && hs_class_min(k) >= (128u << 10) && c->calls) {
			fprintf(out, "  ------ glibc's mmap threshold at start: 128 KiB ------\n");
			marked = true;
		}
		if (!c->calls)
			continue;
		fprintf(out, "  %9s-%-9s %9" PRIu64 " calls %10s  %7" PRIu64 " syscalls  %7" PRIu64 " touches  %6" PRIu64
			" mmapped\n", fmt_bytes(hs_class_min(k), lo, sizeof(lo)), fmt_bytes(hs_class_max(k), hi, sizeof(hi)),
			c->calls, fmt_bytes(c->bytes, by, sizeof(by)), c->syscalls, c->first_touches, c->mmapped);
	}
	for (unsigned i = 0; i < r->nmoves; i++)
		fprintf(out, "  the mmap threshold moved to %s at #%" PRIu64 " (a freed mmapped block that size)\n",
			fmt_bytes(r->moves[i].threshold, lo, sizeof(lo)), r->moves[i].seq);
}

/* One character per column, eight heights of one scale (max): each column
 * the highest of its points, so a short spike stays visible; then the
 * series' own highest value. */
static void sparkline(FILE *out, const char *label, const struct timeline *tl, size_t off, uint64_t max)
{
	static const char *const bars[] = { " ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588" };
	size_t cols = tl->n < 72 ? tl->n : 72, i = 0;
	uint64_t top = 0;
	char b[32];

	fprintf(out, "  %-9s ", label);
	for (size_t c = 0; c < cols; c++) {
		size_t end = (c + 1) * tl->n / cols;
		uint64_t v = 0;

		for (; i < end; i++) {
			uint64_t x = *(const uint64_t *)((const char *)&tl->pts[i].v + off);

			v = x > v ? x : v;
		}
		top = v > top ? v : top;
		fputs(bars[max ? (v * 8 + max - 1) / max : 0], out);
	}
	fprintf(out, "  max %s\n", fmt_bytes(top, b, sizeof(b)));
}

static void text_timeline(FILE *out, const struct timeline *tl)
{
	static const struct { const char *name; size_t off; } lines[] = {
		{ "live", offsetof(struct tl_levels, live) },   { "heap", offsetof(struct tl_levels, heap) },
		{ "mmap", offsetof(struct tl_levels, mmap) },   { "held", offsetof(struct tl_levels, held) },
		{ "resident", offsetof(struct tl_levels, resident) },
	};
	uint64_t max = 0;
	char b[32];

	fprintf(out, "\nTimeline: %zu points of %.3f ms (report --format json: analyses.timeline; --interval, --points)\n",
		tl->n, tl->interval_ns / 1e6);
	if (!tl->n)
		return;
	for (size_t i = 0; i < tl->n; i++) { /* one scale for all: they compare */
		const struct tl_levels *v = &tl->pts[i].v;
		uint64_t m = v->heap + v->mmap;

		m = m > v->live ? m : v->live;
		m = m > v->resident ? m : v->resident;
		max = m > max ? m : max;
	}
	fprintf(out, "  (one scale for all lines: a full block is %s)\n", fmt_bytes(max, b, sizeof(b)));
	for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++)
		sparkline(out, lines[l].name, tl, lines[l].off, max);
}

static void text_resident(FILE *out, const struct ha_results *r)
{
	char a[32], b[32], c[32];

	fprintf(out, "\nResident allocator memory (the model: first touches less munmap, brk shrinks, "
		"MADV_DONTNEED/REMOVE): %s at the end, peak %s at %.3f ms; %s of it MADV_FREE'd (freeable)\n",
		fmt_bytes(r->resident_allocator, a, sizeof(a)), fmt_bytes(r->peak_resident, b, sizeof(b)),
		r->peak_resident_ts / 1e6, fmt_bytes(r->freeable, c, sizeof(c)));
	if (r->model_lost)
		fprintf(out, "  the model is short of %" PRIu64 " first touches it could not keep (its bound, or memory)\n",
			r->model_lost);
	if (!r->have_kernel) {
		fprintf(out, "  kernel's count: none in this recording (record -- CMD stores /proc/PID/smaps at exit)\n");
		return;
	}
	fprintf(out, "  model vs kernel (smaps Rss of the allocator's mappings at exit): model %" PRIu64 " B, kernel %"
		PRIu64 " B (%+.2f%%)\n", r->model_rss, r->kernel_rss,
		r->kernel_rss ? 100.0 * ((double)r->model_rss - (double)r->kernel_rss) / (double)r->kernel_rss : 0.0);
	for (size_t i = 0; i < r->nregions && i < TOP; i++) {
		const struct ha_region *g = &r->regions[i];

		fprintf(out, "    pid %-7u %012" PRIx64 "-%012" PRIx64 " model %10s kernel %10s  ", g->tgid, g->start, g->end,
			fmt_bytes(g->model, a, sizeof(a)), fmt_bytes(g->kernel, b, sizeof(b)));
		esc_puts(out, g->name, ESC_TEXT);
		fputc('\n', out);
	}
	if (r->nregions > TOP)
		fprintf(out, "    ... %zu more mappings\n", r->nregions - TOP);
}

static void text_proc(FILE *out, const struct ha_results *r)
{
	char b[32], c[32];

	fprintf(out, "\nLeaks: %" PRIu64 " blocks, %s still live at %s; %" PRIu64 " of their pages were touched "
		"(%s of RSS at most; a leak never touched costs none)\n", r->leak_blocks,
		fmt_bytes(r->leak_bytes, b, sizeof(b)), r->attached ? "the end of the recording (-p: not an exit)" : "exit",
		r->leak_pages, fmt_bytes(r->leak_pages * 4096, c, sizeof(c)));
	text_site_list(out, r, BY_LEAK);
	fprintf(out, "\nPeak live: %s at %.3f ms (#%" PRIu64 "); live then, by site:\n", fmt_bytes(r->peak_live, b, sizeof(b)),
		r->peak_ts / 1e6, r->peak_seq);
	text_site_list(out, r, BY_PEAK);
	fprintf(out, "\nTemporary allocations (freed before their thread allocated again): %" PRIu64 " of %" PRIu64
		" calls (%.1f%%)\n", r->temp_calls, r->calls, 100.0 * r->temp_calls / (r->calls ? r->calls : 1));
	text_site_list(out, r, BY_TEMP);
	text_sizes(out, r);
	text_timeline(out, r->timeline);
	text_resident(out, r);
}

#define TEXT_PROCS 16 /* processes with sections of their own in the text report */

/* The command's process's sections; with -f, each other process's after a
 * heading of its own (the first TEXT_PROCS; the JSON has them all). */
void analyses_write_text(const struct analyses *a, FILE *out)
{
	size_t n = analyses_nprocs(a);

	if (n > 1)
		fprintf(out, "\nHeap analyses of process %u (the command; each process below has its own):\n",
			analyses_results(a)->pid);
	text_proc(out, analyses_results(a));
	for (size_t i = 1; i < n && i < TEXT_PROCS; i++) {
		const struct ha_results *r = analyses_proc(a, i);

		fprintf(out, "\n== Heap analyses of process %u (parent %u) ==\n", r->pid, r->ppid);
		text_proc(out, r);
	}
	if (n > TEXT_PROCS)
		fprintf(out, "\n... %zu more processes (report --format json: analyses.processes)\n", n - TEXT_PROCS);
}
