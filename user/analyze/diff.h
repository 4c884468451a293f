/* diff.h - what changed between two recordings (report --diff OLD NEW): each
 * recording's rows (per call site when both have stacks, else per allocating
 * function and size class), then the rows of both joined by name with the
 * change in calls, bytes, blocks live at the end, memory syscalls by kind and
 * first-touch faults, sorted by the largest change; rows present on one side
 * only "appeared" or "vanished". No format here: output/diff.c writes it. */
#ifndef FL_DIFF_H
#define FL_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include "analyze/callsites.h"
#include "analyze/correlator.h"

/* What one row counts in one recording. */
struct diff_counts {
	uint64_t calls, bytes, live_end, syscalls[FL_NSYS], first_touches;
};

/* One recording's rows. */
struct diff_side;

struct diff_side *diff_side_new(void); /* NULL on out of memory */
void diff_side_free(struct diff_side *d);
/* Counts per allocating function and size class as a sink of c (before the
 * first record): a block's syscalls, first touches and its free's syscalls
 * go to the row of the call that allocated it. 0, or -1. */
int diff_side_attach(struct diff_side *d, struct correlator *c);
/* The sink itself (tests): blocks must carry the area diff_side_attach
 * reserves (offset 0 when not attached). */
void diff_side_item(void *ctx, const struct corr_item *it);
/* After the replay: each row's blocks still live (walks c's live blocks). */
void diff_count_live_at_end(struct diff_side *d, struct correlator *c);
/* With stacks: rows by call site instead (the table's sites, all metrics). 0, or -1. */
int diff_side_use_sites(struct diff_side *d, struct callsites *cs);

/* A row of the comparison. */
enum diff_state { DIFF_CHANGED = 0, DIFF_SAME, DIFF_APPEARED, DIFF_VANISHED };
extern const char *const diff_state_names[4]; /* "changed", "same", "appeared", "vanished" */

struct diff_row {
	const char *name; /* valid while both sides live */
	struct diff_counts old, new;
	enum diff_state state;
	uint64_t change; /* the sort key: |Δ| of syscalls + first touches + calls + live blocks */
};

/* The rows of both sides, largest change first (ties: larger |Δbytes|, then
 * by name); unchanged rows last. *n gets the count; the caller frees the array. */
struct diff_row *diff_compare(const struct diff_side *old, const struct diff_side *new, size_t *n);
/* The by-site mode (true) or by function and size class. */
bool diff_side_by_site(const struct diff_side *d);
/* Totals of a side's rows. */
void diff_side_totals(const struct diff_side *d, struct diff_counts *t);

/* A signed change new - old. */
static inline int64_t diff_delta(uint64_t old, uint64_t new)
{
	return (int64_t)(new - old);
}

#endif
