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
#include "util/io.h"

/* PT_INTERP of an executable into out ("" when statically linked). */
static int elf_interp(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	size_t n;
	Elf *elf;

	out[0] = 0;
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)), -1;
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
	FILE *f = fopen(path, "re");
	bool found = false;

	if (!f)
		return false;
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

int allocator_for_exec(const char *exe, struct allocator *a, char *err, size_t errlen)
{
	char interp[4096], lib[4096], script_interp[4096];
	char *list, *cursor;
	int n;

	if (script_interpreter(exe, script_interp, sizeof(script_interp)))
		exe = script_interp; /* a script: the allocator is its interpreter's */

	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	if (elf_interp(exe, interp, sizeof(interp), err, errlen))
		return ALLOCATOR_NOT_A_PROGRAM;
	n = allocator_scan(exe, a, err, errlen);
	if (n < 0)
		return -1;
	if (n > 0 || !interp[0]) {
		if (n == 0)
			return snprintf(err, errlen, "%s is statically linked and defines no malloc: no allocator to probe", exe), -1;
		return 0;
	}
	list = loader_list(interp, exe);
	if (!list)
		return snprintf(err, errlen, "cannot list the libraries of %s", exe), -1;
	cursor = list;
	while (next_listed_path(&cursor, lib, sizeof(lib))) {
		if (strcmp(lib, interp) == 0)
			continue;
		if (allocator_scan(lib, a, err, errlen) > 0) {
			free(list);
			return 0;
		}
	}
	free(list);
	return snprintf(err, errlen, "no object loaded by %s defines malloc: no allocator to probe", exe), -1;
}

/* ---- a running process ---------------------------------------------------- */

struct mapped_object {
	char path[4096];      /* as /proc/PID/maps shows it */
	char via[128];        /* /proc/PID/map_files/START-END */
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

/* Is obj named in the process's LD_PRELOAD? */
static bool is_preloaded(pid_t pid, const char *obj)
{
	char path[64], env[65536];
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, env, sizeof(env) - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = 0;
	for (char *p = env; p < env + n; p += strlen(p) + 1)
		if (!strncmp(p, "LD_PRELOAD=", 11) && strstr(p + 11, base_name(obj)))
			found = true;
	return found;
}

/* Lower is preferred: 0 executable, 1 preloaded, 2 other, 3 libc. */
static int lookup_rank(pid_t pid, const struct mapped_object *o, const char *exe)
{
	if (!strcmp(o->path, exe))
		return 0;
	if (is_preloaded(pid, o->path))
		return 1;
	return strncmp(base_name(o->path), "libc.so", 7) ? 2 : 3;
}

int allocator_for_pid(pid_t pid, struct allocator *a, char *err, size_t errlen)
{
	struct mapped_object *objs = calloc(256, sizeof(*objs));
	char exe_link[64], exe[4096] = "";
	int n, best = -1, best_rank = 99;
	ssize_t len;

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
		int rank = lookup_rank(pid, &objs[i], exe);
		char e2[256];

		if (rank < best_rank && allocator_scan(objs[i].via, a, e2, sizeof(e2)) > 0) {
			best = i;
			best_rank = rank;
		}
	}
	if (best < 0) {
		free(objs);
		return snprintf(err, errlen, "process %d maps no object that defines malloc: no allocator to probe",
				pid), -1;
	}
	allocator_scan(objs[best].via, a, err, errlen);
	snprintf(a->shown, sizeof(a->shown), "%s", objs[best].path);
	free(objs);
	return 0;
}
