/*
 * refalloc - a small reference allocator whose every decision is known.
 *
 * Built as build/librefalloc.so, used with LD_PRELOAD. It replaces the
 * whole malloc family. The model (tools/refalloc/README.md has the long
 * version, with the settings and the probe table):
 *
 *   - A request below the mmap threshold (REFALLOC_MMAP_THRESHOLD,
 *     default 128 KiB) is served from the brk heap. The heap is grown with
 *     brk() in fixed steps (REFALLOC_HEAP_STEP, default 132 KiB).
 *   - A request at or above the threshold gets its own private anonymous
 *     mmap; free() munmaps it. There is no dynamic threshold: the same
 *     program always makes the same syscalls.
 *   - Every block starts with a 16-byte header: the size of the block just
 *     below it in the heap, and its own size with three flag bits.
 *   - Freed heap blocks are merged with free neighbours and kept in
 *     size-class free lists: one exact class per 16 bytes below 1 KiB, four
 *     classes per power of two above. A block next to the top merges into
 *     the top instead.
 *   - When a free leaves more than REFALLOC_TRIM_THRESHOLD (default
 *     128 KiB) free at the top, the top is cut down to REFALLOC_TOP_PAD
 *     (default 128 KiB) with brk() (or madvise(MADV_DONTNEED)).
 *
 * One global lock (skipped while the process has a single thread);
 * pthread_atfork handlers keep fork() safe. Nothing in here calls a libc
 * function that may allocate. Each decision is a USDT probe (provider
 * "refalloc") whose probe instruction is a 5-byte NOP, so a uprobe on it
 * is optimized into a call instead of being single-stepped.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "refalloc.h"

/*
 * USDT probes. Debian 12's sys/sdt.h puts a 1-byte "nop" at each probe
 * site, and a uprobe there must be single-stepped (~15 us a hit). A 5-byte
 * NOP (0f 1f 44 00 00, nopl 0x0(%rax,%rax,1)) lets the kernel turn the
 * uprobe into a call (~0.8 us). The header defines _SDT_NOP
 * unconditionally, but it is only expanded where a probe is used, so
 * redefining it after the include works. The bytes are spelled out because
 * both gas and clang assemble "nopl 0(%rax,%rax,1)" without its zero
 * displacement, as the 4-byte 0f 1f 04 00; and with ';' between them
 * because a ',' would split the sdt.h macro arguments.
 */
#include <sys/sdt.h>
#undef _SDT_NOP
#define _SDT_NOP .byte 0x0f; .byte 0x1f; .byte 0x44; .byte 0x00; .byte 0x00

#define PROBE1(name, a)                STAP_PROBE1(refalloc, name, a)
#define PROBE2(name, a, b)             STAP_PROBE2(refalloc, name, a, b)
#define PROBE3(name, a, b, c)          STAP_PROBE3(refalloc, name, a, b, c)
#define PROBE4(name, a, b, c, d)       STAP_PROBE4(refalloc, name, a, b, c, d)
#define PROBE5(name, a, b, c, d, e)    STAP_PROBE5(refalloc, name, a, b, c, d, e)

/* ------------------------------------------------------------------ blocks */

/*
 * The header of every block ("chunk"); the user pointer is header + 16.
 * Heap chunks: prev_size is the size of the chunk just below (0 for the
 * first one); head is this chunk's size (a multiple of 16, header
 * included) | INUSE if it is in use | PREV_FREE if the chunk just below is
 * free (so free() looks below only when there is something to merge; a
 * copy of a fact kept in the other header, but reading that one costs a
 * cache miss on most frees). mmap'd chunks: prev_size is the offset of the header
 * in its mapping (0 unless over-aligned); head is the mapping's length |
 * MMAPPED | INUSE. A free heap chunk keeps its free-list links in what was
 * the user's memory.
 */
struct chunk {
	size_t prev_size;
	size_t head;
	struct chunk *next, *prev;      /* free heap chunks only */
};

#define HDR        ((size_t)16)
#define MIN_CHUNK  ((size_t)32)     /* header + room for the two links */
#define INUSE      ((size_t)1)
#define MMAPPED    ((size_t)2)
#define PREV_FREE  ((size_t)4)
#define FLAGS      ((size_t)15)
/* Larger requests fail with ENOMEM before any size arithmetic can wrap. */
#define MAX_REQUEST (SIZE_MAX >> 2)

