/* object.c - which object a process really gets its allocator from: for a
 * command about to be exec'd, the first object in symbol lookup order that
 * defines malloc (the executable, LD_PRELOAD, its libraries, as ld.so
 * --list gives them); for a running process, the objects it maps, ranked. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture/alloc/allocator.h"
#include "symbols/maps.h"
#include "util/safe_file.h"
#include "util/io.h"

/* PT_INTERP of an executable into out ("" when statically linked). */
static int elf_interp(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	int fd = sf_open_read(path, SF_MAX_OBJECT_BYTES, NULL), rc = -1;
	size_t n;
	Elf *elf;

	out[0] = 0;
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, sf_strerror(errno)), -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &n)) {
		snprintf(err, errlen, "%s: not an ELF executable", path);
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		char *raw;
		size_t rawlen;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(elf, &rawlen);
		if (raw && ph.p_offset + ph.p_filesz <= rawlen && ph.p_filesz < outlen)
			snprintf(out, outlen, "%.*s", (int)ph.p_filesz, raw + ph.p_offset);
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

/* Runs `INTERP --list EXE` (what ldd does: loads, runs no program code) and
 * returns its stdout in a malloc'd buffer. */
static char *loader_list(const char *interp, const char *exe)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (!buf || pipe2(pfd, O_CLOEXEC))
		return free(buf), NULL;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pfd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		execl(interp, interp, "--list", exe, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (pid > 0 && (n = io_read(pfd[0], buf + len, cap - len - 1)) != 0) {
		if (n < 0)
			break;
		len += n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				break;
			buf = nb;
		}
	}
	close(pfd[0]);
	buf[len] = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	return buf;
}

/* Each line of ld.so --list: "\tname => /path (0x...)" or "\t/path (0x...)". */
static int next_listed_path(char **cursor, char *out, size_t outlen)
{
	char *line, *p, *end;

	while ((line = strsep(cursor, "\n"))) {
		p = strstr(line, "=> ");
		p = p ? p + 3 : line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '/')
			continue;
		end = strstr(p, " (");
		if (end)
			*end = 0;
		snprintf(out, outlen, "%s", p);
		return 1;
	}
	return 0;
}

/* "#!/path/to/interp ..." at the start of a script: the interpreter's path. */
static bool script_interpreter(const char *path, char *out, size_t outlen)
{
	char line[512];
	int fd = sf_open_read(path, 0, NULL);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	bool found = false;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (fgets(line, sizeof(line), f) && line[0] == '#' && line[1] == '!') {
		char *p = line + 2;

		p += strspn(p, " \t");
		p[strcspn(p, " \t\n")] = 0;
		found = *p == '/';
		if (found)
			snprintf(out, outlen, "%s", p);
	}
	fclose(f);
	return found;
}

/* The candidate objects in symbol lookup order: what they are read
 * through, and their names for people. */
struct candidates {
	char (*via)[4096];
	char (*shown)[4096];
	int n, cap;
};

static void candidate_add(struct candidates *c, const char *via, const char *shown)
{
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		void *v = realloc(c->via, cap * sizeof(*c->via)), *s;

		if (!v)
			return;
		c->via = v;
		s = realloc(c->shown, cap * sizeof(*c->shown));
		if (!s)
			return;
		c->shown = s;
		c->cap = cap;
	}
	snprintf(c->via[c->n], sizeof(c->via[0]), "%s", via);
	snprintf(c->shown[c->n], sizeof(c->shown[0]), "%s", shown);
	c->n++;
}

/* Binds each entry point to the first candidate that defines it, as the
 * dynamic linker does, and keeps the objects that give some: malloc's
 * first, then the others in lookup order. 0, or -1 if none defines malloc. */
static int set_build(struct alloc_set *set, const struct candidates *c)
{
	struct allocator *scan = calloc(c->n ? c->n : 1, sizeof(*scan));
	int owner[FL_NFUNC], order[ALLOC_MAX_OBJECTS + 1], norder = 0;
	char err[256];

	memset(set, 0, sizeof(*set));
	if (!scan)
		return -1;
	for (int f = 0; f < FL_NFUNC; f++)
		owner[f] = -1;
	for (int i = 0; i < c->n; i++) {
		if (allocator_scan(c->via[i], &scan[i], err, sizeof(err)) <= 0)
			continue;
		for (int f = 0; f < FL_NFUNC; f++)
			if (owner[f] < 0 && scan[i].offset[f])
				owner[f] = i;
	}
	if (owner[FL_MALLOC] >= 0)
		order[norder++] = owner[FL_MALLOC];
	for (int i = 0; i < c->n && owner[FL_MALLOC] >= 0 && norder < ALLOC_MAX_OBJECTS; i++) {
		bool gives = false;

		for (int f = 0; f < FL_NFUNC; f++)
			gives |= owner[f] == i;
		if (gives && i != owner[FL_MALLOC])
			order[norder++] = i;
	}
	for (int k = 0; k < norder; k++) {
		struct allocator *a = &set->obj[set->n++];
		int i = order[k];

		*a = scan[i];
		for (int f = 0; f < FL_NFUNC; f++) {
			if (owner[f] != i) {
				a->offset[f] = 0; /* bound to another object */
				if (f == FL_FREE)
					a->free_skip = a->free_null_offset = 0;
			} else {
				set->used[f] = true;
			}
		}
		allocator_mark_aliases(a);
		snprintf(a->shown, sizeof(a->shown), "%s", c->shown[i]);
	}
	free(scan);
	return set->n ? 0 : -1;
}

static void candidates_free(struct candidates *c)
{
	free(c->via);
	free(c->shown);
}

