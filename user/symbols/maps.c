/* maps.c - owns the one parser of /proc/PID/maps text (see maps.h): one
 * array of struct proc_map sorted by start, all paths in one string buffer,
 * lookups by binary search; and the helpers every layer uses on a live
 * process's maps (reading them, /proc/PID/map_files paths). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbols/maps.h"
#include "util/io.h"


struct proc_maps {
	struct proc_map *maps; /* sorted by start */
	size_t count;
	char *paths;           /* the paths, NUL-terminated, one after another */
	char *root;            /* prefix for opening files, or NULL */
	uint64_t id;
};

static uint64_t next_maps_id(void)
{
	static uint64_t last_id;

	return __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
}

/* A cursor over one line of maps text. */
struct line_cursor {
	const char *p, *end;
};

static bool parse_hex(struct line_cursor *c, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	for (; c->p < c->end && digits < 16; c->p++, digits++) {
		char ch = *c->p;
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
			ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			break;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return digits > 0;
}

static bool parse_dec(struct line_cursor *c, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	for (; c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 19; c->p++, digits++)
		v = v * 10 + (uint64_t)(*c->p - '0');
	*out = v;
	return digits > 0;
}

static bool expect_char(struct line_cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static void skip_spaces(struct line_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* "start-end perms offset major:minor inode   path". On success the path is
 * what is left in c. */
static bool parse_map_line(struct line_cursor *c, struct proc_map *e)
{
	uint64_t major, minor;

	if (!parse_hex(c, &e->start) || !expect_char(c, '-') || !parse_hex(c, &e->end) ||
	    !expect_char(c, ' ') || c->end - c->p < 5)
		return false;
	memcpy(e->perms, c->p, 4);
	e->perms[4] = '\0';
	c->p += 4;
	if (!expect_char(c, ' ') || !parse_hex(c, &e->offset) || !expect_char(c, ' ') ||
	    !parse_hex(c, &major) || !expect_char(c, ':') || !parse_hex(c, &minor) ||
	    !expect_char(c, ' ') || !parse_dec(c, &e->inode))
		return false;
	if (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		return false;
	skip_spaces(c);
	while (c->end > c->p && (c->end[-1] == ' ' || c->end[-1] == '\r'))
		c->end--;
	return e->start < e->end;
}

static int compare_map_start(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t lines = 1;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	return lines;
}

/* Parses every line into m (allocated for count_lines entries). */
static void parse_all_lines(struct proc_maps *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	char *path_out = m->paths;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct line_cursor c = { p, eol ? eol : end };
		struct proc_map *e = &m->maps[m->count];

		p = eol ? eol + 1 : end;
		memset(e, 0, sizeof(*e));
		if (!parse_map_line(&c, e))
			continue;
		memcpy(path_out, c.p, (size_t)(c.end - c.p));
		e->path = path_out;
		path_out += c.end - c.p;
		*path_out++ = '\0';
		m->count++;
	}
}

struct proc_maps *proc_maps_parse(const char *text, size_t len)
{
	struct proc_maps *m = calloc(1, sizeof(*m));
	size_t lines = text ? count_lines(text, len) : 0;

	if (!m)
		return NULL;
	m->id = next_maps_id();
	if (lines == 0)
		return m;
	m->maps = calloc(lines, sizeof(*m->maps));
	m->paths = malloc(len + lines);
	if (!m->maps || !m->paths) {
		proc_maps_free(m);
		return NULL;
	}
	parse_all_lines(m, text, len);
	qsort(m->maps, m->count, sizeof(*m->maps), compare_map_start);
	return m;
}

void proc_maps_free(struct proc_maps *m)
{
	if (!m)
		return;
	free(m->maps);
	free(m->paths);
	free(m->root);
	free(m);
}

int proc_maps_set_root(struct proc_maps *m, const char *root_prefix)
{
	char *root = NULL;

	if (root_prefix && *root_prefix && !(root = strdup(root_prefix)))
		return -1;
	free(m->root);
	m->root = root;
	m->id = next_maps_id();
	return 0;
}

size_t proc_maps_count(const struct proc_maps *m)
{
	return m->count;
}

const struct proc_map *proc_maps_at(const struct proc_maps *m, size_t i)
{
	return i < m->count ? &m->maps[i] : NULL;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->count; /* the answer is the last entry with start <= addr */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->maps[lo - 1].end)
		return NULL;
	return &m->maps[lo - 1];
}

int proc_maps_file_path(const struct proc_maps *m, const struct proc_map *e, char *buf, size_t len)
{
	static const char deleted[] = " (deleted)";
	size_t path_len = strlen(e->path), root_len = m->root ? strlen(m->root) : 0;

	if (e->path[0] != '/')
		return -1;
	if (path_len > sizeof(deleted) - 1 &&
	    strcmp(e->path + path_len - (sizeof(deleted) - 1), deleted) == 0)
		path_len -= sizeof(deleted) - 1;
	if (root_len + path_len + 1 > len)
		return -1;
	memcpy(buf, m->root ? m->root : "", root_len);
	memcpy(buf + root_len, e->path, path_len);
	buf[root_len + path_len] = '\0';
	return 0;
}

uint64_t proc_maps_id(const struct proc_maps *m)
{
	return m->id;
}

int proc_map_files_path(uint32_t pid, const struct proc_map *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/%u/map_files/%llx-%llx", pid, (unsigned long long)e->start,
			 (unsigned long long)e->end);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

char *proc_maps_read(uint32_t pid, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	return proc_text_read(path, len);
}

char *proc_text_read(const char *path, size_t *len)
{
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (*len + 4096 > cap) {
			char *nt = realloc(text, cap = cap ? cap * 2 : 16384);

			if (!nt)
				break;
			text = nt;
		}
		n = io_read(fd, text + *len, cap - *len - 1);
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	if (text)
		text[*len] = '\0';
	return text;
}

void proc_maps_for_each_code(uint32_t pid, const char *text, size_t len,
			     void (*fn)(void *ctx, const char *path, const char *via), void *ctx)
{
	struct proc_maps *m = proc_maps_parse(text, len);
	char via[128];

	for (size_t i = 0; m && i < proc_maps_count(m); i++) {
		const struct proc_map *e = proc_maps_at(m, i);

		if (e->perms[2] != 'x' || e->path[0] != '/' || proc_map_files_path(pid, e, via, sizeof(via)))
			continue;
		fn(ctx, e->path, via);
	}
	proc_maps_free(m);
}
