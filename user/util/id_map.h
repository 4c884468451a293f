/* id_map.h - a hash table from a 32-bit id (a tid, a tgid) to a size_t value
 * (typically an index into the caller's own array), open addressing with
 * linear probing and backward-shift deletion: lookups, inserts and deletes in
 * O(1) on average, whatever the number of ids. Not thread-safe. */
#ifndef FL_ID_MAP_H
#define FL_ID_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct id_map {
	uint32_t *keys;
	size_t *vals;  /* 1 + value; 0: the slot is empty */
	size_t cap;    /* a power of two, or 0 before the first insert */
	size_t n;
};

#define ID_MAP_INIT { 0 }

/* The value stored for key, or false when key is absent. */
bool id_map_get(const struct id_map *m, uint32_t key, size_t *val);
/* Stores val for key (replacing an earlier value). 0, or -1 when memory is out
 * (m unchanged). val must be below SIZE_MAX. */
int id_map_put(struct id_map *m, uint32_t key, size_t val);
/* Removes key; true if it was there. */
bool id_map_del(struct id_map *m, uint32_t key);
void id_map_clear(struct id_map *m); /* frees the table; m is empty and reusable */

/* A 32-bit hash of (id, s), for string keys: the map then holds the newest
 * entry of each hash, and the caller chains entries of equal hashes. */
static inline uint32_t id_map_hash_str(uint32_t id, const char *s)
{
	uint32_t h = 2166136261u ^ id;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