int allocator_for_exec(const char *exe, struct alloc_set *set, char *err, size_t errlen)
{
	char interp[4096], lib[4096], script_interp[4096];
	struct candidates cands = { 0 };
	char *list, *cursor;
	int rc;

	memset(set, 0, sizeof(*set));
	if (script_interpreter(exe, script_interp, sizeof(script_interp)))
		exe = script_interp; /* a script: the allocator is its interpreter's */

	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	if (elf_interp(exe, interp, sizeof(interp), err, errlen))
		return ALLOCATOR_NOT_A_PROGRAM;
	candidate_add(&cands, exe, exe);
	if (interp[0]) {
		list = loader_list(interp, exe);
		if (!list) {
			candidates_free(&cands);
			return snprintf(err, errlen, "cannot list the libraries of %s", exe), -1;
		}
		cursor = list;
		while (next_listed_path(&cursor, lib, sizeof(lib)))
			if (strcmp(lib, interp) != 0)
				candidate_add(&cands, lib, lib);
		free(list);
	}
	rc = set_build(set, &cands);
	candidates_free(&cands);
	if (rc && !interp[0])
		return snprintf(err, errlen, "%s is statically linked and defines no malloc: no allocator to probe", exe), -1;
	if (rc)
		return snprintf(err, errlen, "no object loaded by %s defines malloc: no allocator to probe", exe), -1;
	return 0;
}

/* ---- a running process ---------------------------------------------------- */

struct mapped_object {
	char path[4096];      /* as /proc/PID/maps shows it */
	char via[128];        /* /proc/PID/map_files/START-END */
	int rank, order;      /* lookup_rank; place in the maps */
};

/* Distinct file-backed objects in /proc/PID/maps, in address order. */
static int mapped_objects(pid_t pid, struct mapped_object *objs, int max)
{
	size_t len;
	char *text = proc_maps_read((uint32_t)pid, &len);
	struct proc_maps *m = text ? proc_maps_parse(text, len) : NULL;
	int n = 0;

	free(text);
	if (!m)
		return -1;
	for (size_t i = 0; i < proc_maps_count(m) && n < max; i++) {
		const struct proc_map *e = proc_maps_at(m, i);
		bool seen = false;

		if (e->inode == 0 || e->path[0] != '/')
			continue;
		for (int k = 0; k < n && !seen; k++)
			seen = !strcmp(objs[k].path, e->path);
		if (seen || proc_map_files_path((uint32_t)pid, e, objs[n].via, sizeof(objs[n].via)))
			continue;
		snprintf(objs[n].path, sizeof(objs[n].path), "%s", e->path);
		n++;
	}
	proc_maps_free(m);
	return n;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Is the object mapped as o one the process's LD_PRELOAD names? Each
 * entry is looked up in the process's own root, and compared by device and
 * inode: a preload through a symlink (libtcmalloc_minimal.so.4, mapped as
 * .so.4.5.10) is the file it names. */
static bool is_preloaded(pid_t pid, const struct mapped_object *o)
{
	char path[64], env[65536], entry[4200];
	struct stat obj, st;
	ssize_t n;
	int fd;

	if (stat(o->via, &obj))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = io_read(fd, env, sizeof(env) - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = 0;
	for (char *p = env; p < env + n; p += strlen(p) + 1) {
		char *list, *save = NULL;

		if (strncmp(p, "LD_PRELOAD=", 11))
			continue;
		for (list = strtok_r(p + 11, " :", &save); list; list = strtok_r(NULL, " :", &save)) {
			if (list[0] == '/')
				snprintf(entry, sizeof(entry), "/proc/%d/root%s", pid, list);
			else if (strcmp(base_name(o->path), list))
				continue; /* a bare name: the loader's search, matched by name */
			else
				return true;
			if (!stat(entry, &st) && st.st_dev == obj.st_dev && st.st_ino == obj.st_ino)
				return true;
		}
	}
	return false;
}

/* Lower is preferred: 0 executable, 1 preloaded, 2 other, 3 libc. */
static int lookup_rank(pid_t pid, const struct mapped_object *o, const char *exe)
{
	if (!strcmp(o->path, exe))
		return 0;
	if (is_preloaded(pid, o))
		return 1;
	return strncmp(base_name(o->path), "libc.so", 7) ? 2 : 3;
}

static int compare_rank(const void *a, const void *b)
{
	const struct mapped_object *x = a, *y = b;

	return x->rank != y->rank ? x->rank - y->rank : x->order - y->order;
}

int allocator_for_pid(pid_t pid, struct alloc_set *set, char *err, size_t errlen)
{
	struct mapped_object *objs = calloc(256, sizeof(*objs));
	char exe_link[64], exe[4096] = "";
	struct candidates cands = { 0 };
	ssize_t len;
	int n;

	memset(set, 0, sizeof(*set));
	if (!objs)
		return snprintf(err, errlen, "out of memory"), -1;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		free(objs);
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	}
	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", pid);
	len = readlink(exe_link, exe, sizeof(exe) - 1);
	if (len > 0)
		exe[len] = 0;
	n = mapped_objects(pid, objs, 256);
	for (int i = 0; i < n; i++) {
		objs[i].rank = lookup_rank(pid, &objs[i], exe);
		objs[i].order = i;
	}
	if (n > 0)
		qsort(objs, n, sizeof(*objs), compare_rank);
	for (int i = 0; i < n; i++)
		candidate_add(&cands, objs[i].via, objs[i].path);
	set_build(set, &cands);
	candidates_free(&cands);
	free(objs);
	if (set->n == 0)
		return snprintf(err, errlen, "process %d maps no object that defines malloc: no allocator to probe",
				pid), -1;
	return 0;
}
