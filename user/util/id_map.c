/* id_map.c - the id hash table of id_map.h. */
#include <stdlib.h>
#include "util/id_map.h"

static size_t slot_of(uint32_t key, size_t cap)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing: tids are dense */

	return (size_t)(h >> 32) & (cap - 1);
}

bool id_map_get(const struct id_map *m, uint32_t key, size_t *val)
{
	if (!m->cap)
		return false;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->vals[i])
			return false;
		if (m->keys[i] == key) {
			*val = m->vals[i] - 1;
			return true;
		}
	}
}

static void place(uint32_t *keys, size_t *vals, size_t cap, uint32_t key, size_t stored)
{
	size_t i = slot_of(key, cap);

	while (vals[i] && keys[i] != key)
		i = (i + 1) & (cap - 1);
	keys[i] = key;
	vals[i] = stored;
}

static int grow(struct id_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint32_t *keys = calloc(cap, sizeof(*keys));
	size_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i])
			place(keys, vals, cap, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int id_map_put(struct id_map *m, uint32_t key, size_t val)
{
	size_t old;

	if (id_map_get(m, key, &old)) {
		place(m->keys, m->vals, m->cap, key, val + 1);
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -1; /* at most half full: probes stay short */
	place(m->keys, m->vals, m->cap, key, val + 1);
	m->n++;
	return 0;
}

bool id_map_del(struct id_map *m, uint32_t key)
{
	size_t mask = m->cap - 1, i, j;

	if (!m->cap)
		return false;
	for (i = slot_of(key, m->cap); m->vals[i] && m->keys[i] != key; i = (i + 1) & mask)
		;
	if (!m->vals[i])
		return false;
	/* shift back the entries after it that probed past i */
	for (j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m->keys[j], m->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->vals[i] = 0;
	m->n--;
	return true;
}

void id_map_clear(struct id_map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct id_map)ID_MAP_INIT;
}
