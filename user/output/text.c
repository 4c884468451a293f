/* text.c - the human report: summary tables, then one line per
 * allocator call that caused a syscall (or asked for 128 KiB or more), with
 * the region it got and the first-touch faults that followed on its block. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "analyze/calls.h"
#include "output/output.h"

#define LARGE_REQUEST (128 * 1024)
#define NOTE_TEXT 480

struct note {
	struct fl_ev_call call;
	uint64_t seq;
	uint64_t freed_seq;            /* free: call that made the freed block */
	uint64_t freed_size;
	uint8_t freed_func;            /* the call that made it */
	bool mismatched;               /* freed by another family's call */
	uint32_t faults_in_call, faults_program, faults_kernel;
	char where[96];                /* where the pointer lies, e.g. "heap start + 0x2a0" */
	char text[NOTE_TEXT];          /* syscalls it caused */
};

struct text_report {
	unsigned max_lines;
	int note_off;                  /* per block (corr_block_data): 1 + its note's index, 0: none */
	struct note *notes;
	size_t n, cap;
	uint64_t calls_not_listed;
	uint32_t last;                 /* note of the call now being resolved, or UINT32_MAX */
	uint64_t last_seq;
	struct note pending;           /* that call, kept until it proves notable (a syscall) */
};

const char *fmt_bytes(uint64_t n, char *buf, size_t len)
{
	if (n >= (1ull << 30) && n % (1ull << 20) == 0)
		snprintf(buf, len, "%.1f GiB", n / (double)(1ull << 30));
	else if (n >= (1ull << 20))
		snprintf(buf, len, "%.1f MiB", n / (double)(1ull << 20));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", n / 1024);
	else if (n >= 1024)
		snprintf(buf, len, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " B", n);
	return buf;
}

/* From the first event (the exec) to the last (the exit), in kernel time. */
uint64_t run_duration_ns(const struct summary *s, const struct run_info *ri)
{
	if (ri->attached && ri->end_ns > ri->start_ns)
		return ri->end_ns - ri->start_ns; /* -p: the window recorded, not its events' span */
	if (s->last_ts > s->first_ts)
		return s->last_ts - s->first_ts;
	return ri->end_ns > ri->start_ns ? ri->end_ns - ri->start_ns : 0;
}

struct text_report *text_report_new(unsigned max_lines)
{
	struct text_report *tr = calloc(1, sizeof(*tr));

	if (tr) {
		tr->max_lines = max_lines;
		tr->last = UINT32_MAX;
	}
	return tr;
}

void text_report_free(struct text_report *tr)
{
	if (tr)
		free(tr->notes);
	free(tr);
}

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

/* Where a returned pointer lies: in the brk heap or an allocator mapping. */
static void describe_ptr(struct note *n, const struct corr_proc *p, uint64_t ptr)
{
	const struct region *r;

	if (p->heap_start && ptr >= p->heap_start && ptr < p->brk)
		snprintf(n->where, sizeof(n->where), "heap start + 0x%" PRIx64, ptr - p->heap_start);
	else if ((r = region_set_find(p->regions, ptr)))
		snprintf(n->where, sizeof(n->where), "map start + 0x%" PRIx64, ptr - r->start);
}

/* Keeps the call being resolved, so a note can be made of it later. */
static void remember_call(struct text_report *tr, const struct corr_item *it)
{
	struct note *n = &tr->pending;

	/* field by field: a memset of the whole note (text included) for
	 * every call was a third of a text report's time */
	memcpy(&n->call, it->rec, sizeof(n->call));
	n->seq = it->seq;
	n->freed_seq = n->freed_size = 0;
	n->mismatched = it->mismatched;
	n->faults_in_call = n->faults_program = n->faults_kernel = 0;
	n->where[0] = n->text[0] = '\0';
	if (it->block && fl_is_free(n->call.h.func)) {
		n->freed_seq = it->block->seq;
		n->freed_size = it->block->size;
		n->freed_func = it->block->func;
	}
}

