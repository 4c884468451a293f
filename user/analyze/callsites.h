/* callsites.h - the call sites of --stacks: every stack the kernel captured
 * is unwound (unwind.c) with the memory maps stored in the trace, its counts
 * are added to its row (memory syscalls by kind, first-touch faults, bytes
 * requested), and at the end the rows are symbolized (symbolize.c) and handed
 * to the writers (output/sites.c: top call sites as text and JSON;
 * output/folded.c: folded stacks for flame graphs).
 *
 * A call site is the first frame outside the allocator's own object with its
 * callers; the allocator's frames stay in the folded stacks. A first-touch
 * fault counts for the call that allocated the block it lands in when that
 * call's stack is known ("allocated here"), else for its own stack, the code
 * that touched the page ("touched here"). Bytes count for the calls whose
 * stack is known: calls that made a syscall, or with --stacks=all the
 * sampled calls (scaled by the sample rate).
 */
#ifndef FL_CALLSITES_H
#define FL_CALLSITES_H

#include <stdint.h>
#include <stdio.h>
#include "analyze/correlator.h"

enum cs_metric { CS_SYSCALLS = 0, CS_FAULTS, CS_BYTES, CS_NMETRIC };
extern const char *const cs_metric_names[CS_NMETRIC]; /* "syscalls", "faults", "bytes" */

struct callsites;

struct callsites *callsites_new(void); /* NULL on out of memory */
void callsites_free(struct callsites *cs);

/* Where separate debug files are looked for (default /usr/lib/debug). */
int callsites_set_debug_dir(struct callsites *cs, const char *dir);
/* The allocator's object (its frames are not call sites). */
void callsites_set_allocator(struct callsites *cs, const char *path);
/* The meta record FL_META_STACKS: the stack mode and sample rate. */
void callsites_set_mode(struct callsites *cs, uint64_t meta_value);
/* A process's maps (an FL_META_MAPS record). Merged with those stored
 * before: lines of an older set that no newer line overlaps are kept, so
 * code unmapped before the end still unwinds. */
void callsites_add_maps(struct callsites *cs, uint32_t tgid, const char *text, size_t len);
/* The merged maps text of tgid (NUL-terminated; for tests), or NULL. */
const char *callsites_maps_text(const struct callsites *cs, uint32_t tgid, size_t *len);
/* Feeds a trace's meta record (maps, allocator, stack mode); others are ignored. */
void callsites_meta(struct callsites *cs, const void *rec, size_t len);

/* Adds the table as a sink of c, before the first record (it keeps the
 * call-site row of each live block). Live, callsites_meta takes the meta
 * records before corr_feed does. 0, or -1. */
int callsites_attach(struct callsites *cs, struct correlator *c);
/* The sink itself, for a caller that makes its own items (tests): their
 * blocks must carry the area callsites_attach reserves (at offset 0 when the
 * table was not attached). */
void callsites_item(void *ctx, const struct corr_item *it);

/* The row (1 + index, 0: none) of the call that returned b, once its stack
 * is known; and a row's call-site text ("f (a.c:12) < g (a.c:30)"),
 * symbolizing the rows first if need be. For the heap analyses' sites. */
uint32_t callsites_block_row(const struct callsites *cs, struct alloc_block *b);
const char *callsites_row_site(struct callsites *cs, uint32_t row);

/* Stacks seen so far. */
uint64_t callsites_stacks(const struct callsites *cs);

/* How many call sites the writers list per metric (default 10). */
void callsites_set_top(struct callsites *cs, int n);

/* What a stack (a row) or a call site counts. */
struct cs_counts {
	uint64_t syscalls[FL_NSYS];
	uint64_t faults_owned, faults_touched, bytes, calls;
};

uint64_t cs_counts_metric(const struct cs_counts *c, enum cs_metric m);

/* A call site: the rows whose site text is name, their counts added. */
struct cs_site {
	const char *name;    /* C++ names demangled */
	const char *mangled; /* the same as the objects name it, NULL if no different */
	struct cs_counts count;
};

/* The call sites with a non-zero count of m, most first (ties by name);
 * names valid while cs lives. *n gets the count; the caller frees the array. */
struct cs_site *callsites_sites(struct callsites *cs, enum cs_metric m, size_t *n);

/* A distinct folded stack ("root;...;leaf") and its count of a metric. */
struct cs_folded {
	const char *stack;
	uint64_t count;
};
/* The folded stacks with a non-zero count of m, merged and sorted by stack;
 * the caller frees the array. */
struct cs_folded *callsites_folded(struct callsites *cs, enum cs_metric m, size_t *n);

/* What the writers say about the table as a whole. */
struct cs_stats {
	uint64_t stacks, distinct, not_unwound, not_taken, stack_bytes;
	uint64_t objects_cached, objects_missing; /* objects read from the build-id cache; found in neither place */
	uint64_t objects_too_large; /* not copied when recorded: over the cache's bound per object */
	int mode;          /* enum fl_stack_mode */
	unsigned sample;   /* --sample N */
	int top;           /* call sites listed per metric */
};
void callsites_stats(const struct callsites *cs, struct cs_stats *st);

#endif
