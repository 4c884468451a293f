/* hooks.c - inside libfaultline-preload.so: the allocator entry points of
 * include/fl_funcs.h's table that a program gets from the C library and the
 * C++ runtime (the malloc family, every operator new and delete), each
 * forwarding to the next definition (dlsym(RTLD_NEXT): an LD_PRELOADed
 * allocator behind this library still allocates) and recording the call
 * (recorder.c). While dlsym itself runs, and while one thread loads the
 * unwinder for --stacks=all (stacks.c), allocations come from a small static
 * arena and are never freed.
 *
 * Built once per allocator family with native entry points (the Makefile's
 * PRELOAD_VARIANTS): -DFLP_JEMALLOC adds jemalloc's mallocx family,
 * -DFLP_JE_PREFIX a je_-prefixed jemalloc's je_* entry points, -DFLP_MIMALLOC
 * mimalloc's mi_* ones (and the mi_* names its build gives malloc, free,
 * calloc, realloc and operator new, recorded under those). A library only
 * defines natives its program's allocator has: a program that looks up
 * mallocx to learn whether it runs on jemalloc must not find it here. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "faultline.h"
#include "recorder.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- the next definitions ---- */

#define REAL_FUNCS(X)                                                   \
	X(malloc, void *, (size_t))                                     \
	X(calloc, void *, (size_t, size_t))                             \
	X(realloc, void *, (void *, size_t))                            \
	X(reallocarray, void *, (void *, size_t, size_t))               \
	X(free, void, (void *))                                         \
	X(posix_memalign, int, (void **, size_t, size_t))               \
	X(aligned_alloc, void *, (size_t, size_t))                      \
	X(memalign, void *, (size_t, size_t))                           \
	X(valloc, void *, (size_t))                                     \
	X(pvalloc, void *, (size_t))                                    \
	X(_Znwm, void *, (size_t))                                      \
	X(_ZnwmRKSt9nothrow_t, void *, (size_t, const void *))          \
	X(_ZnwmSt11align_val_t, void *, (size_t, size_t))               \
	X(_ZnwmSt11align_val_tRKSt9nothrow_t, void *, (size_t, size_t, const void *)) \
	X(_Znam, void *, (size_t))                                      \
	X(_ZnamRKSt9nothrow_t, void *, (size_t, const void *))          \
	X(_ZnamSt11align_val_t, void *, (size_t, size_t))               \
	X(_ZnamSt11align_val_tRKSt9nothrow_t, void *, (size_t, size_t, const void *)) \
	X(_ZdlPv, void, (void *))                                       \
	X(_ZdlPvm, void, (void *, size_t))                              \
	X(_ZdlPvSt11align_val_t, void, (void *, size_t))                \
	X(_ZdlPvmSt11align_val_t, void, (void *, size_t, size_t))       \
	X(_ZdlPvRKSt9nothrow_t, void, (void *, const void *))           \
	X(_ZdlPvSt11align_val_tRKSt9nothrow_t, void, (void *, size_t, const void *)) \
	X(_ZdaPv, void, (void *))                                       \
	X(_ZdaPvm, void, (void *, size_t))                              \
	X(_ZdaPvSt11align_val_t, void, (void *, size_t))                \
	X(_ZdaPvmSt11align_val_t, void, (void *, size_t, size_t))       \
	X(_ZdaPvRKSt9nothrow_t, void, (void *, const void *))           \
	X(_ZdaPvSt11align_val_tRKSt9nothrow_t, void, (void *, size_t, const void *))

#ifdef FLP_JEMALLOC
#define NATIVE_FUNCS(X)                                                 \
	X(mallocx, void *, (size_t, int))                               \
	X(rallocx, void *, (void *, size_t, int))                       \
	X(xallocx, size_t, (void *, size_t, size_t, int))               \
	X(dallocx, void, (void *, int))                                 \
	X(sdallocx, void, (void *, size_t, int))
