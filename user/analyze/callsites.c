/* callsites.c - owns the call-site table of --stacks (see callsites.h): the
 * merged memory maps of each process, one row per distinct unwound stack
 * (a hash table keyed by the maps and the frame addresses), each row named
 * once (symbolized) when it is first asked for; the writers are in output/
 * (sites.c, folded.c).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/buildid_cache.h"
#include "analyze/callsites.h"
#include "store/meta.h"
#include "symbols/demangle.h"
#include "symbols/elf.h"
#include "symbols/symbolize.h"
#include "symbols/unwind.h"
#include "util/escape.h"
#include "util/id_map.h"

const char *const cs_metric_names[CS_NMETRIC] = { "syscalls", "faults", "bytes" };

#define MAX_FRAMES 64
#define SITE_FRAMES 3   /* a call site: its frame and two callers */
#define MAX_ALLOCATORS 8

struct cs_maps {
	uint32_t tgid;
	char *text;
	size_t len;
	struct proc_maps *cur;
};

struct cs_row {
	uint64_t hash;
	const struct proc_maps *maps;
	int n;
	uint64_t *ips;
	struct cs_counts count;
	/* filled when written */
	char *site;     /* "f (a.c:3) < g (a.c:9)", C++ names demangled */
	char *site_mangled; /* the same with C++ names as the object has them, NULL if no different */
	char *folded;   /* "main;g;f;malloc" */
};

struct last_call {
	uint32_t tid;
	uint64_t seq, bytes;
	struct alloc_block *block;
};

/* An object a recorded process mapped, and the file that holds it now. */
struct cs_object {
	uint32_t tgid;
	char *path, *id;
	char *use;      /* path itself, its cached copy, or NULL while undecided */
	bool too_large; /* not copied when recorded: over the cache's bound per object */
	bool differs;   /* neither the path nor the cache has the recorded build-id */
	size_t older;   /* 1 + index of the previous object of the same key hash, 0: none */
};

struct callsites {
	struct unwinder *unwinder;
	struct symbolizer *symbolizer;
	/* the allocator's objects (malloc's first, then those giving other entry points) */
	struct cs_allocator {
		char path[4096];
		char id[130];   /* its build-id, "" if unknown */
		uint64_t ino;
	} allocator[MAX_ALLOCATORS];
	int nallocators;
	unsigned sample;
	int mode;
	int top;        /* call sites listed per metric */
	struct cs_maps *maps;
	size_t nmaps;
	struct id_map maps_ids;  /* tgid -> index in maps */
	uint64_t carried_lines;  /* older maps lines carried into merged sets (FL_MAPS_MERGE_BUDGET_LINES) */
	struct proc_maps **old; /* every map set made, kept: rows point to them */
	size_t nold;
	struct cs_row *rows;
	size_t nrows, cap_rows;
	struct cs_object *objects;
	size_t nobjects, cap_objects;
	struct id_map object_ids; /* hash of (tgid, path) -> newest object of that hash */
	uint64_t objects_cached, objects_missing, objects_too_large;
	uint32_t *table; /* 1 + row index, 0: empty */
	size_t table_size;
	uint64_t stacks, unwound_empty, faults_unstacked;
	uint64_t stack_bytes; /* bytes copied, over the stacks seen */
	uint64_t skipped;     /* stacks the kernel did not take (ring buffer over half full) */
	/* each thread's last outermost call: a hash table by tid (open addressing, tid 0: empty) */
	struct last_call *last;
	size_t nlast, last_size;
	int site_off;   /* per block (corr_block_data): 1 + the row of the call that returned it, 0: none */
	/* the last stack unwound and its row: a stack seen again (a loop touching
	 * page after page) is not unwound again */
	struct fl_ev_stack *memo;
	const struct proc_maps *memo_maps;
	size_t memo_row; /* 1 + row index, 0: none */
	bool named;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort(); /* the table cannot go on without its memory */
	return p;
}

struct callsites *callsites_new(void)
{
	struct callsites *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->unwinder = unwinder_new();
	cs->symbolizer = symbolizer_new();
	cs->sample = 1;
	cs->top = 10;
	if (!cs->unwinder || !cs->symbolizer) {
		callsites_free(cs);
		return NULL;
	}
	return cs;
}

