/* live.c - `faultline trace`'s live output: one line per allocator call
 * that caused a syscall or took a first-touch fault inside the call (every
 * call with -v), printed once the call's own events have been resolved. With
 * -v, first touches by the program are printed too, naming their block. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output/output.h"

struct live_printer {
	FILE *out;
	bool verbose;
	bool open;                 /* a call line is being built */
	uint64_t seq;
	struct fl_ev_call call;
	uint32_t syscalls, faults_in_call;
	char text[512];
};

struct live_printer *live_printer_new(FILE *out, bool verbose)
{
	struct live_printer *lp = calloc(1, sizeof(*lp));

	if (lp) {
		lp->out = out;
		lp->verbose = verbose;
	}
	return lp;
}

void live_printer_free(struct live_printer *lp)
{
	free(lp);
}

void live_printer_flush(struct live_printer *lp)
{
	if (!lp->open)
		return;
	lp->open = false;
	if (!lp->verbose && !lp->syscalls && !lp->faults_in_call)
		return;
	fprintf(lp->out, "#%-7" PRIu64 " tid %-7u ", lp->seq, lp->call.h.tid);
	text_call_signature(lp->out, &lp->call);
	fputs(lp->text, lp->out);
	if (lp->faults_in_call)
		fprintf(lp->out, "  first touch: %u page%s inside the call", lp->faults_in_call,
			lp->faults_in_call == 1 ? "" : "s");
	fputc('\n', lp->out);
	fflush(lp->out);
}

static void begin_call(struct live_printer *lp, const struct corr_item *it)
{
	live_printer_flush(lp);
	lp->open = true;
	lp->seq = it->seq;
	memcpy(&lp->call, it->rec, sizeof(lp->call));
	lp->syscalls = 0;
	lp->faults_in_call = 0;
	lp->text[0] = 0;
}

static void program_touch(struct live_printer *lp, const struct corr_item *it)
{
	const struct fl_ev_fault *f = (const void *)it->rec;

	fprintf(lp->out, "         tid %-7u first touch 0x%" PRIx64 " (%s %s) %s", f->h.tid, f->addr,
		f->h.flags & FL_F_FAULT_KERNEL ? "kernel" : "user",
		f->h.flags & FL_F_FAULT_WRITE ? "write" : "read", fl_owner_names[it->owner]);
	if (it->alloc_seq)
		fprintf(lp->out, " of #%" PRIu64, it->alloc_seq);
	fputc('\n', lp->out);
}

/* A memory syscall made outside any allocator call (the loader, a runtime's
 * own mmap, the program's munmap). */
static void outside_call(struct live_printer *lp, const struct corr_item *it)
{
	char text[256] = "";

	live_printer_flush(lp);
	text_describe_syscall(text, sizeof(text), it);
	fprintf(lp->out, "         tid %-7u outside any call:%s\n", it->rec->tid, text);
	fflush(lp->out);
}

static void live_item(void *ctx, const struct corr_item *it)
{
	struct live_printer *lp = ctx;
	bool in_open_call = lp->open && it->call_seq == lp->seq;

	switch (it->rec->type) {
	case FL_EV_CALL:
		if (!it->call_seq) /* outermost as resolved (a free in a loop is, though flagged nested) */
			begin_call(lp, it);
		break;
	case FL_EV_SYSCALL:
		if (!in_open_call && !it->call_seq) {
			outside_call(lp, it);
			break;
		}
		if (!in_open_call)
			break;
		lp->syscalls++;
		text_describe_syscall(lp->text, sizeof(lp->text), it);
		break;
	case FL_EV_REASON:
		if (in_open_call)
			text_describe_reason(lp->text, sizeof(lp->text), (const void *)it->rec);
		break;
	case FL_EV_FAULT:
		if (in_open_call && it->first_touch) {
			lp->faults_in_call++;
		} else if (!it->call_seq && it->first_touch && lp->verbose) {
			live_printer_flush(lp);
			program_touch(lp, it);
		}
		break;
	}
}

struct corr_sink live_printer_sink(struct live_printer *lp)
{
	return (struct corr_sink){ .item = live_item, .ctx = lp };
}