/* Lists the remembered call. */
static uint32_t add_note(struct text_report *tr)
{
	if (tr->n >= tr->max_lines) {
		tr->calls_not_listed++;
		return UINT32_MAX;
	}
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 64;
		struct note *nn = realloc(tr->notes, cap * sizeof(*nn));

		if (!nn)
			return UINT32_MAX;
		tr->notes = nn;
		tr->cap = cap;
	}
	tr->notes[tr->n] = tr->pending;
	return (uint32_t)tr->n++;
}

static bool is_large(const struct fl_ev_call *e)
{
	return call_requested_bytes(e) >= LARGE_REQUEST;
}

static void on_call(struct text_report *tr, const struct corr_item *it)
{
	const struct fl_ev_call *e = (const void *)it->rec;
	bool freed_large = it->block && fl_is_free(e->h.func) && it->block->size >= LARGE_REQUEST;

	if (it->call_seq) /* nested, as the correlator resolved it */
		return;
	tr->last = UINT32_MAX;
	tr->last_seq = it->seq;
	remember_call(tr, it);
	if (!it->syscalls_caused && !is_large(e) && !freed_large && !it->mismatched)
		return;
	tr->last = add_note(tr);
	if (tr->last != UINT32_MAX && it->block && !fl_is_free(e->h.func)) {
		*(uint32_t *)corr_block_data(it->block, tr->note_off) = tr->last + 1;
		describe_ptr(&tr->notes[tr->last], it->proc, e->ret);
	}
}

/* A syscall of the call being resolved: it is notable now (free, written at
 * its entry, is known to have caused one only here). */
static struct note *note_for_syscall(struct text_report *tr, const struct corr_item *it)
{
	if (it->call_seq != tr->last_seq || !it->call_seq)
		return NULL;
	if (tr->last == UINT32_MAX && tr->pending.seq == tr->last_seq)
		tr->last = add_note(tr);
	return tr->last == UINT32_MAX ? NULL : &tr->notes[tr->last];
}

void text_describe_syscall(char *buf, size_t cap, const struct corr_item *it)
{
	const struct fl_ev_syscall *e = (const void *)it->rec;
	char b1[32], b2[32];

	if (fl_syscall_failed(e->ret)) {
		append(buf, cap, "  %s failed (%" PRId64 ")", fl_sys_names[e->sys], e->ret);
		return;
	}
	switch (e->sys) {
	case FL_SYS_BRK:
		if (e->args[0] == 0) {
			append(buf, cap, "  brk(NULL)");
			break;
		}
		if (it->heap_old && it->heap_new >= it->heap_old)
			append(buf, cap, "  brk +%s", fmt_bytes(it->heap_new - it->heap_old, b1, sizeof(b1)));
		else if (it->heap_old)
			append(buf, cap, "  brk -%s", fmt_bytes(it->heap_old - it->heap_new, b1, sizeof(b1)));
		else
			append(buf, cap, "  brk(0x%" PRIx64 ")", e->args[0]);
		if (it->proc->heap_start)
			append(buf, cap, " heap 0x%" PRIx64 "-0x%" PRIx64, it->proc->heap_start, it->proc->brk);
		break;
	case FL_SYS_MMAP:
		append(buf, cap, "  mmap %s (%" PRIu64 " B)%s%s 0x%" PRIx64 "-0x%" PRIx64,
		       fmt_bytes(e->args[1], b1, sizeof(b1)), e->args[1],
		       e->args[2] == PROT_NONE ? " PROT_NONE" : "",
		       (e->args[3] & MAP_ANONYMOUS) ? " anon" : " file", (uint64_t)e->ret,
		       (uint64_t)e->ret + e->args[1]);
		break;
	case FL_SYS_MUNMAP:
		append(buf, cap, "  munmap %s 0x%" PRIx64 "-0x%" PRIx64, fmt_bytes(e->args[1], b1, sizeof(b1)),
		       e->args[0], e->args[0] + e->args[1]);
		break;
	case FL_SYS_MREMAP:
		append(buf, cap, "  mremap %s -> %s at 0x%" PRIx64, fmt_bytes(e->args[1], b1, sizeof(b1)),
		       fmt_bytes(e->args[2], b2, sizeof(b2)), (uint64_t)e->ret);
		break;
	case FL_SYS_MPROTECT:
		append(buf, cap, "  mprotect %s at 0x%" PRIx64 "%s", fmt_bytes(e->args[1], b1, sizeof(b1)),
		       e->args[0], e->args[2] == PROT_NONE ? " PROT_NONE" : " rw");
		break;
	case FL_SYS_MADVISE: {
		const char *name = madvise_advice_name(e->args[2]);

		if (name)
			append(buf, cap, "  madvise %s at 0x%" PRIx64 " %s", fmt_bytes(e->args[1], b1, sizeof(b1)),
			       e->args[0], name);
		else
			append(buf, cap, "  madvise %s at 0x%" PRIx64 " advice %" PRIu64,
			       fmt_bytes(e->args[1], b1, sizeof(b1)), e->args[0], e->args[2]);
		break;
	}
	}
}

