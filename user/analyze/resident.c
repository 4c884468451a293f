/* resident.c - the resident-memory model (resident.h): a hash set of page
 * numbers with two flag bits, linear probing, backward-shift deletion. */
#include <stdlib.h>
#include <string.h>
#include "analyze/resident.h"

#define FLAG_SHIFT 56
#define PAGE_MASK ((1ull << FLAG_SHIFT) - 1)

static size_t slot_of(const struct resident *r, uint64_t key)
{
	key *= 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 17) & (r->cap - 1);
}

static uint64_t key_of(uint64_t page) { return (page + 1) & PAGE_MASK; }

static void count(struct resident *r, uint64_t slot, int sign)
{
	unsigned f = (unsigned)(slot >> FLAG_SHIFT);

	r->n += sign;
	if (f & RES_ALLOCATOR)
		r->pages_allocator += sign;
	if (f & RES_FREEABLE)
		r->pages_freeable += sign;
}

static void insert_slot(struct resident *r, uint64_t v, uint64_t ts)
{
	size_t i = slot_of(r, v & PAGE_MASK);

	while (r->slots[i])
		i = (i + 1) & (r->cap - 1);
	r->slots[i] = v;
	r->touched[i] = ts;
}

static bool grow(struct resident *r)
{
	struct resident old = *r;
	size_t cap = r->cap ? r->cap * 2 : 1024;
	uint64_t *s = calloc(cap, sizeof(*s)), *t = calloc(cap, sizeof(*t));

	if (!s || !t)
		return free(s), free(t), false;
	r->slots = s;
	r->touched = t;
	r->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i])
			insert_slot(r, old.slots[i], old.touched[i]);
	free(old.slots);
	free(old.touched);
	return true;
}

/* The slot holding page, or SIZE_MAX. */
static size_t find(const struct resident *r, uint64_t page)
{
	uint64_t key = key_of(page);

	if (!r->cap)
		return SIZE_MAX;
	for (size_t i = slot_of(r, key); r->slots[i]; i = (i + 1) & (r->cap - 1))
		if ((r->slots[i] & PAGE_MASK) == key)
			return i;
	return SIZE_MAX;
}

bool resident_touch(struct resident *r, uint64_t addr, unsigned flags, uint64_t ts)
{
	uint64_t page = addr / RES_PAGE;
	size_t i = find(r, page);

	if (i != SIZE_MAX) {
		/* present again after MADV_FREE reclaimed it: no longer freeable */
		if ((r->slots[i] >> FLAG_SHIFT) & RES_FREEABLE) {
			count(r, r->slots[i], -1);
			r->slots[i] &= ~((uint64_t)RES_FREEABLE << FLAG_SHIFT);
			count(r, r->slots[i], 1);
		}
		return false;
	}
	if ((r->n + 1) * 2 > r->cap && !grow(r))
		return false;
	insert_slot(r, key_of(page) | (uint64_t)flags << FLAG_SHIFT, ts);
	count(r, key_of(page) | (uint64_t)flags << FLAG_SHIFT, 1);
	return true;
}