void callsites_free(struct callsites *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->nrows; i++) {
		free(cs->rows[i].ips);
		free(cs->rows[i].site);
		free(cs->rows[i].site_mangled);
		free(cs->rows[i].folded);
	}
	for (size_t i = 0; i < cs->nmaps; i++)
		free(cs->maps[i].text);
	for (size_t i = 0; i < cs->nobjects; i++) {
		free(cs->objects[i].path);
		free(cs->objects[i].id);
		free(cs->objects[i].use);
	}
	free(cs->objects);
	id_map_clear(&cs->object_ids);
	for (size_t i = 0; i < cs->nold; i++)
		proc_maps_free(cs->old[i]);
	free(cs->old);
	free(cs->maps);
	id_map_clear(&cs->maps_ids);
	free(cs->memo);
	free(cs->last);
	free(cs->rows);
	free(cs->table);
	unwinder_free(cs->unwinder);
	symbolizer_free(cs->symbolizer);
	free(cs);
}

int callsites_set_debug_dir(struct callsites *cs, const char *dir)
{
	/* both read separate debug files: the symbols, and the CFI in .debug_frame */
	if (unwinder_set_debug_root(cs->unwinder, dir))
		return -1;
	return symbolizer_set_debug_root(cs->symbolizer, dir);
}

void callsites_set_allocator(struct callsites *cs, const char *path)
{
	struct cs_allocator *a;
	struct stat st;

	for (int i = 0; i < cs->nallocators; i++)
		if (!strcmp(cs->allocator[i].path, path))
			return;
	if (cs->nallocators >= MAX_ALLOCATORS || !path[0])
		return;
	a = &cs->allocator[cs->nallocators++];
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->ino = stat(path, &st) == 0 ? st.st_ino : 0;
	if (elf_build_id_hex(path, a->id, sizeof(a->id)) <= 0)
		a->id[0] = 0;
}

void callsites_set_top(struct callsites *cs, int n)
{
	cs->top = n > 0 ? n : 1;
}

void callsites_set_mode(struct callsites *cs, uint64_t v)
{
	cs->mode = v & 0xff;
	cs->sample = (v >> 8) & 0xffffff;
	if (!cs->sample)
		cs->sample = 1;
}

uint64_t callsites_stacks(const struct callsites *cs)
{
	return cs->stacks;
}

/* ---- maps ------------------------------------------------------------------ */

struct strbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static struct cs_maps *maps_of(const struct callsites *cs, uint32_t tgid)
{
	size_t i;

	return id_map_get(&cs->maps_ids, tgid, &i) ? &cs->maps[i] : NULL;
}

static void add_object(struct callsites *cs, uint32_t tgid, const char *data, size_t len, bool too_large)
{
	const char *nul = memchr(data, 0, len);
	struct cs_object *o;
	size_t prev;
	uint32_t h;

	if (!nul || nul == data || (size_t)(nul - data) + 1 >= len || len > FL_META_MAX_PATH_BYTES)
		return;
	if (cs->nobjects == cs->cap_objects) {
		cs->cap_objects = cs->cap_objects ? cs->cap_objects * 2 : 64;
		cs->objects = xrealloc(cs->objects, cs->cap_objects * sizeof(*cs->objects));
	}
	o = &cs->objects[cs->nobjects];
	memset(o, 0, sizeof(*o));
	o->tgid = tgid;
	o->too_large = too_large;
	cs->objects_too_large += too_large;
	o->path = strdup(data);
	o->id = strndup(nul + 1, len - (nul - data) - 1);
	if (!o->path || !o->id)
		abort();
	h = id_map_hash_str(tgid, o->path);
	if (id_map_get(&cs->object_ids, h, &prev))
		o->older = prev + 1;
	if (id_map_put(&cs->object_ids, h, cs->nobjects++))
		abort();
}

/* The file to read for path in tgid: the path when it still holds the
 * recorded object, else the build-id cache's copy, else the path anyway. */
