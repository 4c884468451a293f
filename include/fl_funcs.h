/* fl_funcs.h - the allocator entry points faultline probes, one table line
 * each (part of the contract with bpf/: the values below are fl_hdr.func in
 * every record and in every trace file, so lines are only ever appended).
 *
 * Everything that knows an entry point comes from this table: enum fl_func,
 * the BPF entry programs (bpf/faultline.bpf.c generates one per line), the
 * symbols the attach code looks up, the names reports use, the rule for the
 * bytes a call asks for, and how its arguments are printed. Adding an entry
 * point is one line here (plus a kind below if none fits).
 *
 * FL_ENTRIES(X) calls X(ID, "name", "symbol", KIND, A0, A1, A2):
 *   ID      the entry point: enum fl_func's FL_<ID>, the BPF program enter_<ID>
 *   name    the name it is reported under (JSON "calls" key, text tables)
 *   symbol  its ELF symbol
 *   KIND    what it does with blocks and its arguments (FL_KIND_*, below)
 *   A0..A2  which C argument (1-based, 0: none) the kernel stores in
 *           fl_ev_call.a0 .. a2. By convention a0 is the size (the element
 *           count for the _N kinds), a1 the alignment (the element size for
 *           the _N kinds), a2 the pointer passed in (freed, resized, or
 *           posix_memalign's memptr).
 */
#ifndef FL_FUNCS_H
#define FL_FUNCS_H

#define FL_ENTRIES(X)                                                              \
	X(MALLOC,         "malloc",         "malloc",         ALLOC,     1, 0, 0) \
	X(CALLOC,         "calloc",         "calloc",         ALLOC_N,   1, 2, 0) \
	X(REALLOC,        "realloc",        "realloc",        REALLOC,   2, 0, 1) \
	X(REALLOCARRAY,   "reallocarray",   "reallocarray",   REALLOC_N, 2, 3, 1) \
	X(FREE,           "free",           "free",           FREE,      0, 0, 1) \
	X(POSIX_MEMALIGN, "posix_memalign", "posix_memalign", MEMPTR,    3, 2, 1) \
	X(ALIGNED_ALLOC,  "aligned_alloc",  "aligned_alloc",  ALIGNED,   2, 1, 0) \
	X(MEMALIGN,       "memalign",       "memalign",       ALIGNED,   2, 1, 0) \
	X(VALLOC,         "valloc",         "valloc",         ALLOC,     1, 0, 0) \
	X(PVALLOC,        "pvalloc",        "pvalloc",        PAGES,     1, 0, 0)

/* Allocator entry points, in table order (the order of the JSON "calls"
 * object too). */
enum fl_func {
#define FL_ENUM_(id, name, sym, kind, a0, a1, a2) FL_##id,
	FL_ENTRIES(FL_ENUM_)
#undef FL_ENUM_
	FL_NFUNC,
	FL_FUNC_NONE = 0xff,
};

/* What an entry point does (the KIND column). */
enum fl_kind {
	FL_KIND_ALLOC,     /* returns a new block of a0 bytes */
	FL_KIND_ALLOC_N,   /* returns a new block of a0 * a1 bytes (calloc) */
	FL_KIND_PAGES,     /* returns a new block of a0 bytes rounded up to pages (pvalloc) */
	FL_KIND_ALIGNED,   /* returns a new block of a0 bytes aligned to a1 */
	FL_KIND_MEMPTR,    /* stores a new block of a0 bytes aligned to a1 at *a2, returns 0 or an errno */
	FL_KIND_REALLOC,   /* resizes block a2 to a0 bytes: returns it, a moved one, or NULL (a0 = 0: freed) */
	FL_KIND_REALLOC_N, /* the same to a0 * a1 bytes */
	FL_KIND_FREE,      /* releases block a2; has no return probe (the record is written at entry) */
};

#ifndef __bpf__
/* The table's columns, for userspace. */
struct fl_entry {
	const char *name;   /* reported name */
	const char *symbol; /* ELF symbol */
	enum fl_kind kind;
	unsigned char arg[3]; /* C argument stored in a0, a1, a2 (1-based, 0: none) */
};

static const struct fl_entry fl_entries[FL_NFUNC] = {
#define FL_ROW_(id, name, sym, kind, a0, a1, a2) { name, sym, FL_KIND_##kind, { a0, a1, a2 } },
	FL_ENTRIES(FL_ROW_)
#undef FL_ROW_
};

/* The reported names, in table order (for tables of counts). */
static const char *const fl_func_names[FL_NFUNC] = {
#define FL_NAME_(id, name, ...) name,
	FL_ENTRIES(FL_NAME_)
#undef FL_NAME_
};

/* The reported name of func, "?" for one outside the table. */
static inline const char *fl_func_name(unsigned func)
{
	return func < FL_NFUNC ? fl_entries[func].name : "?";
}

static inline enum fl_kind fl_func_kind(unsigned func)
{
	return func < FL_NFUNC ? fl_entries[func].kind : FL_KIND_ALLOC;
}

/* Is func free-like (releases a block, written at its entry)? */
static inline int fl_is_free(unsigned func)
{
	return fl_func_kind(func) == FL_KIND_FREE;
}

/* Does a call of this kind hand out a new (or moved) block? */
static inline int fl_kind_returns_block(enum fl_kind k)
{
	return k != FL_KIND_FREE;
}

static inline int fl_kind_resizes(enum fl_kind k)
{
	return k == FL_KIND_REALLOC || k == FL_KIND_REALLOC_N;
}

/* Does its record carry an element count in a0 and a size in a1? */
static inline int fl_kind_counted(enum fl_kind k)
{
	return k == FL_KIND_ALLOC_N || k == FL_KIND_REALLOC_N;
}

/* Does it take an alignment in a1? */
static inline int fl_kind_aligned(enum fl_kind k)
{
	return k == FL_KIND_ALIGNED || k == FL_KIND_MEMPTR;
}
#endif

#endif
