/* jsonl.c - one JSON object per resolved event, in order:
 * {"ev":"call"|"syscall"|"fault"|"proc", "seq":S, "tid":T, "ts_ns":N, ...}. */
#include <inttypes.h>
#include <stdio.h>
#include "analyze/calls.h"
#include "output/output.h"

static void opt_seq(FILE *out, const char *key, uint64_t seq)
{
	if (seq)
		fprintf(out, ",\"%s\":%" PRIu64, key, seq);
	else
		fprintf(out, ",\"%s\":null", key);
}

/* The call's arguments in the function's order, then the pointer it returned. */
static void write_call_args(FILE *out, const struct fl_ev_call *e)
{
	enum fl_kind k = fl_func_kind(e->h.func);
	struct call_arg args[3];
	int n = call_args(e, args);

	for (int i = 0; i < n; i++) {
		switch (args[i].role) {
		case CALL_ARG_PTR:
			fprintf(out, ",\"%s\":\"0x%" PRIx64 "\"", k == FL_KIND_FREE ? "ptr" : "old", args[i].value);
			break;
		case CALL_ARG_NMEMB: fprintf(out, ",\"nmemb\":%" PRIu64, args[i].value); break;
		case CALL_ARG_ALIGN: fprintf(out, ",\"align\":%" PRIu64, args[i].value); break;
		case CALL_ARG_SIZE: fprintf(out, ",\"size\":%" PRIu64, args[i].value); break;
		case CALL_ARG_HIDDEN: break;
		}
	}
	if (fl_kind_returns_block(k))
		fprintf(out, ",\"ptr\":\"0x%" PRIx64 "\"", e->ret);
}

static void write_call(FILE *out, const struct corr_item *it)
{
	const struct fl_ev_call *e = (const void *)it->rec;

	fprintf(out, ",\"func\":\"%s\"", fl_func_name(e->h.func));
	if (e->h.func < FL_NFUNC && fl_entries[e->h.func].variant[0])
		fprintf(out, ",\"variant\":\"%s\"", fl_entries[e->h.func].variant);
	write_call_args(out, e);
	if (it->call_seq) { /* nested as the correlator resolved it (a free in a loop is not) */
		fprintf(out, ",\"nested\":true");
		opt_seq(out, "call", it->call_seq);
	}
	if (it->unknown_free)
		fprintf(out, ",\"unknown_ptr\":true");
}

static void write_syscall(FILE *out, const struct corr_item *it)
{
	static const int nargs[FL_NSYS] = { 1, 5, 2, 5, 3, 3 };
	const struct fl_ev_syscall *e = (const void *)it->rec;

	fprintf(out, ",\"name\":\"%s\",\"args\":[", fl_sys_names[e->sys]);
	for (int i = 0; i < nargs[e->sys]; i++)
		fprintf(out, "%s\"0x%" PRIx64 "\"", i ? "," : "", e->args[i]);
	if (fl_syscall_failed(e->ret))
		fprintf(out, "],\"ret\":%" PRId64, e->ret);
	else
		fprintf(out, "],\"ret\":\"0x%" PRIx64 "\"", (uint64_t)e->ret);
	opt_seq(out, "call", it->call_seq);
}

static void write_fault(FILE *out, const struct corr_item *it)
{
	const struct fl_ev_fault *e = (const void *)it->rec;

	fprintf(out, ",\"addr\":\"0x%" PRIx64 "\",\"mode\":\"%s\",\"write\":%s,\"first_touch\":%s",
		e->addr, e->h.flags & FL_F_FAULT_KERNEL ? "kernel" : "user",
		e->h.flags & FL_F_FAULT_WRITE ? "true" : "false", it->first_touch ? "true" : "false");
	opt_seq(out, "call", it->call_seq);
	opt_seq(out, "alloc", it->alloc_seq);
	fprintf(out, ",\"owner\":\"%s\"", fl_owner_names[it->owner]);
}

static void write_proc(FILE *out, const struct corr_item *it)
{
	static const char *const kinds[] = { "?", "exec", "fork", "exit" };
	const struct fl_ev_proc *e = (const void *)it->rec;

	fprintf(out, ",\"kind\":\"%s\"", kinds[e->kind <= 3 ? e->kind : 0]);
	if (e->kind == FL_PROC_FORK)
		fprintf(out, ",\"child\":%u", e->child);
	if (e->kind == FL_PROC_EXEC) { /* the file, when the recording read it (FL_META_PROC) */
		fprintf(out, ",\"file\":");
		if (it->proc && it->proc->exe)
			json_string(out, it->proc->exe);
		else
			fprintf(out, "null");
	}
}

static void write_reason(FILE *out, const struct corr_item *it)
{
	static const char *const kinds[FL_NREASON] = { "?", "heap_grow", "heap_trim", "heap_madvise",
		"freelist_miss", "block_mmap", "block_munmap", "block_mremap" };
	const struct fl_ev_reason *r = (const void *)it->rec;

	fprintf(out, ",\"kind\":\"%s\",\"args\":[", kinds[r->kind < FL_NREASON ? r->kind : 0]);
	for (int i = 0; i < 5; i++)
		fprintf(out, "%s\"0x%" PRIx64 "\"", i ? "," : "", r->a[i]);
	fputc(']', out);
	opt_seq(out, "call", it->call_seq);
}

static void jsonl_item(void *ctx, const struct corr_item *it)
{
	static const char *const names[] = { "?", "call", "syscall", "fault", "proc", "reason" };
	FILE *out = ctx;
	uint8_t type = it->rec->type <= FL_EV_REASON ? it->rec->type : 0;

	fprintf(out, "{\"ev\":\"%s\",\"seq\":%" PRIu64 ",\"pid\":%u,\"tid\":%u,\"ts_ns\":%" PRIu64,
		names[type], it->seq, it->rec->tgid, it->rec->tid, it->rec->ts);
	switch (type) {
	case FL_EV_CALL: write_call(out, it); break;
	case FL_EV_SYSCALL: write_syscall(out, it); break;
	case FL_EV_FAULT: write_fault(out, it); break;
	case FL_EV_PROC: write_proc(out, it); break;
	case FL_EV_REASON: write_reason(out, it); break;
	}
	fputs("}\n", out);
}

struct corr_sink jsonl_sink(FILE *out)
{
	return (struct corr_sink){ .item = jsonl_item, .ctx = out };
}
