/* calls.h - what an allocator call record means, read through fl_funcs.h's
 * table: the bytes it asks for, the block it releases, and its arguments in
 * the function's own order. One rule, shared by the correlator and every
 * writer. Header-only: these run once per call. */
#ifndef FL_CALLS_H
#define FL_CALLS_H

#include <stdbool.h>
#include <stdint.h>
#include "faultline.h"

#define FL_PAGE_SIZE 4096ull

static inline uint64_t fl_page_up(uint64_t n)
{
	return (n + FL_PAGE_SIZE - 1) & ~(FL_PAGE_SIZE - 1);
}

/* The bytes a call asked for (0 for a free). */
static inline uint64_t call_requested_bytes(const struct fl_ev_call *e)
{
	switch (fl_func_kind(e->h.func)) {
	case FL_KIND_ALLOC_N:
	case FL_KIND_REALLOC_N:
		return e->a0 * e->a1;
	case FL_KIND_FREE:
		return 0;
	case FL_KIND_PAGES:
		return fl_page_up(e->a0);
	default:
		return e->a0;
	}
}

/* The pointer a call releases: a free's, or a realloc's that moved the block
 * or freed it (realloc(p, 0)); 0 for none. */
static inline uint64_t call_released_ptr(const struct fl_ev_call *e)
{
	enum fl_kind k = fl_func_kind(e->h.func);

	if (k == FL_KIND_FREE)
		return e->a2;
	if (!fl_kind_resizes(k) || !e->a2)
		return 0;
	if (e->ret && e->ret != e->a2)
		return e->a2; /* moved */
	if (!e->ret && call_requested_bytes(e) == 0)
		return e->a2; /* realloc(p, 0) frees */
	return 0;
}

/* What one argument of a call is, for writers. */
enum call_arg_role {
	CALL_ARG_SIZE,   /* bytes (a0), or bytes per element (a1 of the counted kinds) */
	CALL_ARG_NMEMB,  /* element count (a0 of the counted kinds) */
	CALL_ARG_ALIGN,  /* alignment (a1) */
	CALL_ARG_PTR,    /* the pointer freed or resized (a2) */
	CALL_ARG_HIDDEN, /* posix_memalign's memptr: an address of the caller's, not shown */
};

struct call_arg {
	enum call_arg_role role;
	uint64_t value;
};

/* The stored arguments of e in the function's own order; returns how many. */
static inline int call_args(const struct fl_ev_call *e, struct call_arg out[3])
{
	const struct fl_entry *en = &fl_entries[e->h.func < FL_NFUNC ? e->h.func : 0];
	const uint64_t v[3] = { e->a0, e->a1, e->a2 };
	int n = 0;

	for (unsigned pos = 1; pos <= 4; pos++)
		for (int slot = 0; slot < 3; slot++) {
			enum call_arg_role r;

			if (en->arg[slot] != pos)
				continue;
			if (slot == 0)
				r = fl_kind_counted(en->kind) ? CALL_ARG_NMEMB : CALL_ARG_SIZE;
			else if (slot == 1)
				r = fl_kind_aligned(en->kind) ? CALL_ARG_ALIGN : CALL_ARG_SIZE;
			else
				r = en->kind == FL_KIND_MEMPTR ? CALL_ARG_HIDDEN : CALL_ARG_PTR;
			out[n++] = (struct call_arg){ r, v[slot] };
		}
	return n;
}

#endif