static const char *object_file(struct callsites *cs, uint32_t tgid, const char *path)
{
	struct cs_object *o = NULL;
	char id[130], cached[4096];

	size_t i;

	/* the newest object stored for (tgid, path), through its hash's chain */
	if (id_map_get(&cs->object_ids, id_map_hash_str(tgid, path), &i))
		for (size_t k = i + 1; k; k = cs->objects[k - 1].older)
			if (cs->objects[k - 1].tgid == tgid && !strcmp(cs->objects[k - 1].path, path)) {
				o = &cs->objects[k - 1];
				break;
			}
	if (!o)
		return path;
	if (!o->use) {
		if (elf_build_id_hex(path, id, sizeof(id)) > 0 && !strcmp(id, o->id))
			o->use = strdup(path);
		else if (!buildid_cache_path(o->id, cached, sizeof(cached)) && access(cached, R_OK) == 0) {
			o->use = strdup(cached);
			cs->objects_cached++;
		} else {
			o->use = strdup(path);
			o->differs = true;
			cs->objects_missing++;
		}
		if (!o->use)
			abort();
	}
	return o->use;
}

/* One maps line for e, its file being path (the device field is not kept:
 * nothing reads it). */
static void append_map_line(struct strbuf *b, const struct proc_map *e, const char *path)
{
	char head[160];

	snprintf(head, sizeof(head), "%llx-%llx %s %08llx 00:00 %llu ", (unsigned long long)e->start,
		 (unsigned long long)e->end, e->perms, (unsigned long long)e->offset, (unsigned long long)e->inode);
	sb_add(b, head);
	sb_add(b, path);
	sb_add(b, "\n");
}

/* The highest end among m's first k entries (sorted by start), for each k:
 * what overlaps_any needs to answer in O(log n). Caller frees. */
static uint64_t *prefix_max_ends(const struct proc_maps *m)
{
	size_t n = proc_maps_count(m);
	uint64_t *max = xrealloc(NULL, (n + 1) * sizeof(*max));

	max[0] = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t end = proc_maps_at(m, i)->end;

		max[i + 1] = end > max[i] ? end : max[i];
	}
	return max;
}

/* Does any entry of m overlap [lo, hi)? max: prefix_max_ends(m). */
static bool overlaps_any(const struct proc_maps *m, const uint64_t *max, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = proc_maps_count(m); /* k: the entries that start below hi */

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (proc_maps_at(m, mid)->start < hi)
			a = mid + 1;
		else
			b = mid;
	}
	return max[a] > lo;
}

void callsites_add_maps(struct callsites *cs, uint32_t tgid, const char *text, size_t len)
{
	struct cs_maps *m;
	struct proc_maps *fresh;
	struct strbuf b = { 0 };
	uint64_t *max_ends;

	if (!fl_meta_maps_ok(text, len))
		return; /* past meta.h's limits (the correlator counts it as a bad record) */
	m = maps_of(cs, tgid);
	fresh = proc_maps_parse(text, len);
	if (!fresh)
		abort();
	if (!m) {
		cs->maps = xrealloc(cs->maps, (cs->nmaps + 1) * sizeof(*cs->maps));
		if (id_map_put(&cs->maps_ids, tgid, cs->nmaps))
			abort();
		m = &cs->maps[cs->nmaps++];
		memset(m, 0, sizeof(*m));
		m->tgid = tgid;
	}
	/* the new set, each object read from the file that holds it now */
	for (size_t i = 0; i < proc_maps_count(fresh); i++) {
		const struct proc_map *e = proc_maps_at(fresh, i);

		append_map_line(&b, e, e->path[0] == '/' ? object_file(cs, tgid, e->path) : e->path);
	}
	/* then what the older sets had where the new one has nothing (within
	 * the report's budget: past it a set is its record's own lines) */
	max_ends = prefix_max_ends(fresh);
	for (size_t i = 0; m->cur && i < proc_maps_count(m->cur) &&
	     cs->carried_lines < FL_MAPS_MERGE_BUDGET_LINES; i++) {
		const struct proc_map *e = proc_maps_at(m->cur, i);

		if (!overlaps_any(fresh, max_ends, e->start, e->end)) {
			append_map_line(&b, e, e->path);
			cs->carried_lines++;
		}
	}
	free(max_ends);
	proc_maps_free(fresh);
	free(m->text);
	m->text = b.p ? b.p : strdup("");
	m->len = b.len;
	m->cur = proc_maps_parse(m->text, m->len);
	if (!m->text || !m->cur)
		abort();
	cs->old = xrealloc(cs->old, (cs->nold + 1) * sizeof(*cs->old));
	cs->old[cs->nold++] = m->cur;
}

