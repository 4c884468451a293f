/* callsites.h - the call sites of --stacks: every stack the kernel captured
 * is unwound (unwind.c) with the memory maps stored in the trace, its counts
 * are added to its row (memory syscalls by kind, first-touch faults, bytes
 * requested), and at the end the rows are symbolized (symbolize.c) and written
 * as the top call sites (text, JSON) or as folded stacks for flame graphs.
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

/* Stacks seen so far. */
uint64_t callsites_stacks(const struct callsites *cs);

/* How many call sites the writers list per metric (default 10). */
void callsites_set_top(struct callsites *cs, int n);
/* The top call sites of each metric, as a text section. */
void callsites_write_text(struct callsites *cs, FILE *out);
/* The same as a JSON object (no trailing newline); ctx is the table: the
 * signature of summary_json_add_extra's writer. */
void callsites_write_json(void *ctx, FILE *out);
/* Folded stacks ("root;...;leaf COUNT" lines, merged and sorted) of a
 * metric; -1 on a write error. */
int callsites_write_folded(struct callsites *cs, enum cs_metric m, FILE *out);

#endif
