/* processes.c - per-process counts (see processes.h): one row per process,
 * found by its pid through a hash table, in the order first seen. */
#include <stdlib.h>
#include "analyze/calls.h"
#include "analyze/processes.h"
#include "util/id_map.h"

struct processes {
	struct id_map ids;
	struct proc_row *rows;
	size_t n, cap;
	size_t last; /* the row of the previous item: most items are its process's */
};

struct processes *processes_new(void)
{
	return calloc(1, sizeof(struct processes));
}

void processes_free(struct processes *ps)
{
	if (!ps)
		return;
	id_map_clear(&ps->ids);
	free(ps->rows);
	free(ps);
}

void processes_attach(struct processes *ps, struct correlator *c)
{
	struct corr_sink s = { processes_item, ps };

	corr_add_sink(c, &s);
}

static struct proc_row *row_of(struct processes *ps, const struct corr_item *it)
{
	uint32_t pid = it->proc ? it->proc->tgid : it->rec->tgid;
	size_t i;

	if (ps->n && ps->rows[ps->last].pid == pid)
		return &ps->rows[ps->last];
	if (id_map_get(&ps->ids, pid, &i))
		return &ps->rows[ps->last = i];
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct proc_row *r = realloc(ps->rows, cap * sizeof(*r));

		if (!r)
			return NULL;
		ps->rows = r;
		ps->cap = cap;
	}
	if (id_map_put(&ps->ids, pid, ps->n))
		return NULL;
	ps->rows[ps->n] = (struct proc_row){ .pid = pid, .proc = it->proc };
	return &ps->rows[ps->last = ps->n++];
}

void processes_item(void *ctx, const struct corr_item *it)
{
	struct processes *ps = ctx;
	struct proc_row *r = row_of(ps, it);

	if (!r)
		return; /* out of memory: this process goes uncounted */
	if (it->proc)
		r->proc = it->proc;
	switch (it->rec->type) {
	case FL_EV_CALL: {
		const struct fl_ev_call *e = (const struct fl_ev_call *)it->rec;

		r->n.calls++;
		if (!(e->h.flags & FL_F_NESTED))
			r->n.bytes_requested += call_requested_bytes(e);
		break;
	}
	case FL_EV_SYSCALL: {
		const struct fl_ev_syscall *e = (const struct fl_ev_syscall *)it->rec;

		if (e->sys < FL_NSYS)
			r->n.syscalls[e->sys]++;
		break;
	}
	case FL_EV_FAULT:
		r->n.faults++;
		if (it->first_touch && it->owner < FL_NOWNER) {
			r->n.first_touch++;
			r->n.first_touch_owner[it->owner]++;
		}
		break;
	}
}

const struct proc_row *processes_rows(const struct processes *ps, size_t *n)
{
	*n = ps->n;
	return ps->rows;
}