#elif defined(FLP_JE_PREFIX)
#define NATIVE_FUNCS(X)                                                 \
	X(je_malloc, void *, (size_t))                                  \
	X(je_calloc, void *, (size_t, size_t))                          \
	X(je_realloc, void *, (void *, size_t))                         \
	X(je_free, void, (void *))                                      \
	X(je_posix_memalign, int, (void **, size_t, size_t))            \
	X(je_aligned_alloc, void *, (size_t, size_t))                   \
	X(je_mallocx, void *, (size_t, int))                            \
	X(je_rallocx, void *, (void *, size_t, int))                    \
	X(je_xallocx, size_t, (void *, size_t, size_t, int))            \
	X(je_dallocx, void, (void *, int))                              \
	X(je_sdallocx, void, (void *, size_t, int))
#elif defined(FLP_MIMALLOC)
#define NATIVE_FUNCS(X)                                                 \
	X(mi_malloc, void *, (size_t))                                  \
	X(mi_calloc, void *, (size_t, size_t))                          \
	X(mi_realloc, void *, (void *, size_t))                         \
	X(mi_free, void, (void *))                                      \
	X(mi_new, void *, (size_t))                                     \
	X(mi_new_aligned, void *, (size_t, size_t))                     \
	X(mi_malloc_small, void *, (size_t))                            \
	X(mi_zalloc, void *, (size_t))                                  \
	X(mi_zalloc_small, void *, (size_t))                            \
	X(mi_mallocn, void *, (size_t, size_t))                         \
	X(mi_reallocn, void *, (void *, size_t, size_t))                \
	X(mi_reallocf, void *, (void *, size_t))                        \
	X(mi_rezalloc, void *, (void *, size_t))                        \
	X(mi_recalloc, void *, (void *, size_t, size_t))                \
	X(mi_expand, void *, (void *, size_t))                          \
	X(mi_malloc_aligned, void *, (size_t, size_t))                  \
	X(mi_zalloc_aligned, void *, (size_t, size_t))                  \
	X(mi_calloc_aligned, void *, (size_t, size_t, size_t))          \
	X(mi_realloc_aligned, void *, (void *, size_t, size_t))         \
	X(mi_free_size, void, (void *, size_t))                         \
	X(mi_free_aligned, void, (void *, size_t))                      \
	X(mi_free_size_aligned, void, (void *, size_t, size_t))
#else
#define NATIVE_FUNCS(X)
#endif

static struct {
#define REAL_FIELD(name, ret, args) ret(*name) args;
	REAL_FUNCS(REAL_FIELD)
	NATIVE_FUNCS(REAL_FIELD)
#undef REAL_FIELD
} real;

static volatile int resolving;

/* dlsym's own allocations while the next definitions are looked up. */
static _Alignas(64) unsigned char arena[64 * 1024];
static size_t arena_used;

static int in_arena(const void *p)
{
	return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + sizeof(arena);
}

static void *arena_alloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15, at;

	if (need < n)
		return errno = ENOMEM, NULL;
	at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
	if (at > sizeof(arena) || need > sizeof(arena) - at) {
		errno = ENOMEM;
		return NULL;
	}
	return arena + at;
}

/* Do allocations come from the arena: while the next definitions are
 * looked up, and in a thread where the unwinder loads or runs (the loader's
 * allocations, libunwind's thread-local block: the program's heap stays as
 * the uprobe path sees it)? */
static inline int arena_time(void)
{
	return resolving || flp_self.own_alloc;
}

/* n bytes of the arena (never given back); once its 64 KiB are used up, of
 * the next definition, unrecorded (the unwinder's 16 bytes a thread must not
 * fail; their free later counts as a free of an unknown pointer), but never
 * while resolving. */
static void *from_arena(size_t n, void *(*next)(size_t))
{
	void *p = arena_alloc(n);

	return p || resolving || !next ? p : next(n);
}

static void fatal(const char *what)
{
	static const char msg[] = "libfaultline-preload.so: no next definition of ";

	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0)
		_exit(127);
	_exit(127);
}

static void resolve(void)
{
	resolving = 1;
#define REAL_LOOKUP(name, ret, args) \
	if (!real.name)              \
		real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	REAL_FUNCS(REAL_LOOKUP)
	NATIVE_FUNCS(REAL_LOOKUP)
#undef REAL_LOOKUP
	resolving = 0;
	if (!real.malloc || !real.free || !real.calloc || !real.realloc)
		fatal("malloc");
}