static inline size_t csize(const struct chunk *c) { return c->head & ~FLAGS; }
static inline bool inuse(const struct chunk *c) { return c->head & INUSE; }
static inline bool is_mmapped(const struct chunk *c) { return c->head & MMAPPED; }
static inline void *payload(struct chunk *c) { return (char *)c + HDR; }
static inline struct chunk *chunk_of(void *p) { return (struct chunk *)((char *)p - HDR); }
static inline struct chunk *at(void *base, size_t off)
{
	return (struct chunk *)((char *)base + off);
}
static inline size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/* Heap chunk size for a request: header + request, 16-aligned, >= 32. */
static inline size_t chunk_size(size_t req)
{
	size_t n = align_up(req + HDR, 16);
	return n < MIN_CHUNK ? MIN_CHUNK : n;
}

/* ---------------------------------------------------------------- settings */

enum trim_mode { TRIM_BRK, TRIM_MADVISE, TRIM_NONE };

static size_t page_size = 4096;
static size_t mmap_threshold = 128 * 1024;
static size_t heap_step = 132 * 1024;
static size_t trim_threshold = 128 * 1024;
static size_t top_pad = 128 * 1024;
static enum trim_mode trim_mode = TRIM_BRK;
static const char *stats_at_exit;        /* REFALLOC_STATS */
static bool initialized;

/* ------------------------------------------------------------------- state */

/*
 * The heap is [heap_start, heap_end). Chunks tile [heap_start, top); the
 * "top" is the free space [top, heap_end), which has a header of its own
 * (so the chunk below it can find it) and is never on a free list. Once
 * the heap exists, heap_end - top >= HDR always.
 * Pages in [clean_from, heap_end) have not been touched since they came
 * from brk or were madvise'd away (used by REFALLOC_TRIM=madvise).
 */
static char *heap_start, *heap_end, *clean_from;
static struct chunk *top;

/* Size classes: 2..63 hold exactly 16*k bytes (32..1008); from 1 KiB up,
 * four classes per power of two. */
#define NCLASSES 256
static struct chunk *bins[NCLASSES];
static uint64_t binmap[NCLASSES / 64];   /* bit set <=> bins[k] non-empty */

static struct {
	size_t brk_calls, mmap_calls, munmap_calls, mremap_calls, madvise_calls;
	size_t heap_grows, heap_trims, freelist_hits, freelist_misses;
	size_t mmap_blocks, mmap_bytes;
} counters;

/* -------------------------------------------------------------------- lock */

/*
 * One global lock. While the process has a single thread
 * (__libc_single_threaded, glibc >= 2.32) nobody can race with us, so the
 * lock is skipped; that flag only goes from true to false in pthread_create,
 * which runs in the one thread there is, outside the allocator.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool lock_take(void)
{
	if (__libc_single_threaded)
		return false;
	pthread_mutex_lock(&lock);
	return true;
}

static inline void lock_drop(bool taken)
{
	if (taken)
		pthread_mutex_unlock(&lock);
}

/* fork(): hold the lock across it, so the child never inherits a heap that
 * another thread was in the middle of changing. */
static void atfork_prepare(void) { pthread_mutex_lock(&lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&lock); }
static void atfork_child(void) { pthread_mutex_init(&lock, NULL); }

/* --------------------------------------------------- output without malloc */