/* Removes slot i, shifting back the entries that probed past it. */
static void remove_slot(struct resident *r, size_t i)
{
	size_t j = i;

	count(r, r->slots[i], -1);
	r->slots[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & (r->cap - 1);
		if (!r->slots[j])
			return;
		home = slot_of(r, r->slots[j] & PAGE_MASK);
		/* j's entry may move to i when i lies cyclically in [home, j) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			r->slots[i] = r->slots[j];
			r->touched[i] = r->touched[j];
			r->slots[j] = 0;
			i = j;
		}
	}
}

/* Calls fn on every slot holding a page of [start, end): page by page when
 * the range is smaller than the table, else over the table. fn may remove
 * the slot it is given (then the scan looks at that slot again). */
static void for_range(struct resident *r, uint64_t start, uint64_t end, uint64_t ts,
		      void (*fn)(struct resident *r, size_t slot, void *arg), void *arg)
{
	uint64_t first = start / RES_PAGE, last = (end + RES_PAGE - 1) / RES_PAGE;

	if (!r->n || end <= start)
		return;
	if (last - first <= r->cap) {
		for (uint64_t p = first; p < last; p++) {
			size_t i = find(r, p);

			if (i != SIZE_MAX && r->touched[i] <= ts)
				fn(r, i, arg);
		}
		return;
	}
	for (size_t i = 0; i < r->cap; i++) {
		uint64_t v;

		while ((v = r->slots[i]) && (v & PAGE_MASK) - 1 >= first && (v & PAGE_MASK) - 1 < last &&
		       r->touched[i] <= ts) {
			fn(r, i, arg);
			if (r->slots[i] == v)
				break; /* fn kept it */
		}
	}
}

static void drop_one(struct resident *r, size_t i, void *arg)
{
	(void)arg;
	remove_slot(r, i);
}

void resident_drop(struct resident *r, uint64_t start, uint64_t end, uint64_t ts)
{
	for_range(r, start, end, ts, drop_one, NULL);
}

static void freeable_one(struct resident *r, size_t i, void *arg)
{
	(void)arg;
	count(r, r->slots[i], -1);
	r->slots[i] |= (uint64_t)RES_FREEABLE << FLAG_SHIFT;
	count(r, r->slots[i], 1);
}

void resident_mark_freeable(struct resident *r, uint64_t start, uint64_t end, uint64_t ts)
{
	for_range(r, start, end, ts, freeable_one, NULL);
}

struct move {
	uint64_t *pages; /* (page + 1) | flags, taken out of the set */
	uint64_t *ts;    /* their first touches */
	size_t n, cap;
};

static void take_one(struct resident *r, size_t i, void *arg)
{
	struct move *m = arg;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		uint64_t *p = realloc(m->pages, cap * sizeof(*p)), *t;

		if (!p)
			return; /* out of memory: the page stays where it was */
		m->pages = p;
		if (!(t = realloc(m->ts, cap * sizeof(*t))))
			return;
		m->ts = t;
		m->cap = cap;
	}
	m->ts[m->n] = r->touched[i];
	m->pages[m->n++] = r->slots[i];
	remove_slot(r, i);
}

void resident_move(struct resident *r, uint64_t old, uint64_t old_len, uint64_t new, uint64_t new_len, uint64_t ts)
{
	struct move m = { 0 };

	if (old == new) {
		if (new_len < old_len)
			resident_drop(r, old + new_len, old + old_len, ts);
		return;
	}
	for_range(r, old, old + old_len, ts, take_one, &m);
	resident_drop(r, new, new + new_len, ts); /* nothing was there: mremap maps it fresh */
	for (size_t k = 0; k < m.n; k++) {
		uint64_t page = (m.pages[k] & PAGE_MASK) - 1, off = page * RES_PAGE - old;

		if (off < new_len)
			resident_touch(r, new + off, (unsigned)(m.pages[k] >> FLAG_SHIFT), m.ts[k]);
	}
	free(m.pages);
	free(m.ts);
}

struct tally {
	uint64_t all, allocator;
};

static void tally_one(struct resident *r, size_t i, void *arg)
{
	struct tally *t = arg;

	t->all++;
	t->allocator += (r->slots[i] >> FLAG_SHIFT) & RES_ALLOCATOR;
}

uint64_t resident_count(const struct resident *r, uint64_t start, uint64_t end, uint64_t *allocator)
{
	struct tally t = { 0, 0 };

	for_range((struct resident *)r, start, end, UINT64_MAX, tally_one, &t);
	if (allocator)
		*allocator = t.allocator * RES_PAGE;
	return t.all * RES_PAGE;
}

void resident_for_each(const struct resident *r, void (*fn)(void *arg, uint64_t addr, unsigned flags), void *arg)
{
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i])
			fn(arg, ((r->slots[i] & PAGE_MASK) - 1) * RES_PAGE, (unsigned)(r->slots[i] >> FLAG_SHIFT));
}

void resident_clear(struct resident *r)
{
	free(r->slots);
	free(r->touched);
	memset(r, 0, sizeof(*r));
}