const char *madvise_advice_name(uint64_t advice)
{
	static const struct { uint64_t v; const char *name; } names[] = {
		{ MADV_NORMAL, "MADV_NORMAL" },       { MADV_RANDOM, "MADV_RANDOM" },
		{ MADV_SEQUENTIAL, "MADV_SEQUENTIAL" }, { MADV_WILLNEED, "MADV_WILLNEED" },
		{ MADV_DONTNEED, "MADV_DONTNEED" },   { MADV_FREE, "MADV_FREE" },
		{ MADV_REMOVE, "MADV_REMOVE" },       { MADV_DONTFORK, "MADV_DONTFORK" },
		{ MADV_DOFORK, "MADV_DOFORK" },       { MADV_MERGEABLE, "MADV_MERGEABLE" },
		{ MADV_UNMERGEABLE, "MADV_UNMERGEABLE" }, { MADV_HUGEPAGE, "MADV_HUGEPAGE" },
		{ MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE" }, { MADV_DONTDUMP, "MADV_DONTDUMP" },
		{ MADV_DODUMP, "MADV_DODUMP" },       { MADV_HWPOISON, "MADV_HWPOISON" },
		{ 20, "MADV_COLD" },                  { 21, "MADV_PAGEOUT" },
		{ 22, "MADV_POPULATE_READ" },         { 23, "MADV_POPULATE_WRITE" },
		{ 24, "MADV_DONTNEED_LOCKED" },       { 25, "MADV_COLLAPSE" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == advice)
			return names[i].name;
	return NULL;
}

void text_describe_reason(char *buf, size_t cap, const struct fl_ev_reason *r)
{
	char b1[32];

	switch (r->kind) {
	case FL_R_FREELIST_MISS:
		append(buf, cap, "  [free list had no block for %" PRIu64 " B (class %" PRIu64 ")]", r->a[0], r->a[1]);
		break;
	case FL_R_HEAP_GROW:
		append(buf, cap, "  [heap grown by %s for %" PRIu64 " B]", fmt_bytes(r->a[1] - r->a[0], b1, sizeof(b1)),
		       r->a[2]);
		break;
	case FL_R_HEAP_TRIM:
		append(buf, cap, "  [heap top above the trim threshold: %s given back]",
		       fmt_bytes(r->a[0] - r->a[1], b1, sizeof(b1)));
		break;
	case FL_R_HEAP_MADVISE:
		append(buf, cap, "  [free heap pages released with madvise: %s]", fmt_bytes(r->a[1], b1, sizeof(b1)));
		break;
	case FL_R_BLOCK_MMAP:
		append(buf, cap, "  [at or above the mmap threshold: a mapping of its own, %s]",
		       fmt_bytes(r->a[2], b1, sizeof(b1)));
		break;
	case FL_R_BLOCK_MUNMAP:
		append(buf, cap, "  [the block had a mapping of its own: unmapped]");
		break;
	case FL_R_BLOCK_MREMAP:
		append(buf, cap, "  [the block's own mapping resized with mremap]");
		break;
	}
}

static void on_fault(struct text_report *tr, const struct corr_item *it)
{
	uint32_t note;
	struct note *n;

	if (!it->first_touch || !it->block)
		return;
	note = *(const uint32_t *)corr_block_data(it->block, tr->note_off);
	if (!note || note > tr->n)
		return;
	n = &tr->notes[note - 1];
	if (n->seq != it->alloc_seq)
		return;
	if (it->rec->flags & FL_F_IN_CALL)
		n->faults_in_call++;
	else
		n->faults_program++;
	if (it->rec->flags & FL_F_FAULT_KERNEL)
		n->faults_kernel++;
}

static void text_item(void *ctx, const struct corr_item *it)
{
	struct text_report *tr = ctx;

	switch (it->rec->type) {
	case FL_EV_CALL:
		on_call(tr, it);
		break;
	case FL_EV_SYSCALL: {
		struct note *n = note_for_syscall(tr, it);

		if (n) {
			text_describe_syscall(n->text, NOTE_TEXT, it);
			if (!n->where[0] && !fl_is_free(n->call.h.func) && n->call.ret)
				describe_ptr(n, it->proc, n->call.ret);
		}
		break;
	}
	case FL_EV_FAULT:
		on_fault(tr, it);
		break;
	case FL_EV_REASON:
		if (tr->last != UINT32_MAX && it->call_seq == tr->last_seq)
			text_describe_reason(tr->notes[tr->last].text, NOTE_TEXT, (const void *)it->rec);
		break;
	}
}

int text_report_attach(struct text_report *tr, struct correlator *c)
{
	struct corr_sink s = { .item = text_item, .ctx = tr };

	tr->note_off = corr_reserve_block_data(c, sizeof(uint32_t));
	if (tr->note_off < 0)
		return -1;
	corr_add_sink(c, &s);
	return 0;
}

/* ---- writing ---------------------------------------------------------------- */

static void write_header(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated)
{
	fprintf(out, "command:   ");
	for (int i = 0; i < ri->argc; i++) {
		if (i)
			fputc(' ', out);
		esc_puts(out, ri->argv[i], ESC_TEXT); /* the target's bytes: no control sequence gets through */
	}
	fprintf(out, "\npid:       %u", ri->pid);
	if (ri->have_exit && WIFEXITED(ri->exit_status))
		fprintf(out, "   exit status %d", WEXITSTATUS(ri->exit_status));
	else if (ri->have_exit)
		fprintf(out, "   killed by signal %d", WTERMSIG(ri->exit_status));
	fprintf(out, "   duration %.3f ms\n", run_duration_ns(s, ri) / 1e6);
	fprintf(out, "allocator: ");
	esc_puts(out, s->kernel_counted ? "(not probed: syscalls and faults only)"
		 : ri->allocator[0] ? ri->allocator : "(unknown)", ESC_TEXT);
	if (!s->kernel_counted && ri->allocators_more[0]) {
		fprintf(out, "; some entry points from ");
		esc_puts(out, ri->allocators_more, ESC_TEXT);
	}
	if (run_probe_path(ri))
		fprintf(out, " (calls by %s)", run_probe_path(ri));
	fputc('\n', out);
	if (truncated)
		fprintf(out, "events:    TRUNCATED: the recording was cut short; events lost before the cut: "
			"unknown\n");
	else
		fprintf(out, "events:    %" PRIu64 " lost%s", ri->lost,
			ri->lost ? " (the counts below are lower bounds)" : "");
	if (ri->call_time_res > 1) {
		uint64_t r = ri->call_time_res;

		fprintf(out, "; allocator calls' times to %" PRIu64 " %s", r % 1000000 == 0 ? r / 1000000 : r % 1000 == 0 ? r / 1000 : r,
			r % 1000000 == 0 ? "ms" : r % 1000 == 0 ? "us" : "ns");
	}
	fputc('\n', out);
}

/* Entry points one probe stands for (tcmalloc's operator delete is its
 * free): their calls are counted under the first name; said once per probe. */
static void write_aliases(FILE *out, const struct run_info *ri)
{
	uint32_t said[FL_NFUNC];
	int nsaid = 0;
	bool any = false, cross = false;

	for (unsigned p = 0; p < FL_NFUNC; p++) {
		bool in[FL_NCALLS] = { false }, dup = false;
		uint32_t set = 0;
		int names = 0;

		for (unsigned f = 0; f < FL_NFUNC; f++)
			if (ri->probe_of[f] == p && !in[fl_func_call(f)]) {
				in[fl_func_call(f)] = true;
				set |= 1u << fl_func_call(f);
				names++;
			}
		for (int k = 0; k < nsaid; k++)
			dup |= said[k] == set;
		if (names < 2 || dup)
			continue;
		said[nsaid++] = set;
		fprintf(out, "%s", any ? "; " : "  one function at one address, counted under the first name: ");
		any = true;
		for (int c = 0, k = 0; c < FL_NCALLS; c++) {
			if (!in[c])
				continue;
			fprintf(out, "%s%s", k++ ? " = " : "", fl_call_names[c]);
			cross |= fl_call_family[c] != fl_call_family[fl_func_call(p)];
		}
	}
	if (any)
		fprintf(out, "%s\n", cross ? " (a mismatched free between those cannot be seen)" : "");
}

static void write_mismatches(FILE *out, const struct summary *s)
{
	uint64_t n = 0;

	for (int a = 0; a < FL_NFAMILY; a++)
		for (int f = 0; f < FL_NFAMILY; f++)
			n += s->mismatched[a][f];
	if (!n)
		return;
	fprintf(out, "  mismatched deallocation: %" PRIu64 " block%s freed by another family's call:", n,
		n == 1 ? "" : "s");
	for (int a = 0; a < FL_NFAMILY; a++)
		for (int f = 0; f < FL_NFAMILY; f++)
			if (s->mismatched[a][f])
				fprintf(out, " %s'd freed with %s %" PRIu64 ";", fl_family_names[a], fl_family_free_names[f],
					s->mismatched[a][f]);
	fputc('\n', out);
}

static void write_calls(FILE *out, const struct summary *s, const struct run_info *ri)
{
	fprintf(out, "\nAllocator calls          calls   caused a syscall%s\n",
		s->calls_nested ? "   inside another call" : "");
	for (int f = 0; f < FL_NCALLS; f++) {
		if (!s->calls[f])
			continue;
		fprintf(out, "  %-20s %9" PRIu64 "   %9" PRIu64, fl_call_names[f], s->calls[f], s->calls_with_syscall[f]);
		if (s->calls_nested)
			fprintf(out, "   %9" PRIu64, s->calls_nested_by[f]);
		fputc('\n', out);
	}
	if (s->calls_nested)
		fprintf(out, "  (%" PRIu64 " of these were made inside another allocator call)\n", s->calls_nested);
	write_aliases(out, ri);
	write_mismatches(out, s);
	if (s->calls[FL_FREE])
		fprintf(out, "  free: %" PRIu64 " gave memory back with a syscall, %" PRIu64
			" kept it in the process (no syscall), %" PRIu64 " free(NULL), %" PRIu64 " unknown pointer\n",
			s->frees_returned, s->frees_kept, s->frees_null, s->frees_unknown);
	if (s->frees_thread_cache)
		fprintf(out, "  free: %" PRIu64 " at thread exit gave back the allocator's per-thread cache "
			"(glibc's tcache_thread_shutdown: blocks the program had freed already)\n", s->frees_thread_cache);
}

/* Syscalls counted in caller row f. */
static uint64_t syscalls_by(const struct summary *s, int f)
{
	uint64_t n = 0;

	for (int k = 0; k < FL_NSYS; k++)
		n += s->by_caller[f][k];
	return n;
}

static void write_syscalls(FILE *out, const struct summary *s)
{
	fprintf(out, "\nMemory syscalls      total");
	for (int f = 0; f < FL_NCALLERS; f++)
		if (f == FL_CALLER_NONE || (f < FL_NCALLS ? s->calls[f] : syscalls_by(s, f)))
			fprintf(out, " %9s", f < FL_NCALLS ? fl_call_names[f] : f == FL_CALLER_NONE ? "outside" : "alloc-bg");
	fputc('\n', out);
	for (int k = 0; k < FL_NSYS; k++) {
		fprintf(out, "  %-14s %9" PRIu64, fl_sys_names[k], s->syscalls[k]);
		for (int f = 0; f < FL_NCALLERS; f++)
			if (f == FL_CALLER_NONE || (f < FL_NCALLS ? s->calls[f] : syscalls_by(s, f)))
				fprintf(out, " %9" PRIu64, s->by_caller[f][k]);
		fputc('\n', out);
	}
	if (syscalls_by(s, FL_CALLER_BACKGROUND))
		fprintf(out, "  alloc-bg: made outside any call by a thread the allocator runs for itself "
			"(jemalloc's background_thread); other allocator-made syscalls outside calls count as outside\n");
}

static void write_faults(FILE *out, const struct summary *s)
{
	static const char *const what[FL_NOWNER] = {
		"a live block (header included)", "allocator memory: metadata, free space, top chunk",
		"stack, data, file mappings, other",
		"anonymous mappings made outside allocator calls (an interpreter's or VM's heap)",
		"the kernel's [uprobes] page: faultline's own probes (not the program's)" };

	fprintf(out, "\nPage faults: %" PRIu64 " (%" PRIu64 " user mode, %" PRIu64 " kernel mode), "
		"%" PRIu64 " first touch\n", s->faults_total, s->faults_user, s->faults_kernel, s->first_touch);
	for (int o = 0; o < FL_NOWNER; o++)
		if (o < FL_OWNER_RUNTIME || s->faults_owner[o]) /* the owners added later: when they own any */
			fprintf(out, "  %-11s %9" PRIu64 "  first touch %9" PRIu64 "  %s\n", fl_owner_names[o],
				s->faults_owner[o], s->first_touch_owner[o], what[o]);
	if (s->faults_owner[FL_OWNER_ALLOCATION])
		fprintf(out, "  on live blocks: %" PRIu64 " inside an allocator call, %" PRIu64 " by the program\n",
			s->alloc_faults_in_call, s->faults_owner[FL_OWNER_ALLOCATION] - s->alloc_faults_in_call);
}

static void write_memory(FILE *out, const struct summary *s)
{
	char a[32], b[32], c[32], d[32], e[32];

	fprintf(out, "\nMemory: requested %s; peak live %s; peak heap (brk) %s; peak allocator mmap %s\n",
		fmt_bytes(s->bytes_requested, a, sizeof(a)), fmt_bytes(s->peak_live, b, sizeof(b)),
		fmt_bytes(s->peak_heap, c, sizeof(c)), fmt_bytes(s->peak_mmap, d, sizeof(d)));
	fprintf(out, "  held by the allocator but in no live block: at most %s (free space, fragments, "
		"the top); at the end %s\n", fmt_bytes(s->peak_unused, e, sizeof(e)),
		fmt_bytes(s->cur_heap + s->cur_mmap > s->cur_live + s->cur_given_back ?
			  s->cur_heap + s->cur_mmap - s->cur_live - s->cur_given_back : 0, a, sizeof(a)));
	if (s->cur_given_back)
		fprintf(out, "  given back with madvise (MADV_DONTNEED/FREE/REMOVE) and not touched since: %s "
			"(not counted as held)\n", fmt_bytes(s->cur_given_back, a, sizeof(a)));
}

void text_call_signature(FILE *out, const struct fl_ev_call *e)
{
	struct call_arg args[3];
	int n = call_args(e, args), shown = 0;

	fprintf(out, "%s(", fl_func_name(e->h.func < FL_NFUNC ? e->h.func : 0));
	for (int i = 0; i < n; i++) {
		const char *sep = shown++ ? ", " : "";

		switch (args[i].role) {
		case CALL_ARG_PTR: fprintf(out, "%s0x%" PRIx64, sep, args[i].value); break;
		case CALL_ARG_ALIGN: fprintf(out, "%salign %" PRIu64, sep, args[i].value); break;
		case CALL_ARG_HIDDEN: shown--; break;
		default: fprintf(out, "%s%" PRIu64, sep, args[i].value); break;
		}
	}
	fputc(')', out);
	if (fl_kind_returns_block(fl_func_kind(e->h.func)))
		fprintf(out, " = 0x%" PRIx64, e->ret);
}

static void call_signature(FILE *out, const struct note *n)
{
	text_call_signature(out, &n->call);
	if (fl_is_free(n->call.h.func) && n->freed_seq)
		fprintf(out, " [block of #%" PRIu64 ", %" PRIu64 " B]", n->freed_seq, n->freed_size);
	if (n->mismatched && n->freed_func < FL_NFUNC)
		fprintf(out, " MISMATCHED: a block of %s freed with %s", fl_func_name(n->freed_func),
			fl_func_name(n->call.h.func));
}

/* Is the allocator glibc's (whose mmap threshold moves)? */
static bool is_glibc(const struct run_info *ri)
{
	const char *base = strrchr(ri->allocator, '/');

	base = base ? base + 1 : ri->allocator;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5);
}

static void write_note(FILE *out, const struct note *n, bool glibc)
{
	uint32_t faults = n->faults_in_call + n->faults_program;

	fprintf(out, "  #%-6" PRIu64 " tid %-7u ", n->seq, n->call.h.tid);
	call_signature(out, n);
	if (n->text[0])
		fprintf(out, "%s\n", n->text);
	else
		fprintf(out, "  no syscall%s\n", fl_is_free(n->call.h.func) ? ": memory kept by the allocator" : "");
	if (n->where[0])
		fprintf(out, "           pointer = %s%s\n", n->where,
			is_large(&n->call) && !strncmp(n->where, "heap", 4)
				? glibc ? "  (>= 128 KiB yet from the brk heap: glibc's mmap threshold has moved)"
					: "  (>= 128 KiB yet from the brk heap)"
				: "");
	if (faults)
		fprintf(out, "           first-touch faults on this block: %u (%u inside the call, %u by the "
			"program; %u in kernel mode)\n", faults, n->faults_in_call, n->faults_program,
			n->faults_kernel);
}

void text_summary_write(FILE *out, const struct summary *s, const struct run_info *ri, bool truncated)
{
	write_header(out, s, ri, truncated);
	write_calls(out, s, ri);
	write_syscalls(out, s);
	write_faults(out, s);
	write_memory(out, s);
}

void text_report_write(struct text_report *tr, FILE *out, const struct summary *s,
		       const struct run_info *ri, bool truncated)
{
	text_summary_write(out, s, ri, truncated);
	fprintf(out, "\nCalls that caused a syscall, or asked for or freed %d KiB or more "
		"(#N is the call's sequence number):\n", LARGE_REQUEST / 1024);
	for (size_t i = 0; i < tr->n; i++)
		write_note(out, &tr->notes[i], is_glibc(ri));
	if (tr->calls_not_listed)
		fprintf(out, "  ... %" PRIu64 " %ssuch calls not listed (raise with --calls N)\n",
			tr->calls_not_listed, tr->n ? "more " : "");
	else if (!tr->n)
		fprintf(out, "  (none)\n");
}