static void put_str(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Append "key=value" (decimal, or hex with hex=true) to buf at *len. */
static void fmt_kv(char *buf, size_t cap, size_t *len, const char *key, size_t v, bool hex)
{
	char digits[24];
	int nd = 0;
	unsigned base = hex ? 16 : 10;
	do {
		digits[nd++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v > 0);
	const char *parts[3] = { " ", key, hex ? "=0x" : "=" };
	for (int i = 0; i < 3; i++)
		for (const char *s = parts[i]; *s && *len + 1 < cap; s++)
			buf[(*len)++] = *s;
	while (nd > 0 && *len + 1 < cap)
		buf[(*len)++] = digits[--nd];
	buf[*len] = '\0';
}

/* "PREFIXwhat KEY=0x..." on stderr, with no allocation. */
static void report_problem(const char *prefix, const char *what, const char *key, void *ptr)
{
	char buf[160];
	size_t len = 0;

	for (const char *s = prefix; *s && len + 1 < sizeof(buf); s++)
		buf[len++] = *s;
	for (const char *s = what; *s && len + 1 < sizeof(buf); s++)
		buf[len++] = *s;
	buf[len] = '\0';
	fmt_kv(buf, sizeof(buf), &len, key, (size_t)ptr, true);
	put_str(2, buf);
	put_str(2, "\n");
}

static void die(const char *what, void *ptr)
{
	report_problem("refalloc: ", what, "ptr", ptr);
	abort();
}

/* ---------------------------------------------------------- initialization */

/* Parse "123", "0x1f000", "132k", "1M", "1g" (binary units); -1 if invalid. */
static long long parse_size(const char *s)
{
	unsigned long long v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		v = v * base + d;
		if (v > (1ULL << 50))
			return -1;
	}
	switch (*s) {
	case '\0': break;
	case 'k': case 'K': v <<= 10; s++; break;
	case 'm': case 'M': v <<= 20; s++; break;
	case 'g': case 'G': v <<= 30; s++; break;
	default: return -1;
	}
	return *s ? -1 : (long long)v;
}

static void env_size(const char *name, size_t *var)
{
	const char *s = getenv(name);
	if (!s)
		return;
	long long v = parse_size(s);
	if (v < 0) {
		put_str(2, "refalloc: ignoring invalid ");
		put_str(2, name);
		put_str(2, "\n");
		return;
	}
	*var = (size_t)v;
}

/* Called with the lock held (or single-threaded), at the first call. */
static void init(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	if (ps > 0)
		page_size = (size_t)ps;
	env_size("REFALLOC_MMAP_THRESHOLD", &mmap_threshold);
	env_size("REFALLOC_HEAP_STEP", &heap_step);
	env_size("REFALLOC_TRIM_THRESHOLD", &trim_threshold);
	env_size("REFALLOC_TOP_PAD", &top_pad);
	heap_step = align_up(heap_step ? heap_step : 1, page_size);
	const char *t = getenv("REFALLOC_TRIM");
	if (t && strcmp(t, "madvise") == 0)
		trim_mode = TRIM_MADVISE;
	else if (t && strcmp(t, "none") == 0)
		trim_mode = TRIM_NONE;
	else if (t && strcmp(t, "brk") != 0)
		put_str(2, "refalloc: ignoring invalid REFALLOC_TRIM\n");
	const char *st = getenv("REFALLOC_STATS");
	if (st && *st && strcmp(st, "0") != 0)
		stats_at_exit = st;     /* "1": stderr; else a file to append to */
	initialized = true;
}

static inline void ensure_init(void)
{
	if (__builtin_expect(!initialized, 0))
		init();
}

__attribute__((constructor)) static void refalloc_ctor(void)
{
	bool taken = lock_take();
	ensure_init();
	lock_drop(taken);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

__attribute__((destructor)) static void refalloc_dtor(void)
{
	if (!stats_at_exit)
		return;
	if (strcmp(stats_at_exit, "1") == 0) {
		refalloc_dump_stats(2);
		return;
	}
	/* a file: for programs that close stderr before exit (coreutils) */
	int fd = open(stats_at_exit, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		refalloc_dump_stats(fd);
		close(fd);
	}
}

/* -------------------------------------------------------------- free lists */

static inline unsigned size_class(size_t n)
{
	if (n < 1024)
		return (unsigned)(n >> 4);
	unsigned lg = 63u - (unsigned)__builtin_clzl(n);        /* >= 10 */
	unsigned k = 64 + (lg - 10) * 4 + (unsigned)((n >> (lg - 2)) & 3);
	return k < NCLASSES ? k : NCLASSES - 1;
}

static inline void list_push(struct chunk *c)
{
	unsigned k = size_class(csize(c));
	c->prev = NULL;
	c->next = bins[k];
	if (c->next)
		c->next->prev = c;
	bins[k] = c;
	binmap[k / 64] |= 1ULL << (k % 64);
}

static inline void list_remove(struct chunk *c)
{
	unsigned k = size_class(csize(c));
	if (c->prev)
		c->prev->next = c->next;
	else
		bins[k] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (!bins[k])
		binmap[k / 64] &= ~(1ULL << (k % 64));
}

/* First class >= from with a non-empty list, or NCLASSES. */
static unsigned first_nonempty(unsigned from)
{
	for (unsigned w = from / 64; w < NCLASSES / 64; w++) {
		uint64_t bits = binmap[w];
		if (w == from / 64)
			bits &= ~0ULL << (from % 64);
		if (bits)
			return w * 64 + (unsigned)__builtin_ctzll(bits);
	}
	return NCLASSES;
}

/*
 * A free chunk of at least n bytes, taken off its list, or NULL. Exact
 * classes (< 1 KiB): the head of the list, O(1). Larger classes: the first
 * chunk that fits in the request's own class; failing that, the head of the
 * next non-empty class (all of whose chunks are big enough).
 */
static struct chunk *take_free(size_t n, unsigned *cls)
{
	unsigned k = size_class(n);
	struct chunk *c = NULL;
	if (k < 64) {
		c = bins[k];
	} else {
		for (c = bins[k]; c && csize(c) < n; c = c->next)
			;
	}
	if (!c) {
		k = first_nonempty(k + 1);
		if (k == NCLASSES)
			return NULL;
		c = bins[k];
	}
	list_remove(c);
	*cls = k;
	return c;
}

/* ---------------------------------------------------------------- the heap */

static inline size_t top_size(void) { return (size_t)(heap_end - (char *)top); }

static long sys_brk(void *addr)
{
	counters.brk_calls++;
	return syscall(SYS_brk, addr);
}

/* Grow the heap by whole steps until the top holds `need` bytes. */
static bool grow_heap(size_t need, size_t req)
{
	if (!heap_start) {              /* first use: where does the heap start? */
		long cur = sys_brk(NULL);
		if (cur <= 0)
			return false;
		heap_start = heap_end = clean_from = (char *)align_up((size_t)cur, 16);
		top = (struct chunk *)heap_start;
	}
	size_t have = top_size();
	size_t steps = (need - have + heap_step - 1) / heap_step;
	if (steps > (MAX_REQUEST / heap_step))
		return false;
	char *new_end = heap_end + steps * heap_step;
	if (sys_brk(new_end) != (long)new_end)
		return false;           /* the caller falls back to mmap */
	counters.heap_grows++;
	PROBE3(heap_grow, heap_end, new_end, req);
	if (have == 0)
		top->prev_size = 0;     /* the very first chunk */
	heap_end = new_end;
	top->head = top_size();
	return true;
}

/* Give back the top above top + HDR + top_pad (page-aligned), if the top
 * holds more than trim_threshold. */
static void maybe_trim(void)
{
	if (trim_mode == TRIM_NONE || top_size() <= trim_threshold)
		return;
	char *keep_end = (char *)align_up((size_t)top + HDR + top_pad, page_size);
	if (trim_mode == TRIM_BRK) {
		if (keep_end >= heap_end)
			return;
		if (sys_brk(keep_end) != (long)keep_end)
			return;
		counters.heap_trims++;
		PROBE2(heap_trim, heap_end, keep_end);
		heap_end = keep_end;
		top->head = top_size();
		if (clean_from > heap_end)
			clean_from = heap_end;
	} else {
		if (keep_end >= clean_from)
			return;
		counters.madvise_calls++;
		if (madvise(keep_end, (size_t)(clean_from - keep_end), MADV_DONTNEED) != 0)
			return;
		counters.heap_trims++;
		PROBE2(heap_madvise, keep_end, clean_from - keep_end);
		clean_from = keep_end;
	}
}

/* Carve an in-use chunk of n bytes off the bottom of the top. */
static struct chunk *take_top(size_t n, size_t req)
{
	if ((!heap_start || top_size() < n + HDR) && !grow_heap(n + HDR, req))
		return NULL;
	struct chunk *c = top;
	size_t tsz = top_size();
	c->head = n | INUSE;            /* c->prev_size is already right */
	top = at(c, n);
	top->prev_size = n;
	top->head = tsz - n;
	char *dirty_end = (char *)align_up((size_t)top + HDR, page_size);
	if (clean_from < dirty_end)
		clean_from = dirty_end;
	return c;
}

/* Free an in-use heap chunk: merge with free neighbours, then either join
 * the top (and maybe trim) or go on a free list. */
static void heap_release(struct chunk *c)
{
	size_t size = csize(c);
	if (c->head & PREV_FREE) {
		struct chunk *p = (struct chunk *)((char *)c - c->prev_size);
		list_remove(p);
		size += csize(p);
		c = p;
	}
	struct chunk *n = at(c, size);
	if (n == top) {
		top = c;
		top->head = top_size();
		maybe_trim();
		return;
	}
	if (!inuse(n)) {
		list_remove(n);
		size += csize(n);
		n = at(c, size);
	}
	c->head = size;                 /* free; the chunk below is in use */
	n->prev_size = size;
	n->head |= PREV_FREE;
	list_push(c);
}

/* Cut an in-use heap chunk down to n bytes; the rest is freed. */
static void shrink_chunk(struct chunk *c, size_t n)
{
	size_t size = csize(c);
	if (size - n < MIN_CHUNK)
		return;
	struct chunk *rest = at(c, n);
	c->head = n | INUSE | (c->head & PREV_FREE);
	rest->prev_size = n;
	rest->head = (size - n) | INUSE;
	at(rest, size - n)->prev_size = size - n;
	heap_release(rest);
}

/* An in-use heap chunk of at least n bytes (n a chunk size), or NULL. */
static struct chunk *heap_alloc(size_t n, size_t req)
{
	unsigned cls;
	struct chunk *c = take_free(n, &cls);
	if (c) {
		counters.freelist_hits++;
		PROBE2(freelist_hit, req, cls);
		c->head |= INUSE;
		at(c, csize(c))->head &= ~PREV_FREE;
		shrink_chunk(c, n);
		return c;
	}
	counters.freelist_misses++;
	PROBE2(freelist_miss, req, size_class(n));
	return take_top(n, req);
}

/* -------------------------------------------------------- mmap'd blocks */

/* A block in its own mapping, payload aligned to `align` (a power of two). */
static void *mmap_alloc(size_t req, size_t align)
{
	size_t off = align > HDR ? align - HDR : 0;
	size_t extra = align > page_size ? align : 0;
	if (align > page_size)
		off = 0;
	size_t len = align_up(off + HDR + req + extra, page_size);
	counters.mmap_calls++;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (align > page_size)
		off = align_up((size_t)map + HDR, align) - HDR - (size_t)map;
	struct chunk *c = at(map, off);
	c->prev_size = off;
	c->head = len | MMAPPED | INUSE;
	counters.mmap_blocks++;
	counters.mmap_bytes += len;
	PROBE3(block_mmap, payload(c), map, len);
	return payload(c);
}

static void mmap_release(struct chunk *c)
{
	char *map = (char *)c - c->prev_size;
	size_t len = csize(c);
	counters.munmap_calls++;
	counters.mmap_blocks--;
	counters.mmap_bytes -= len;
	PROBE3(block_munmap, payload(c), map, len);
	if (munmap(map, len) != 0)
		die("munmap failed", payload(c));
}

/* Usable bytes of a live block. */
static size_t usable(struct chunk *c)
{
	if (is_mmapped(c))
		return csize(c) - c->prev_size - HDR;
	return csize(c) - HDR;
}

/* ------------------------------------------------- the family, unlocked */

static void *do_malloc(size_t req)
{
	if (req > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	if (req < mmap_threshold) {
		struct chunk *c = heap_alloc(chunk_size(req), req);
		if (c)
			return payload(c);
		/* brk failed: the request gets a mapping instead */
	}
	void *p = mmap_alloc(req, HDR);
	if (!p)
		errno = ENOMEM;
	return p;
}

static void do_free(void *p)
{
	if (!p)
		return;
	struct chunk *c = chunk_of(p);
	if (is_mmapped(c)) {
		if (!inuse(c))
			die("free(): bad mmap'd block", p);
		mmap_release(c);
		return;
	}
	if ((char *)c < heap_start || (char *)c >= (char *)top || ((size_t)p & 15))
		die("free(): pointer not from refalloc", p);
	if (!inuse(c))
		die("free(): double free", p);
	heap_release(c);
}

/* align: a power of two. */
static void *do_memalign(size_t align, size_t req)
{
	if (align <= HDR)
		return do_malloc(req);
	if (req > MAX_REQUEST || align > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	if (req >= mmap_threshold)
		goto use_mmap;
	/* Take enough to find an aligned spot with room for a free chunk
	 * below it, then free what is below and above. */
	size_t n = chunk_size(req);
	struct chunk *c = heap_alloc(n + align + MIN_CHUNK, req);
	if (!c)
		goto use_mmap;
	size_t p = (size_t)payload(c);
	if (p & (align - 1)) {
		struct chunk *a = (struct chunk *)(align_up(p + MIN_CHUNK, align) - HDR);
		size_t lead = (size_t)((char *)a - (char *)c), total = csize(c);
		a->prev_size = lead;
		a->head = (total - lead) | INUSE;
		at(a, total - lead)->prev_size = total - lead;
		c->head = lead | INUSE | (c->head & PREV_FREE);
		heap_release(c);
		c = a;
	}
	shrink_chunk(c, n);
	return payload(c);
use_mmap:;
	void *m = mmap_alloc(req, align);
	if (!m)
		errno = ENOMEM;
	return m;
}

static void *do_realloc(void *p, size_t req)
{
	if (!p)
		return do_malloc(req);
	if (req > MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	struct chunk *c = chunk_of(p);
	if (!inuse(c) || (!is_mmapped(c) && ((char *)c < heap_start || (char *)c >= (char *)top)))
		die("realloc(): invalid pointer", p);
	if (is_mmapped(c)) {
		if (req >= mmap_threshold) {    /* stays a mapping: mremap it */
			size_t off = c->prev_size, len = csize(c);
			char *map = (char *)c - off;
			size_t new_len = align_up(off + HDR + req, page_size);
			if (new_len == len)
				return p;
			counters.mremap_calls++;
			char *nmap = mremap(map, len, new_len, MREMAP_MAYMOVE);
			if (nmap == MAP_FAILED) {
				errno = ENOMEM;
				return NULL;
			}
			c = at(nmap, off);      /* the old header may be gone */
			c->head = new_len | MMAPPED | INUSE;
			counters.mmap_bytes += new_len - len;
			PROBE5(block_mremap, p, payload(c), nmap, len, new_len);
			return payload(c);
		}
	} else if (req < mmap_threshold) {      /* stays in the heap */
		size_t n = chunk_size(req), size = csize(c);
		if (n <= size) {
			shrink_chunk(c, n);
			return p;
		}
		struct chunk *next = at(c, size);
		if (next == top) {
			/* extend into the top, growing the heap if needed */
			if (top_size() < n - size + HDR && !grow_heap(n - size + HDR, req))
				goto move;
			size_t tsz = top_size();
			c->head = n | INUSE | (c->head & PREV_FREE);
			top = at(c, n);
			top->prev_size = n;
			top->head = tsz - (n - size);
			char *dirty_end = (char *)align_up((size_t)top + HDR, page_size);
			if (clean_from < dirty_end)
				clean_from = dirty_end;
			return p;
		}
		if (!inuse(next) && size + csize(next) >= n) {
			list_remove(next);
			size += csize(next);
			c->head = size | INUSE | (c->head & PREV_FREE);
			at(c, size)->prev_size = size;
			at(c, size)->head &= ~PREV_FREE;
			shrink_chunk(c, n);
			return p;
		}
	}
move:;
	/* Crosses the threshold, or no room in place: allocate, copy, free. */
	void *q = do_malloc(req);
	if (!q)
		return NULL;
	size_t keep = usable(c);
	memcpy(q, p, keep < req ? keep : req);
	do_free(p);
	return q;
}

/* ------------------------------------------------------ the public family */

void *malloc(size_t size)
{
	PROBE1(malloc_entry, size);
	bool t = lock_take();
	ensure_init();
	void *p = do_malloc(size);
	lock_drop(t);
	PROBE2(malloc_return, size, p);
	return p;
}

void free(void *ptr)
{
	PROBE1(free_entry, ptr);
	if (ptr) {                      /* (leaves errno alone: munmap cannot fail here) */
		bool t = lock_take();
		ensure_init();
		do_free(ptr);
		lock_drop(t);
	}
	PROBE1(free_return, ptr);
}

void *calloc(size_t nmemb, size_t size)
{
	PROBE2(calloc_entry, nmemb, size);
	size_t total;
	void *p = NULL;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
	} else {
		bool t = lock_take();
		ensure_init();
		p = do_malloc(total);
		/* a fresh mapping is already zero; a heap block may not be */
		bool fresh = p && is_mmapped(chunk_of(p));
		lock_drop(t);
		if (p && !fresh)
			memset(p, 0, total);
	}
	PROBE3(calloc_return, nmemb, size, p);
	return p;
}

/* realloc and reallocarray, under the lock. */
static void *realloc_common(void *ptr, size_t size)
{
	void *p = NULL;
	bool t = lock_take();
	ensure_init();
	if (ptr && size == 0)
		do_free(ptr);           /* like glibc: realloc(p, 0) frees p */
	else
		p = do_realloc(ptr, size);
	lock_drop(t);
	return p;
}

void *realloc(void *ptr, size_t size)
{
	PROBE2(realloc_entry, ptr, size);
	void *p = realloc_common(ptr, size);
	PROBE3(realloc_return, ptr, size, p);
	return p;
}

void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	PROBE3(reallocarray_entry, ptr, nmemb, size);
	size_t total;
	void *p = NULL;
	if (__builtin_mul_overflow(nmemb, size, &total))
		errno = ENOMEM;
	else
		p = realloc_common(ptr, total);
	PROBE4(reallocarray_return, ptr, nmemb, size, p);
	return p;
}

static void *aligned_common(size_t align, size_t size)
{
	bool t = lock_take();
	ensure_init();
	void *p = do_memalign(align, size);
	lock_drop(t);
	return p;
}

static inline bool power_of_two(size_t a) { return a && !(a & (a - 1)); }

int posix_memalign(void **memptr, size_t alignment, size_t size)
{
	PROBE3(posix_memalign_entry, memptr, alignment, size);
	int ret = 0;
	void *p = NULL;
	if (!power_of_two(alignment) || alignment % sizeof(void *)) {
		ret = EINVAL;
	} else {
		int saved = errno;
		p = aligned_common(alignment, size);
		if (p)
			*memptr = p;
		else
			ret = ENOMEM;
		errno = saved;          /* reports through its return value only */
	}
	PROBE5(posix_memalign_return, memptr, alignment, size, ret, p);
	return ret;
}

void *aligned_alloc(size_t alignment, size_t size)
{
	PROBE2(aligned_alloc_entry, alignment, size);
	void *p = NULL;
	if (!power_of_two(alignment))
		errno = EINVAL;         /* C17; glibc >= 2.38 does the same */
	else
		p = aligned_common(alignment, size);
	PROBE3(aligned_alloc_return, alignment, size, p);
	return p;
}

void *memalign(size_t alignment, size_t size)
{
	PROBE2(memalign_entry, alignment, size);
	void *p = NULL;
	size_t a = alignment;
	if (a > MAX_REQUEST) {
		errno = EINVAL;
	} else {
		while (!power_of_two(a))        /* like glibc: round up */
			a = a ? (a | (a - 1)) + 1 : 1;
		p = aligned_common(a, size);
	}
	PROBE3(memalign_return, alignment, size, p);
	return p;
}

void *valloc(size_t size)
{
	PROBE1(valloc_entry, size);
	void *p = aligned_common((size_t)sysconf(_SC_PAGESIZE), size);
	PROBE2(valloc_return, size, p);
	return p;
}

void *pvalloc(size_t size)
{
	PROBE1(pvalloc_entry, size);
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	void *p = NULL;
	if (size > MAX_REQUEST)
		errno = ENOMEM;
	else
		p = aligned_common(ps, align_up(size ? size : 1, ps));
	PROBE2(pvalloc_return, size, p);
	return p;
}

size_t malloc_usable_size(void *ptr)
{
	PROBE1(malloc_usable_size_entry, ptr);
	size_t n = 0;
	if (ptr) {      /* locked: a free() next door may be changing the flags */
		bool t = lock_take();
		n = usable(chunk_of(ptr));
		lock_drop(t);
	}
	PROBE2(malloc_usable_size_return, ptr, n);
	return n;
}

/* ------------------------------------------------------- stats and checks */

static void stats_locked(struct refalloc_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->mmap_threshold = mmap_threshold;
	st->heap_step = heap_step;
	st->trim_threshold = trim_threshold;
	st->top_pad = top_pad;
	st->heap_start = (size_t)heap_start;
	st->heap_size = (size_t)(heap_end - heap_start);
	if (heap_start && heap_end > heap_start) {
		for (struct chunk *c = (struct chunk *)heap_start; c != top; c = at(c, csize(c))) {
			if (inuse(c)) {
				st->live_blocks++;
				st->live_bytes += csize(c) - HDR;
			} else {
				st->free_blocks++;
				st->free_bytes += csize(c);
				if (csize(c) > st->largest_free)
					st->largest_free = csize(c);
			}
		}
		st->top_free = top_size();
	}
	st->mmap_blocks = counters.mmap_blocks;
	st->mmap_bytes = counters.mmap_bytes;
	st->brk_calls = counters.brk_calls;
	st->mmap_calls = counters.mmap_calls;
	st->munmap_calls = counters.munmap_calls;
	st->mremap_calls = counters.mremap_calls;
	st->madvise_calls = counters.madvise_calls;
	st->heap_grows = counters.heap_grows;
	st->heap_trims = counters.heap_trims;
	st->freelist_hits = counters.freelist_hits;
	st->freelist_misses = counters.freelist_misses;
}

void refalloc_stats(struct refalloc_stats *st)
{
	bool t = lock_take();
	ensure_init();
	stats_locked(st);
	lock_drop(t);
}

void refalloc_dump_stats(int fd)
{
	struct refalloc_stats s;
	refalloc_stats(&s);
	struct { const char *key; size_t v; bool hex; } lines[][8] = {
		{ { "heap_start", s.heap_start, true }, { "heap_size", s.heap_size, false },
		  { "top_free", s.top_free, false }, { "live_blocks", s.live_blocks, false },
		  { "live_bytes", s.live_bytes, false }, { "free_blocks", s.free_blocks, false },
		  { "free_bytes", s.free_bytes, false }, { "largest_free", s.largest_free, false } },
		{ { "mmap_blocks", s.mmap_blocks, false }, { "mmap_bytes", s.mmap_bytes, false },
		  { "freelist_hits", s.freelist_hits, false },
		  { "freelist_misses", s.freelist_misses, false },
		  { "heap_grows", s.heap_grows, false }, { "heap_trims", s.heap_trims, false } },
		{ { "brk", s.brk_calls, false }, { "mmap", s.mmap_calls, false },
		  { "munmap", s.munmap_calls, false }, { "mremap", s.mremap_calls, false },
		  { "madvise", s.madvise_calls, false } },
		{ { "mmap_threshold", s.mmap_threshold, false }, { "heap_step", s.heap_step, false },
		  { "trim_threshold", s.trim_threshold, false }, { "top_pad", s.top_pad, false } },
	};
	for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++) {
		char buf[512] = "refalloc:";
		size_t len = strlen(buf);
		for (int i = 0; i < 8 && lines[l][i].key; i++)
			fmt_kv(buf, sizeof(buf), &len, lines[l][i].key, lines[l][i].v, lines[l][i].hex);
		if (l == 3) {
			const char *m = trim_mode == TRIM_BRK ? " trim=brk" :
					trim_mode == TRIM_MADVISE ? " trim=madvise" : " trim=none";
			for (; *m && len + 1 < sizeof(buf); m++)
				buf[len++] = *m;
		}
		buf[len++] = '\n';
		buf[len] = '\0';
		put_str(fd, buf);
	}
}

static int check_fail(int code, const char *what, void *where)
{
	report_problem("refalloc_check: ", what, "at", where);
	return code;
}

static int check_locked(void)
{
	size_t free_seen = 0, listed = 0;
	if (!heap_start || heap_end == heap_start)
		return 0;
	if ((char *)top < heap_start || top_size() < HDR || top->head != top_size()) /* no flags */
		return check_fail(1, "bad top", top);
	size_t prev = 0;
	struct chunk *c = (struct chunk *)heap_start;
	bool prev_free = false;
	while (c != top) {
		size_t sz = csize(c);
		if ((char *)c > (char *)top || sz < MIN_CHUNK || sz % 16 || is_mmapped(c))
			return check_fail(2, "bad chunk size", c);
		if (c->prev_size != prev)
			return check_fail(3, "bad prev_size", c);
		if (!(c->head & PREV_FREE) != !prev_free)
			return check_fail(12, "PREV_FREE flag out of date", c);
		if (!inuse(c)) {
			if (prev_free)
				return check_fail(4, "two free chunks side by side", c);
			free_seen++;
		}
		prev_free = !inuse(c);
		prev = sz;
		c = at(c, sz);
		if ((char *)c > (char *)top)
			return check_fail(5, "chunk runs past the top", c);
	}
	if (top->prev_size != prev)
		return check_fail(6, "bad top prev_size", top);
	if (prev_free)
		return check_fail(7, "free chunk next to the top", top);
	for (unsigned k = 0; k < NCLASSES; k++) {
		bool bit = binmap[k / 64] >> (k % 64) & 1;
		if (bit != (bins[k] != NULL))
			return check_fail(8, "bin map out of date", bins[k]);
		struct chunk *p = NULL;
		for (struct chunk *f = bins[k]; f; p = f, f = f->next) {
			if (inuse(f) || size_class(csize(f)) != k || f->prev != p ||
			    (char *)f < heap_start || (char *)f >= (char *)top)
				return check_fail(9, "bad free-list entry", f);
			if (++listed > free_seen)
				return check_fail(10, "free lists hold more than the heap", f);
		}
	}
	if (listed != free_seen)
		return check_fail(11, "free chunk missing from the free lists", NULL);
	return 0;
}

int refalloc_check(void)
{
	bool t = lock_take();
	ensure_init();
	int r = check_locked();
	lock_drop(t);
	return r;
}