const char *callsites_maps_text(const struct callsites *cs, uint32_t tgid, size_t *len)
{
	const struct cs_maps *m = maps_of(cs, tgid);

	if (!m)
		return NULL;
	*len = m->len;
	return m->text;
}

void callsites_meta(struct callsites *cs, const void *rec, size_t len)
{
	const struct fl_meta *m = rec;
	const char *data = (const char *)(m + 1);
	size_t dlen;

	if (len < sizeof(*m) || m->type != FL_REC_META)
		return;
	dlen = len - sizeof(*m);
	if (m->kind == FL_META_MAPS)
		callsites_add_maps(cs, m->tgid, data, dlen);
	else if (m->kind == FL_META_STACKS)
		callsites_set_mode(cs, m->value);
	else if (m->kind == FL_META_STACKS_SKIPPED)
		cs->skipped += m->value;
	else if (m->kind == FL_META_BUILD_ID)
		add_object(cs, m->tgid, data, dlen, m->value == 1);
	else if (m->kind == FL_META_ALLOCATOR) {
		char path[4096];

		snprintf(path, sizeof(path), "%.*s", (int)dlen, data);
		callsites_set_allocator(cs, path);
	}
}

/* ---- rows ------------------------------------------------------------------ */

static uint64_t hash_stack(const struct proc_maps *m, const uint64_t *ips, int n)
{
	uint64_t h = 1469598103934665603ull ^ proc_maps_id(m);

	for (int i = 0; i < n; i++)
		h = (h ^ ips[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static void table_insert(struct callsites *cs, size_t row)
{
	size_t mask = cs->table_size - 1, i = cs->rows[row].hash & mask;

	while (cs->table[i])
		i = (i + 1) & mask;
	cs->table[i] = row + 1;
}

static void table_grow(struct callsites *cs)
{
	free(cs->table);
	cs->table_size = cs->table_size ? cs->table_size * 2 : 1024;
	cs->table = calloc(cs->table_size, sizeof(*cs->table));
	if (!cs->table)
		abort();
	for (size_t r = 0; r < cs->nrows; r++)
		table_insert(cs, r);
}

static struct cs_row *row_get(struct callsites *cs, const struct proc_maps *m, const uint64_t *ips, int n)
{
	uint64_t h = hash_stack(m, ips, n);
	struct cs_row *r;
	size_t i;

	if ((cs->nrows + 1) * 2 > cs->table_size)
		table_grow(cs);
	for (i = h & (cs->table_size - 1); cs->table[i]; i = (i + 1) & (cs->table_size - 1)) {
		r = &cs->rows[cs->table[i] - 1];
		if (r->hash == h && r->maps == m && r->n == n && !memcmp(r->ips, ips, n * sizeof(*ips)))
			return r;
	}
	if (cs->nrows == cs->cap_rows) {
		cs->cap_rows = cs->cap_rows ? cs->cap_rows * 2 : 256;
		cs->rows = xrealloc(cs->rows, cs->cap_rows * sizeof(*cs->rows));
	}
	r = &cs->rows[cs->nrows];
	memset(r, 0, sizeof(*r));
	r->hash = h;
	r->maps = m;
	r->n = n;
	r->ips = xrealloc(NULL, n * sizeof(*ips));
	memcpy(r->ips, ips, n * sizeof(*ips));
	cs->table[i] = ++cs->nrows;
	cs->named = false;
	return r;
}

/* The addresses of a stack of kind FL_STACK_IPS: its ip, then the return
 * addresses it carries; the count. */
static int ips_of_stack(const struct fl_ev_stack *s, uint64_t *ips, int max)
{
	int n = 0;

	if (!s->ip && !s->len)
		return 0; /* a repeat of a stack not seen (correlator.c) */
	if (max > 0)
		ips[n++] = s->ip;
	for (size_t off = 0; off + sizeof(uint64_t) <= s->len && n < max; off += sizeof(uint64_t))
		memcpy(&ips[n++], (const unsigned char *)(s + 1) + off, sizeof(uint64_t));
	return n;
}

/* The row of a captured stack (unwound now), or NULL without maps. */
static struct cs_row *row_of_stack(struct callsites *cs, const struct fl_ev_stack *s)
{
	struct cs_maps *m = maps_of(cs, s->h.tgid);
	struct unwind_regs regs = { .ip = s->ip, .sp = s->sp, .bp = s->bp };
	uint64_t ips[MAX_FRAMES];
	struct cs_row *r;
	int n;

	if (!m)
		return NULL;
	if (cs->memo && cs->memo_maps == m->cur && cs->memo->len == s->len && cs->memo->ip == s->ip &&
	    cs->memo->sp == s->sp && cs->memo->bp == s->bp && !memcmp(cs->memo + 1, s + 1, s->len))
		return cs->memo_row ? &cs->rows[cs->memo_row - 1] : NULL;
	if (s->kind & FL_STACK_IPS) /* unwound already (the preload library): ip, then the return addresses */
		n = ips_of_stack(s, ips, MAX_FRAMES);
	else
		n = unwind_stack(cs->unwinder, m->cur, &regs, s + 1, s->len, ips, MAX_FRAMES);
	cs->memo = xrealloc(cs->memo, sizeof(*s) + s->len);
	memcpy(cs->memo, s, sizeof(*s) + s->len);
	cs->memo_maps = m->cur;
	cs->memo_row = 0;
	if (n <= 0) {
		cs->unwound_empty++;
		return NULL;
	}
	r = row_get(cs, m->cur, ips, n);
	cs->memo_row = (size_t)(r - cs->rows) + 1;
	return r;
}

static uint32_t row_ref(const struct callsites *cs, const struct cs_row *r)
{
	return (uint32_t)(r - cs->rows) + 1;
}

/* ---- the sink ---------------------------------------------------------------- */

static struct last_call *last_call_slot(struct last_call *t, size_t size, uint32_t tid)
{
	size_t i = (tid * 0x9e3779b1u) & (size - 1);

	while (t[i].tid && t[i].tid != tid)
		i = (i + 1) & (size - 1);
	return &t[i];
}

/* The memo of thread tid's last call (a zeroed one for a thread not seen). */
static struct last_call *last_call_of(struct callsites *cs, uint32_t tid)
{
	static struct last_call none; /* tid 0 marks an empty slot: no thread has it */
	struct last_call *lc;

	if (!tid) {
		memset(&none, 0, sizeof(none));
		return &none;
	}
	if ((cs->nlast + 1) * 2 > cs->last_size) {
		size_t size = cs->last_size ? cs->last_size * 2 : 64;
		struct last_call *t = calloc(size, sizeof(*t));

		if (!t)
			abort(); /* the table cannot go on without its memory */
		for (size_t i = 0; i < cs->last_size; i++)
			if (cs->last[i].tid)
				*last_call_slot(t, size, cs->last[i].tid) = cs->last[i];
		free(cs->last);
		cs->last = t;
		cs->last_size = size;
	}
	lc = last_call_slot(cs->last, cs->last_size, tid);
	if (!lc->tid) {
		lc->tid = tid;
		cs->nlast++;
	}
	return lc;
}

static uint32_t *block_site(const struct callsites *cs, struct alloc_block *b)
{
	return corr_block_data(b, cs->site_off);
}

static void on_call(struct callsites *cs, const struct corr_item *it)
{
	const struct fl_hdr *h = it->rec;
	struct last_call *lc = last_call_of(cs, h->tid);
	bool returned_block = !fl_is_free(h->func) && it->block && it->block->seq == it->seq;
	uint64_t bytes = returned_block ? it->block->size : 0;
	struct cs_row *r;

	if (it->call_seq) /* nested, as the correlator resolved it */
		return;
	*lc = (struct last_call){ .tid = h->tid, .seq = it->seq, .bytes = bytes,
				  .block = returned_block ? it->block : NULL };
	if (!it->stack || !(r = row_of_stack(cs, it->stack)))
		return;
	r->count.calls += cs->sample;
	r->count.bytes += bytes * cs->sample;
	if (lc->block)
		*block_site(cs, lc->block) = row_ref(cs, r);
	lc->seq = 0; /* its stack is known: its syscalls' stacks do not replace it */
}

static void on_syscall(struct callsites *cs, const struct corr_item *it)
{
	const struct fl_ev_syscall *e = (const struct fl_ev_syscall *)it->rec;
	struct last_call *lc = last_call_of(cs, e->h.tid);
	struct cs_row *r;

	if (!it->stack || e->sys >= FL_NSYS || !(r = row_of_stack(cs, it->stack)))
		return;
	r->count.syscalls[e->sys]++;
	if (it->map_tag) /* a runtime mapping: its first touches count here ("allocated here") */
		*it->map_tag = row_ref(cs, r);
	if (it->call_seq && lc->tid == e->h.tid && lc->seq == it->call_seq) {
		/* the first syscall of a call whose own stack is not known: the
		 * call's (its bytes count here unless sampled calls stand for all) */
		if (cs->mode != FL_STACKS_ALL) {
			r->count.calls++;
			r->count.bytes += lc->bytes;
		}
		if (lc->block)
			*block_site(cs, lc->block) = row_ref(cs, r);
		lc->seq = 0;
	}
}

static void on_fault(struct callsites *cs, const struct corr_item *it)
{
	struct cs_row *r;

	if (!it->first_touch)
		return;
	uint32_t site = it->block ? *block_site(cs, it->block) : 0;

	if (!it->block && it->owner == FL_OWNER_RUNTIME && it->map_tag_value <= cs->nrows)
		site = (uint32_t)it->map_tag_value;

	if (site && site <= cs->nrows) {
		cs->rows[site - 1].count.faults_owned++; /* its stack is not unwound */
		return;
	}
	if (it->stack && (r = row_of_stack(cs, it->stack)))
		r->count.faults_touched++;
	else
		cs->faults_unstacked++;
}

int callsites_attach(struct callsites *cs, struct correlator *c)
{
	struct corr_sink s = { callsites_item, cs };

	cs->site_off = corr_reserve_block_data(c, sizeof(uint32_t));
	if (cs->site_off < 0)
		return -1;
	corr_add_sink(c, &s);
	return 0;
}

void callsites_item(void *ctx, const struct corr_item *it)
{
	struct callsites *cs = ctx;

	if (it->stack) {
		cs->stacks++;
		cs->stack_bytes += it->stack->len;
	}
	switch (it->rec->type) {
	case FL_EV_CALL: on_call(cs, it); break;
	case FL_EV_SYSCALL: on_syscall(cs, it); break;
	case FL_EV_FAULT: on_fault(cs, it); break;
	}
}

/* ---- naming ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path ? path : "";
}

/* Is frame i in the allocator's object: the same file, or a copy of it
 * (same build-id: a container's or a chroot's libc)? */
/* libc's wrappers of the memory syscalls: an allocator other than glibc
 * makes its syscalls through them, and they are no call site either. */
static bool is_syscall_wrapper(const char *fn)
{
	static const char *const names[] = { "mmap", "mmap64", "munmap", "mremap", "mprotect", "madvise",
					     "brk", "sbrk", "syscall" };

	while (*fn == '_')
		fn++;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fn, names[i]))
			return true;
	return false;
}

/* Is frame i in one of the allocator's objects (the same file, or a copy
 * of it: the same build-id, a container's or a chroot's libc), or in a
 * syscall wrapper of libc? */
static bool in_allocator(struct callsites *cs, const struct cs_row *r, int i)
{
	uint64_t addr = unwind_call_site(r->ips, i);
	const struct proc_map *e = proc_maps_find(r->maps, addr);
	struct symbol_info si;
	bool named = false;

	if (!e)
		return false;
	for (int k = 0; k < cs->nallocators; k++) {
		const struct cs_allocator *a = &cs->allocator[k];

		if ((a->ino && e->inode == a->ino) || !strcmp(e->path, a->path))
			return true;
		if (!a->id[0])
			continue;
		if (!named)
			named = symbolize(cs->symbolizer, r->maps, addr, &si) == 0;
		if (named && si.build_id && !strcmp(si.build_id, a->id))
			return true;
	}
	if (!named)
		named = symbolize(cs->symbolizer, r->maps, addr, &si) == 0;
	return named && si.object && strstr(si.object, "/libc.so") && is_syscall_wrapper(si.function);
}

/* "f (a.c:12)", "f (libx.so.1)", "[unknown] (libx.so+0x1a2b)" */
/* One frame's text: "f (a.c:12)", or bare (folded stacks) "f"; C++ names
 * demangled unless mangled is asked for. */
static void frame_text(struct callsites *cs, const struct cs_row *r, int i, char *buf, size_t len, bool bare,
		       bool mangled)
{
	struct symbol_info si;
	char dm[1024];
	bool known;

	uint64_t addr = unwind_call_site(r->ips, i);

	if (symbolize(cs->symbolizer, r->maps, addr, &si)) { /* in no mapping */
		if (addr == 0)
			snprintf(buf, len, "[no user context]"); /* a fault taken by the kernel during exec */
		else
			snprintf(buf, len, bare ? "[unmapped]" : "[unmapped 0x%" PRIx64 "]", addr);
		return;
	}
	known = strcmp(si.function, "[unknown]") != 0;
	if (!mangled)
		si.function = demangle(si.function, dm, sizeof(dm));
	if (bare && known)
		snprintf(buf, len, "%s", si.function);
	else if (bare)
		snprintf(buf, len, "[%s]", si.object && si.object[0] ? base_name(si.object) : "unknown");
	else if (si.file && si.line)
		snprintf(buf, len, "%s (%s:%d)", si.function, base_name(si.file), si.line);
	else if (known)
		snprintf(buf, len, "%s (%s)", si.function, base_name(si.object));
	else
		snprintf(buf, len, "[unknown] (%s+0x%" PRIx64 ")", base_name(si.object), si.object_offset);
}

static void name_row(struct callsites *cs, struct cs_row *r)
{
	struct strbuf site = { 0 }, raw = { 0 }, folded = { 0 };
	char buf[1024];
	int first = 0, shown = 0;

	while (first < r->n - 1 && in_allocator(cs, r, first))
		first++;
	for (int i = first; i < r->n && shown < SITE_FRAMES; i++, shown++) {
		frame_text(cs, r, i, buf, sizeof(buf), false, false);
		if (shown)
			sb_add(&site, " < ");
		sb_add(&site, buf);
		frame_text(cs, r, i, buf, sizeof(buf), false, true);
		if (shown)
			sb_add(&raw, " < ");
		sb_add(&raw, buf);
	}
	free(r->site_mangled);
	r->site_mangled = NULL;
	if (site.p && raw.p && strcmp(site.p, raw.p))
		r->site_mangled = raw.p;
	else
		free(raw.p);
	for (int i = r->n - 1; i >= 0; i--) {
		char safe[4 * sizeof(buf)];

		/* one frame of one line: no ';', space or newline of a name gets through */
		frame_text(cs, r, i, buf, sizeof(buf), true, false);
		sb_add(&folded, esc_str(safe, sizeof(safe), buf, ESC_FOLDED));
		if (i)
			sb_add(&folded, ";");
	}
	free(r->site);
	free(r->folded);
	r->site = site.p ? site.p : strdup("[no frames]");
	r->folded = folded.p ? folded.p : strdup("[no frames]");
	if (!r->site || !r->folded)
		abort();
}

static void name_rows(struct callsites *cs)
{
	if (cs->named)
		return;
	for (size_t i = 0; i < cs->nrows; i++)
		if (!cs->rows[i].site)
			name_row(cs, &cs->rows[i]);
	cs->named = true;
}

uint32_t callsites_block_row(const struct callsites *cs, struct alloc_block *b)
{
	uint32_t row = *block_site(cs, b);

	return row <= cs->nrows ? row : 0;
}

const char *callsites_row_site(struct callsites *cs, uint32_t row)
{
	if (!row || row > cs->nrows)
		return "[no stack]";
	name_rows(cs);
	return cs->rows[row - 1].site;
}

/* ---- sites: rows merged by their call-site text ---------------------------- */

uint64_t cs_counts_metric(const struct cs_counts *c, enum cs_metric m)
{
	uint64_t n = 0;

	switch (m) {
	case CS_SYSCALLS:
		for (int k = 0; k < FL_NSYS; k++)
			n += c->syscalls[k];
		return n;
	case CS_FAULTS: return c->faults_owned + c->faults_touched;
	case CS_BYTES: return c->bytes;
	default: return 0;
	}
}

static void counts_add(struct cs_counts *to, const struct cs_counts *c)
{
	for (int k = 0; k < FL_NSYS; k++)
		to->syscalls[k] += c->syscalls[k];
	to->faults_owned += c->faults_owned;
	to->faults_touched += c->faults_touched;
	to->bytes += c->bytes;
	to->calls += c->calls;
}

static enum cs_metric sort_metric;

static int cmp_site(const void *a, const void *b)
{
	uint64_t x = cs_counts_metric(&((const struct cs_site *)a)->count, sort_metric);
	uint64_t y = cs_counts_metric(&((const struct cs_site *)b)->count, sort_metric);

	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(((const struct cs_site *)a)->name, ((const struct cs_site *)b)->name);
}

static int cmp_row_site(const void *a, const void *b)
{
	return strcmp((*(const struct cs_row *const *)a)->site, (*(const struct cs_row *const *)b)->site);
}

struct cs_site *callsites_sites(struct callsites *cs, enum cs_metric m, size_t *n)
{
	struct cs_row **order = xrealloc(NULL, cs->nrows * sizeof(*order));
	struct cs_site *s = xrealloc(NULL, (cs->nrows + 1) * sizeof(*s));
	size_t k = 0;

	name_rows(cs);
	for (size_t i = 0; i < cs->nrows; i++)
		order[i] = &cs->rows[i];
	qsort(order, cs->nrows, sizeof(*order), cmp_row_site);
	for (size_t i = 0; i < cs->nrows; i++) {
		const struct cs_row *r = order[i];

		if (!k || strcmp(s[k - 1].name, r->site)) {
			memset(&s[k], 0, sizeof(s[k]));
			s[k].mangled = r->site_mangled;
			s[k++].name = r->site;
		}
		counts_add(&s[k - 1].count, &r->count);
	}
	free(order);
	sort_metric = m;
	qsort(s, k, sizeof(*s), cmp_site);
	while (k && cs_counts_metric(&s[k - 1].count, m) == 0)
		k--;
	*n = k;
	return s;
}

/* ---- folded stacks ----------------------------------------------------------- */

static int cmp_folded(const void *a, const void *b)
{
	return strcmp(((const struct cs_folded *)a)->stack, ((const struct cs_folded *)b)->stack);
}

struct cs_folded *callsites_folded(struct callsites *cs, enum cs_metric m, size_t *count)
{
	struct cs_folded *l = xrealloc(NULL, (cs->nrows + 1) * sizeof(*l));
	size_t n = 0, k = 0;

	name_rows(cs);
	for (size_t i = 0; i < cs->nrows; i++) {
		uint64_t v = cs_counts_metric(&cs->rows[i].count, m);

		if (v)
			l[n++] = (struct cs_folded){ cs->rows[i].folded, v };
	}
	qsort(l, n, sizeof(*l), cmp_folded);
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(l[k - 1].stack, l[i].stack))
			l[k - 1].count += l[i].count;
		else
			l[k++] = l[i];
	}
	*count = k;
	return l;
}

void callsites_stats(const struct callsites *cs, struct cs_stats *st)
{
	*st = (struct cs_stats){
		.stacks = cs->stacks, .distinct = cs->nrows, .not_unwound = cs->unwound_empty,
		.not_taken = cs->skipped, .stack_bytes = cs->stack_bytes, .objects_cached = cs->objects_cached,
		.objects_missing = cs->objects_missing, .objects_too_large = cs->objects_too_large, .mode = cs->mode, .sample = cs->sample, .top = cs->top,
	};
}