#define NEED(name)                                \
	do {                                      \
		if (__builtin_expect(!real.name, 0)) { \
			resolve();                \
			if (!real.name)           \
				fatal(#name);     \
		}                                 \
	} while (0)

/* Is this call to be recorded? Not before the recorder is up, nor from a
 * signal handler that interrupted the writing of a record. */
static inline struct flp_thread *recorder(void)
{
	struct flp_thread *t = &flp_self;

	return !resolving && flp_recording() && !t->writing ? t : NULL;
}

/* ---- returning calls ---- */

/* A call returning a pointer: entry, the next definition's call, its record. */
#define RETURNING(func, call, a0, a1, a2)                                           \
	do {                                                                        \
		struct flp_thread *t = recorder();                                  \
		uint64_t ts;                                                        \
		void *p;                                                            \
		if (!t)                                                             \
			return call;                                                \
		ts = flp_stamp();                                                   \
		flp_enter(t, func);                                                 \
		p = call;                                                           \
		flp_leave(t, func, ts, (uint64_t)(a0), (uint64_t)(a1), (uint64_t)(a2), (uint64_t)p); \
		return p;                                                           \
	} while (0)

EXPORT void *malloc(size_t n)
{
	if (__builtin_expect(arena_time(), 0))
		return from_arena(n, real.malloc);
	if (__builtin_expect(!real.malloc, 0))
		resolve();
	RETURNING(FL_MALLOC, real.malloc(n), n, 0, 0);
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (__builtin_expect(arena_time(), 0)) {
		void *p;

		if (size && n > SIZE_MAX / size)
			return NULL;
		p = arena_alloc(n * size); /* static: already zero */
		return p || resolving || !real.calloc ? p : real.calloc(n, size);
	}
	if (__builtin_expect(!real.calloc, 0))
		resolve();
	RETURNING(FL_CALLOC, real.calloc(n, size), n, size, 0);
}

EXPORT void *realloc(void *old, size_t n)
{
	if (__builtin_expect(arena_time() || !real.realloc || in_arena(old), 0)) {
		if (arena_time() && old && !in_arena(old)) /* a heap block, the unwinder loading */
			return real.realloc(old, n);
		if (arena_time() || in_arena(old)) {
			void *p = n ? (arena_time() ? from_arena(n, real.malloc) : malloc(n)) : NULL;

			if (p && old)
				memcpy(p, old, n < (size_t)(arena + sizeof(arena) - (unsigned char *)old) ?
						       n : (size_t)(arena + sizeof(arena) - (unsigned char *)old));
			return p;
		}
		resolve();
	}
	RETURNING(FL_REALLOC, real.realloc(old, n), n, 0, old);
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	NEED(reallocarray);
	RETURNING(FL_REALLOCARRAY, real.reallocarray(old, n, size), n, size, old);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	NEED(aligned_alloc);
	RETURNING(FL_ALIGNED_ALLOC, real.aligned_alloc(align, n), n, align, 0);
}

EXPORT void *memalign(size_t align, size_t n)
{
	NEED(memalign);
	RETURNING(FL_MEMALIGN, real.memalign(align, n), n, align, 0);
}

EXPORT void *valloc(size_t n)
{
	NEED(valloc);
	RETURNING(FL_VALLOC, real.valloc(n), n, 0, 0);
}

EXPORT void *pvalloc(size_t n)
{
	NEED(pvalloc);
	RETURNING(FL_PVALLOC, real.pvalloc(n), n, 0, 0);
}

/* A block returned through *memptr, the return value a status (posix_memalign). */
#define MEMPTR(func, name)                                                                        \
	EXPORT int name(void **memptr, size_t align, size_t n)                                    \
	{                                                                                         \
		struct flp_thread *t;                                                             \
		uint64_t ts;                                                                      \
		int rc;                                                                           \
		NEED(name);                                                                       \
		t = recorder();                                                                   \
		if (!t)                                                                           \
			return real.name(memptr, align, n);                                       \
		ts = flp_stamp();                                                                 \
		flp_enter(t, func);                                                               \
		rc = real.name(memptr, align, n);                                                 \
		flp_leave(t, func, ts, n, align, (uint64_t)memptr, rc == 0 ? (uint64_t)*memptr : 0); \
		return rc;                                                                        \
	}

MEMPTR(FL_POSIX_MEMALIGN, posix_memalign)

/* operator new may throw through this frame (it has unwind tables, no
 * cleanup): the recorder sees the call left at the thread's next call. */
#define NEW_CALL(func, call, a0, a1) RETURNING(func, call, a0, a1, 0)

EXPORT void *_Znwm(size_t n) { NEED(_Znwm); NEW_CALL(FL_NEW, real._Znwm(n), n, 0); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt)
{
	NEED(_ZnwmRKSt9nothrow_t);
	NEW_CALL(FL_NEW_NOTHROW, real._ZnwmRKSt9nothrow_t(n, nt), n, 0);
}
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	NEED(_ZnwmSt11align_val_t);
	NEW_CALL(FL_NEW_ALIGNED, real._ZnwmSt11align_val_t(n, al), n, al);
}
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	NEED(_ZnwmSt11align_val_tRKSt9nothrow_t);
	NEW_CALL(FL_NEW_ALIGNED_NT, real._ZnwmSt11align_val_tRKSt9nothrow_t(n, al, nt), n, al);
}
EXPORT void *_Znam(size_t n) { NEED(_Znam); NEW_CALL(FL_NEWA, real._Znam(n), n, 0); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt)
{
	NEED(_ZnamRKSt9nothrow_t);
	NEW_CALL(FL_NEWA_NOTHROW, real._ZnamRKSt9nothrow_t(n, nt), n, 0);
}
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	NEED(_ZnamSt11align_val_t);
	NEW_CALL(FL_NEWA_ALIGNED, real._ZnamSt11align_val_t(n, al), n, al);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	NEED(_ZnamSt11align_val_tRKSt9nothrow_t);
	NEW_CALL(FL_NEWA_ALIGNED_NT, real._ZnamSt11align_val_tRKSt9nothrow_t(n, al, nt), n, al);
}

