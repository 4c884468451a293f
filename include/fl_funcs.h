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
 * FL_CALLS(X) calls X(ID, "name", FAMILY): the names calls are reported under
 * (the keys of the JSON "calls" and "syscalls_by_caller" objects, in this
 * order); several entry points may share one: operator new's four forms are
 * "new". FAMILY: which allocations and frees go together (C: malloc's with
 * free, NEW: new's with delete, NEW_ARRAY: new[]'s with delete[]); a block
 * freed by another family's free is a mismatch.
 *
 * FL_ENTRIES(X) calls X(ID, CALL, "variant", "symbol", KIND, A0, A1, A2):
 *   ID      the entry point: enum fl_func's FL_<ID>, the BPF program enter_<ID>
 *   CALL    the FL_CALLS name it is reported under
 *   variant "" for the plain form, else which form it is ("nothrow", "aligned")
 *   symbol  its ELF symbol, looked up in the object the process gets it from
 *   KIND    what it does with blocks and its arguments (FL_KIND_*, below)
 *   A0..A2  which C argument (1-based, 0: none) the kernel stores in
 *           fl_ev_call.a0 .. a2. By convention a0 is the size (the element
 *           count for the _N kinds), a1 the alignment (the element size for
 *           the _N kinds), a2 the pointer passed in (freed, resized, or
 *           posix_memalign's memptr).
 * jemalloc built with --with-jemalloc-prefix=je_ exports je_malloc ... beside
 * libc's malloc: its lines (variant "je_") are counted under the same names.
 * Entry points of one object at one address are one probe, counted under the
 * first of them in table order (tcmalloc's and mimalloc's operator delete is
 * their free: counted as free).
 */
#ifndef FL_FUNCS_H
#define FL_FUNCS_H

#define FL_CALLS(X)                                  \
	X(MALLOC, "malloc", C)                         \
	X(CALLOC, "calloc", C)                         \
	X(REALLOC, "realloc", C)                       \
	X(REALLOCARRAY, "reallocarray", C)             \
	X(FREE, "free", C)                             \
	X(POSIX_MEMALIGN, "posix_memalign", C)         \
	X(ALIGNED_ALLOC, "aligned_alloc", C)           \
	X(MEMALIGN, "memalign", C)                     \
	X(VALLOC, "valloc", C)                         \
	X(PVALLOC, "pvalloc", C)                       \
	X(NEW, "new", NEW)                             \
	X(NEW_ARRAY, "new[]", NEW_ARRAY)               \
	X(DELETE, "delete", NEW)                       \
	X(DELETE_ARRAY, "delete[]", NEW_ARRAY)         \
	X(MALLOCX, "mallocx", C)                       \
	X(RALLOCX, "rallocx", C)                       \
	X(XALLOCX, "xallocx", C)                       \
	X(DALLOCX, "dallocx", C)                       \
	X(SDALLOCX, "sdallocx", C)                     \
	X(MI_MALLOC_SMALL, "mi_malloc_small", C)       \
	X(MI_ZALLOC, "mi_zalloc", C)                   \
	X(MI_ZALLOC_SMALL, "mi_zalloc_small", C)       \
	X(MI_MALLOCN, "mi_mallocn", C)                 \
	X(MI_REALLOCN, "mi_reallocn", C)               \
	X(MI_REALLOCF, "mi_reallocf", C)               \
	X(MI_REZALLOC, "mi_rezalloc", C)               \
	X(MI_RECALLOC, "mi_recalloc", C)               \
	X(MI_EXPAND, "mi_expand", C)                   \
	X(MI_MALLOC_ALIGNED, "mi_malloc_aligned", C)   \
	X(MI_ZALLOC_ALIGNED, "mi_zalloc_aligned", C)   \
	X(MI_CALLOC_ALIGNED, "mi_calloc_aligned", C)   \
	X(MI_REALLOC_ALIGNED, "mi_realloc_aligned", C) \
	X(MI_FREE_SIZE, "mi_free_size", C)             \
	X(MI_FREE_ALIGNED, "mi_free_aligned", C)       \
	X(MI_FREE_SIZE_ALIGNED, "mi_free_size_aligned", C)

#define FL_ENTRIES(X)                                                                                          \
	X(MALLOC,          MALLOC,         "",                "malloc",                              ALLOC,     1, 0, 0) \
	X(CALLOC,          CALLOC,         "",                "calloc",                              ALLOC_N,   1, 2, 0) \
	X(REALLOC,         REALLOC,        "",                "realloc",                             REALLOC,   2, 0, 1) \
	X(REALLOCARRAY,    REALLOCARRAY,   "",                "reallocarray",                        REALLOC_N, 2, 3, 1) \
	X(FREE,            FREE,           "",                "free",                                FREE,      0, 0, 1) \
	X(POSIX_MEMALIGN,  POSIX_MEMALIGN, "",                "posix_memalign",                      MEMPTR,    3, 2, 1) \
	X(ALIGNED_ALLOC,   ALIGNED_ALLOC,  "",                "aligned_alloc",                       ALIGNED,   2, 1, 0) \
	X(MEMALIGN,        MEMALIGN,       "",                "memalign",                            ALIGNED,   2, 1, 0) \
	X(VALLOC,          VALLOC,         "",                "valloc",                              ALLOC,     1, 0, 0) \
	X(PVALLOC,         PVALLOC,        "",                "pvalloc",                             PAGES,     1, 0, 0) \
	X(NEW,             NEW,            "",                "_Znwm",                               ALLOC,     1, 0, 0) \
	X(NEW_NOTHROW,     NEW,            "nothrow",         "_ZnwmRKSt9nothrow_t",                 ALLOC,     1, 0, 0) \
	X(NEW_ALIGNED,     NEW,            "aligned",         "_ZnwmSt11align_val_t",                ALIGNED,   1, 2, 0) \
	X(NEW_ALIGNED_NT,  NEW,            "aligned nothrow", "_ZnwmSt11align_val_tRKSt9nothrow_t",  ALIGNED,   1, 2, 0) \
	X(NEWA,            NEW_ARRAY,      "",                "_Znam",                               ALLOC,     1, 0, 0) \
	X(NEWA_NOTHROW,    NEW_ARRAY,      "nothrow",         "_ZnamRKSt9nothrow_t",                 ALLOC,     1, 0, 0) \
	X(NEWA_ALIGNED,    NEW_ARRAY,      "aligned",         "_ZnamSt11align_val_t",                ALIGNED,   1, 2, 0) \
	X(NEWA_ALIGNED_NT, NEW_ARRAY,      "aligned nothrow", "_ZnamSt11align_val_tRKSt9nothrow_t",  ALIGNED,   1, 2, 0) \
	X(DELETE,          DELETE,         "",                "_ZdlPv",                              FREE,      0, 0, 1) \
	X(DELETE_SIZED,    DELETE,         "sized",           "_ZdlPvm",                             FREE,      2, 0, 1) \
	X(DELETE_ALIGNED,  DELETE,         "aligned",         "_ZdlPvSt11align_val_t",               FREE,      0, 2, 1) \
	X(DELETE_SZ_AL,    DELETE,         "sized aligned",   "_ZdlPvmSt11align_val_t",              FREE,      2, 3, 1) \
	X(DELETE_NOTHROW,  DELETE,         "nothrow",         "_ZdlPvRKSt9nothrow_t",                FREE,      0, 0, 1) \
	X(DELETE_AL_NT,    DELETE,         "aligned nothrow", "_ZdlPvSt11align_val_tRKSt9nothrow_t", FREE,      0, 2, 1) \
	X(DELETEA,         DELETE_ARRAY,   "",                "_ZdaPv",                              FREE,      0, 0, 1) \
	X(DELETEA_SIZED,   DELETE_ARRAY,   "sized",           "_ZdaPvm",                             FREE,      2, 0, 1) \
	X(DELETEA_ALIGNED, DELETE_ARRAY,   "aligned",         "_ZdaPvSt11align_val_t",               FREE,      0, 2, 1) \
	X(DELETEA_SZ_AL,   DELETE_ARRAY,   "sized aligned",   "_ZdaPvmSt11align_val_t",              FREE,      2, 3, 1) \
	X(DELETEA_NOTHROW, DELETE_ARRAY,   "nothrow",         "_ZdaPvRKSt9nothrow_t",                FREE,      0, 0, 1) \
	X(DELETEA_AL_NT,   DELETE_ARRAY,   "aligned nothrow", "_ZdaPvSt11align_val_tRKSt9nothrow_t", FREE,      0, 2, 1) \
	X(MALLOCX,         MALLOCX,        "",                "mallocx",                             ALLOC,     1, 0, 0) \
	X(RALLOCX,         RALLOCX,        "",                "rallocx",                             REALLOC,   2, 0, 1) \
	X(XALLOCX,         XALLOCX,        "",                "xallocx",                             INPLACE,   2, 0, 1) \
	X(DALLOCX,         DALLOCX,        "",                "dallocx",                             FREE,      0, 0, 1) \
	X(SDALLOCX,        SDALLOCX,       "",                "sdallocx",                            FREE,      2, 0, 1) \
	X(MI_MALLOC_SMALL, MI_MALLOC_SMALL, "",               "mi_malloc_small",                     ALLOC,     1, 0, 0) \
	X(MI_ZALLOC,       MI_ZALLOC,      "",                "mi_zalloc",                           ALLOC,     1, 0, 0) \
	X(MI_ZALLOC_SMALL, MI_ZALLOC_SMALL, "",               "mi_zalloc_small",                     ALLOC,     1, 0, 0) \
	X(MI_MALLOCN,      MI_MALLOCN,     "",                "mi_mallocn",                          ALLOC_N,   1, 2, 0) \
	X(MI_REALLOCN,     MI_REALLOCN,    "",                "mi_reallocn",                         REALLOC_N, 2, 3, 1) \
	X(MI_REALLOCF,     MI_REALLOCF,    "",                "mi_reallocf",                         REALLOC,   2, 0, 1) \
	X(MI_REZALLOC,     MI_REZALLOC,    "",                "mi_rezalloc",                         REALLOC,   2, 0, 1) \
	X(MI_RECALLOC,     MI_RECALLOC,    "",                "mi_recalloc",                         REALLOC_N, 2, 3, 1) \
	X(MI_EXPAND,       MI_EXPAND,      "",                "mi_expand",                           REALLOC,   2, 0, 1) \
	X(MI_MALLOC_AL,    MI_MALLOC_ALIGNED, "",             "mi_malloc_aligned",                   ALIGNED,   1, 2, 0) \
	X(MI_ZALLOC_AL,    MI_ZALLOC_ALIGNED, "",             "mi_zalloc_aligned",                   ALIGNED,   1, 2, 0) \
	X(MI_CALLOC_AL,    MI_CALLOC_ALIGNED, "",             "mi_calloc_aligned",                   ALLOC_N,   1, 2, 0) \
	X(MI_REALLOC_AL,   MI_REALLOC_ALIGNED, "",            "mi_realloc_aligned",                  REALLOC,   2, 0, 1) \
	X(MI_FREE_SIZE,    MI_FREE_SIZE,   "",                "mi_free_size",                        FREE,      2, 0, 1) \
	X(MI_FREE_AL,      MI_FREE_ALIGNED, "",               "mi_free_aligned",                     FREE,      0, 2, 1) \
	X(MI_FREE_SZ_AL,   MI_FREE_SIZE_ALIGNED, "",          "mi_free_size_aligned",                FREE,      2, 3, 1) \
	X(JE_MALLOC,       MALLOC,         "je_",             "je_malloc",                           ALLOC,     1, 0, 0) \
	X(JE_CALLOC,       CALLOC,         "je_",             "je_calloc",                           ALLOC_N,   1, 2, 0) \
	X(JE_REALLOC,      REALLOC,        "je_",             "je_realloc",                          REALLOC,   2, 0, 1) \
	X(JE_FREE,         FREE,           "je_",             "je_free",                             FREE,      0, 0, 1) \
	X(JE_POSIX_MEMALIGN, POSIX_MEMALIGN, "je_",           "je_posix_memalign",                   MEMPTR,    3, 2, 1) \
	X(JE_ALIGNED_ALLOC, ALIGNED_ALLOC, "je_",             "je_aligned_alloc",                    ALIGNED,   2, 1, 0) \
	X(JE_MALLOCX,      MALLOCX,        "je_",             "je_mallocx",                          ALLOC,     1, 0, 0) \
	X(JE_RALLOCX,      RALLOCX,        "je_",             "je_rallocx",                          REALLOC,   2, 0, 1) \
	X(JE_XALLOCX,      XALLOCX,        "je_",             "je_xallocx",                          INPLACE,   2, 0, 1) \
	X(JE_DALLOCX,      DALLOCX,        "je_",             "je_dallocx",                          FREE,      0, 0, 1) \
	X(JE_SDALLOCX,     SDALLOCX,       "je_",             "je_sdallocx",                         FREE,      2, 0, 1)

/* The names calls are reported under, in table order. */
enum fl_call {
#define FL_CALL_ENUM_(id, name, family) FL_CALL_##id,
	FL_CALLS(FL_CALL_ENUM_)
#undef FL_CALL_ENUM_
	FL_NCALLS,
};

/* Allocator entry points, in table order (the order of the JSON "calls"
 * object too). */
enum fl_func {
#define FL_ENUM_(id, call, variant, sym, kind, a0, a1, a2) FL_##id,
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
	FL_KIND_INPLACE,   /* resizes block a2 in place to a0 bytes or more, returns its size (xallocx) */
};

#ifndef __bpf__
/* The table's columns, for userspace. */
struct fl_entry {
	enum fl_call call;  /* reported under fl_call_names[call] */
	const char *variant;
	const char *symbol; /* ELF symbol */
	enum fl_kind kind;
	unsigned char arg[3]; /* C argument stored in a0, a1, a2 (1-based, 0: none) */
};

/* The reported names, in FL_CALLS order (for tables of counts). */
static const char *const fl_call_names[FL_NCALLS] = {
#define FL_CALL_NAME_(id, name, family) name,
	FL_CALLS(FL_CALL_NAME_)
#undef FL_CALL_NAME_
};

/* Which allocations and frees go together (the FAMILY column). */
enum fl_family { FL_FAMILY_C, FL_FAMILY_NEW, FL_FAMILY_NEW_ARRAY, FL_NFAMILY };
static const char *const fl_family_names[FL_NFAMILY] = { "malloc", "new", "new[]" };
static const char *const fl_family_free_names[FL_NFAMILY] = { "free", "delete", "delete[]" };
static const enum fl_family fl_call_family[FL_NCALLS] = {
#define FL_CALL_FAMILY_(id, name, family) FL_FAMILY_##family,
	FL_CALLS(FL_CALL_FAMILY_)
#undef FL_CALL_FAMILY_
};

static const struct fl_entry fl_entries[FL_NFUNC] = {
#define FL_ROW_(id, call, variant, sym, kind, a0, a1, a2) \
	{ FL_CALL_##call, variant, sym, FL_KIND_##kind, { a0, a1, a2 } },
	FL_ENTRIES(FL_ROW_)
#undef FL_ROW_
};

/* The reported name of entry point func, "?" for one outside the table. */
static inline const char *fl_func_name(unsigned func)
{
	return func < FL_NFUNC ? fl_call_names[fl_entries[func].call] : "?";
}

/* The call an entry point is counted under (func < FL_NFUNC). */
static inline enum fl_call fl_func_call(unsigned func)
{
	return fl_entries[func].call;
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
	return k != FL_KIND_FREE && k != FL_KIND_INPLACE;
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
