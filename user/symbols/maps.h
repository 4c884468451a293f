/* maps.h - a process's memory maps: the one parser of /proc/PID/maps text
 * (as a live process shows it or a recording keeps it), lookups in the
 * parsed set, and the helpers for a live process (reading its maps, the
 * /proc/PID/map_files path that opens a mapping's file as the process maps
 * it, in its own mount namespace). Not thread-safe per set. */
#ifndef FL_MAPS_H
#define FL_MAPS_H

#include <stddef.h>
#include <stdint.h>

/* One line of /proc/PID/maps. */
struct proc_map {
	uint64_t start, end;   /* [start, end) */
	uint64_t offset;       /* file offset mapped at start */
	uint64_t inode;        /* 0 for anonymous and special mappings */
	char perms[5];         /* "r-xp" */
	const char *path;      /* "" if anonymous; "[stack]", "/usr/lib/x.so", "/x (deleted)" */
};

struct proc_maps;

/* Parses maps text (need not be NUL-terminated). Lines that do not parse are
 * skipped. Returns NULL only on out of memory; an empty text gives an empty set. */
struct proc_maps *proc_maps_parse(const char *text, size_t len);
void proc_maps_free(struct proc_maps *m);

/* Mapped files are opened as root_prefix + path (e.g. "/proc/1234/root").
 * NULL or "" for none (the default). Set it before unwinding or symbolizing. */
int proc_maps_set_root(struct proc_maps *m, const char *root_prefix); /* -1 on OOM */

size_t proc_maps_count(const struct proc_maps *m);
const struct proc_map *proc_maps_at(const struct proc_maps *m, size_t i); /* sorted by start */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr); /* or NULL */

/* The file to open for a file-backed mapping: root prefix + path, without a
 * " (deleted)" suffix. 0, or -1 if e is not file-backed or buf is too small. */
int proc_maps_file_path(const struct proc_maps *m, const struct proc_map *e, char *buf, size_t len);

/* Unique per parse and per set_root; caches key on it (pointers get reused). */
uint64_t proc_maps_id(const struct proc_maps *m);

/* "/proc/PID/map_files/START-END" of mapping e of process pid. 0, or -1 if buf is too small. */
int proc_map_files_path(uint32_t pid, const struct proc_map *e, char *buf, size_t len);

/* The text of /proc/PID/maps in a new NUL-terminated buffer (*len without
 * the NUL), or NULL if it cannot be read. */
/* A /proc text file read whole (NUL-terminated, malloc'd), or NULL. */
char *proc_text_read(const char *path, size_t *len);
char *proc_maps_read(uint32_t pid, size_t *len);

/* For each executable file mapping in a maps text of process pid, calls fn
 * with the mapping's path and the path to read it through (map_files). */
void proc_maps_for_each_code(uint32_t pid, const char *text, size_t len,
			     void (*fn)(void *ctx, const char *path, const char *via), void *ctx);

#endif