/* ---- free-like calls: their record at entry ---- */

#define FREEING(func, ptr, a0, a1, call)                                       \
	do {                                                                   \
		struct flp_thread *t = recorder();                             \
		int outer;                                                     \
		if (!t) {                                                      \
			call;                                                  \
			return;                                                \
		}                                                              \
		outer = flp_free_enter(t, func, (uint64_t)(a0), (uint64_t)(a1), (uint64_t)(ptr)); \
		call;                                                          \
		if (outer)                                                     \
			flp_free_done(t);                                      \
	} while (0)

EXPORT void free(void *p)
{
	struct flp_thread *t;

	if (__builtin_expect(in_arena(p), 0))
		return;
	if (__builtin_expect(resolving, 0))
		return;
	if (__builtin_expect(flp_self.own_alloc, 0)) { /* a heap block, the unwinder loading: not recorded */
		real.free(p);
		return;
	}
	if (__builtin_expect(!real.free, 0))
		resolve();
	if (!p) {
		t = recorder();
		if (t)
			flp_free_null(t);
		real.free(p);
		return;
	}
	FREEING(FL_FREE, p, 0, 0, real.free(p));
}

#define DELETE(name, func, sig, ptr, a0, a1, args) \
	EXPORT void name sig                        \
	{                                           \
		NEED(name);                         \
		FREEING(func, ptr, a0, a1, real.name args); \
	}

DELETE(_ZdlPv, FL_DELETE, (void *p), p, 0, 0, (p))
DELETE(_ZdlPvm, FL_DELETE_SIZED, (void *p, size_t n), p, n, 0, (p, n))
DELETE(_ZdlPvSt11align_val_t, FL_DELETE_ALIGNED, (void *p, size_t al), p, 0, al, (p, al))
DELETE(_ZdlPvmSt11align_val_t, FL_DELETE_SZ_AL, (void *p, size_t n, size_t al), p, n, al, (p, n, al))
DELETE(_ZdlPvRKSt9nothrow_t, FL_DELETE_NOTHROW, (void *p, const void *nt), p, 0, 0, (p, nt))
DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, FL_DELETE_AL_NT, (void *p, size_t al, const void *nt), p, 0, al,
       (p, al, nt))
DELETE(_ZdaPv, FL_DELETEA, (void *p), p, 0, 0, (p))
DELETE(_ZdaPvm, FL_DELETEA_SIZED, (void *p, size_t n), p, n, 0, (p, n))
DELETE(_ZdaPvSt11align_val_t, FL_DELETEA_ALIGNED, (void *p, size_t al), p, 0, al, (p, al))
DELETE(_ZdaPvmSt11align_val_t, FL_DELETEA_SZ_AL, (void *p, size_t n, size_t al), p, n, al, (p, n, al))
DELETE(_ZdaPvRKSt9nothrow_t, FL_DELETEA_NOTHROW, (void *p, const void *nt), p, 0, 0, (p, nt))
DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, FL_DELETEA_AL_NT, (void *p, size_t al, const void *nt), p, 0, al,
       (p, al, nt))

/* ---- the allocators' native entry points (one family per build) ---- */

/* A resize in place (xallocx): its record's ret is the size it returned. */
#define INPLACE(func, name, p, n, extra, flags)                                          \
	do {                                                                             \
		struct flp_thread *t;                                                    \
		uint64_t ts;                                                             \
		size_t got;                                                              \
		NEED(name);                                                              \
		t = recorder();                                                          \
		if (!t)                                                                  \
			return real.name(p, n, extra, flags);                            \
		ts = flp_stamp();                                                        \
		flp_enter(t, func);                                                      \
		got = real.name(p, n, extra, flags);                                     \
		flp_leave(t, func, ts, (uint64_t)(n), 0, (uint64_t)(p), (uint64_t)got);   \
		return got;                                                              \
	} while (0)

#if defined(FLP_JEMALLOC) || defined(FLP_JE_PREFIX)
#ifdef FLP_JE_PREFIX
#define JE(name) je_##name
#define JE_FUNC(id) FL_JE_##id
#else
#define JE(name) name
#define JE_FUNC(id) FL_##id
#endif
EXPORT void *JE(mallocx)(size_t n, int flags)
{
	NEED(JE(mallocx));
	RETURNING(JE_FUNC(MALLOCX), real.JE(mallocx)(n, flags), n, 0, 0);
}
EXPORT void *JE(rallocx)(void *old, size_t n, int flags)
{
	NEED(JE(rallocx));
	RETURNING(JE_FUNC(RALLOCX), real.JE(rallocx)(old, n, flags), n, 0, old);
}
EXPORT size_t JE(xallocx)(void *p, size_t n, size_t extra, int flags)
{
	INPLACE(JE_FUNC(XALLOCX), JE(xallocx), p, n, extra, flags);
}
DELETE(JE(dallocx), JE_FUNC(DALLOCX), (void *p, int flags), p, 0, 0, (p, flags))
DELETE(JE(sdallocx), JE_FUNC(SDALLOCX), (void *p, size_t n, int flags), p, n, 0, (p, n, flags))
#endif

#ifdef FLP_JE_PREFIX
EXPORT void *je_malloc(size_t n) { NEED(je_malloc); RETURNING(FL_JE_MALLOC, real.je_malloc(n), n, 0, 0); }
EXPORT void *je_calloc(size_t n, size_t size)
{
	NEED(je_calloc);
	RETURNING(FL_JE_CALLOC, real.je_calloc(n, size), n, size, 0);
}
EXPORT void *je_realloc(void *old, size_t n)
{
	NEED(je_realloc);
	RETURNING(FL_JE_REALLOC, real.je_realloc(old, n), n, 0, old);
}
EXPORT void *je_aligned_alloc(size_t align, size_t n)
{
	NEED(je_aligned_alloc);
	RETURNING(FL_JE_ALIGNED_ALLOC, real.je_aligned_alloc(align, n), n, align, 0);
}
MEMPTR(FL_JE_POSIX_MEMALIGN, je_posix_memalign)
DELETE(je_free, FL_JE_FREE, (void *p), p, 0, 0, (p))
#endif

#ifdef FLP_MIMALLOC
/* mimalloc's names for the standard entry points (one address each with
 * malloc, calloc, realloc, free, operator new): recorded under those, as the
 * uprobe path counts a call at that address. */
EXPORT void *mi_malloc(size_t n) { NEED(mi_malloc); RETURNING(FL_MALLOC, real.mi_malloc(n), n, 0, 0); }
EXPORT void *mi_calloc(size_t n, size_t size)
{
	NEED(mi_calloc);
	RETURNING(FL_CALLOC, real.mi_calloc(n, size), n, size, 0);
}
EXPORT void *mi_realloc(void *old, size_t n)
{
	NEED(mi_realloc);
	RETURNING(FL_REALLOC, real.mi_realloc(old, n), n, 0, old);
}
DELETE(mi_free, FL_FREE, (void *p), p, 0, 0, (p))
EXPORT void *mi_new(size_t n) { NEED(mi_new); NEW_CALL(FL_NEW, real.mi_new(n), n, 0); }
EXPORT void *mi_new_aligned(size_t n, size_t al)
{
	NEED(mi_new_aligned);
	NEW_CALL(FL_NEW_ALIGNED, real.mi_new_aligned(n, al), n, al);
}

/* the table's mi_* lines */
#define MI_1(name, id) \
	EXPORT void *name(size_t n) { NEED(name); RETURNING(FL_##id, real.name(n), n, 0, 0); }
#define MI_N(name, id) \
	EXPORT void *name(size_t n, size_t size) { NEED(name); RETURNING(FL_##id, real.name(n, size), n, size, 0); }
#define MI_RE(name, id) \
	EXPORT void *name(void *old, size_t n) { NEED(name); RETURNING(FL_##id, real.name(old, n), n, 0, old); }
#define MI_RE_N(name, id)                                                                         \
	EXPORT void *name(void *old, size_t n, size_t size)                                         \
	{                                                                                         \
		NEED(name);                                                                       \
		RETURNING(FL_##id, real.name(old, n, size), n, size, old);                            \
	}
MI_1(mi_malloc_small, MI_MALLOC_SMALL)
MI_1(mi_zalloc, MI_ZALLOC)
MI_1(mi_zalloc_small, MI_ZALLOC_SMALL)
MI_N(mi_mallocn, MI_MALLOCN)
MI_RE_N(mi_reallocn, MI_REALLOCN)
MI_RE(mi_reallocf, MI_REALLOCF)
MI_RE(mi_rezalloc, MI_REZALLOC)
MI_RE_N(mi_recalloc, MI_RECALLOC)
MI_RE(mi_expand, MI_EXPAND)
MI_N(mi_malloc_aligned, MI_MALLOC_AL)   /* (size, alignment): a0 size, a1 alignment */
MI_N(mi_zalloc_aligned, MI_ZALLOC_AL)
EXPORT void *mi_calloc_aligned(size_t n, size_t size, size_t al)
{
	NEED(mi_calloc_aligned);
	RETURNING(FL_MI_CALLOC_AL, real.mi_calloc_aligned(n, size, al), n, size, 0);
}
EXPORT void *mi_realloc_aligned(void *old, size_t n, size_t al)
{
	NEED(mi_realloc_aligned);
	RETURNING(FL_MI_REALLOC_AL, real.mi_realloc_aligned(old, n, al), n, 0, old);
}
DELETE(mi_free_size, FL_MI_FREE_SIZE, (void *p, size_t n), p, n, 0, (p, n))
DELETE(mi_free_aligned, FL_MI_FREE_AL, (void *p, size_t al), p, 0, al, (p, al))
DELETE(mi_free_size_aligned, FL_MI_FREE_SZ_AL, (void *p, size_t n, size_t al), p, n, al, (p, n, al))
#endif
