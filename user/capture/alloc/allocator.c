/* allocator.c - which object a process gets its malloc from, and the file
 * offsets of its entry points (ELF symbol tables read with libelf). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture/alloc/allocator.h"
#include "util/safe_file.h"

const char *const fl_func_names[FL_NFUNC] = {
	"malloc", "calloc", "realloc", "reallocarray", "free",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
};

const char *const fl_sys_names[FL_NSYS] = {
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
};

static int func_by_name(const char *name)
{
	for (int i = 0; i < FL_NFUNC; i++)
		if (strcmp(name, fl_func_names[i]) == 0)
			return i;
	return -1;
}

/* vaddr -> file offset through the PT_LOAD headers. */
static uint64_t vaddr_to_offset(Elf *elf, uint64_t vaddr)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static void scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct allocator *a)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; data && i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int f;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || (f = func_by_name(name)) < 0 || a->vaddr[f])
			continue;
		a->vaddr[f] = sym.st_value;
		a->offset[f] = vaddr_to_offset(elf, sym.st_value);
	}
}

/* Does this note section hold USDT notes of the provider "refalloc"? */
static bool has_refalloc_notes(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	const char *name;
	Elf_Data *data;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) || !(name = elf_strptr(elf, shstrndx, sh->sh_name)) ||
	    strcmp(name, ".note.stapsdt"))
		return false;
	data = elf_getdata(scn, NULL);
	return data && data->d_buf && memmem(data->d_buf, data->d_size, "refalloc", 9);
}

/* glibc's free starts with `test %rdi,%rdi; je <ret>`: a test must be
 * single-stepped by the kernel (about 13 µs a hit here), while the `push`
 * after it is emulated (about 1 µs). When free starts so, its probes go past
 * the test, and the free(NULL) path (the je target) gets a probe of its own,
 * so every call is still counted. */
static void place_free_probe(int fd, struct allocator *a)
{
	uint8_t code[16];
	int32_t rel;

	if (!a->offset[FL_FREE] || pread(fd, code, sizeof(code), a->offset[FL_FREE]) != sizeof(code))
		return;
	if (code[0] != 0x48 || code[1] != 0x85 || code[2] != 0xff)
		return;
	if (code[3] == 0x0f && code[4] == 0x84) {
		memcpy(&rel, code + 5, 4);
		a->free_skip = 9;
	} else if (code[3] == 0x74) {
		rel = (int8_t)code[4];
		a->free_skip = 5;
	} else {
		return;
	}
	a->free_null_offset = a->offset[FL_FREE] + a->free_skip + rel;
}

static void mark_aliases(struct allocator *a)
{
	a->nfuncs = 0;
	for (int i = 0; i < FL_NFUNC; i++) {
		a->alias_of[i] = -1;
		if (!a->offset[i])
			continue;
		a->nfuncs++;
		for (int j = 0; j < i; j++)
			if (a->offset[j] == a->offset[i] && a->alias_of[j] < 0) {
				a->alias_of[i] = j;
				break;
			}
	}
}

int allocator_scan(const char *path, struct allocator *a, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(a->shown, sizeof(a->shown), "%s", path);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	fd = sf_open_read(path, SF_MAX_OBJECT_BYTES, NULL);
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, sf_strerror(errno)), -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(fd);
		return -1;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)
			scan_symtab(elf, scn, &sh, a);
		else if (sh.sh_type == SHT_NOTE && has_refalloc_notes(elf, scn, &sh))
			a->usdt_refalloc = true;
	}
	elf_end(elf);
	place_free_probe(fd, a);
	close(fd);
	mark_aliases(a);
	return a->offset[FL_MALLOC] ? a->nfuncs : 0;
}

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
	while (pid > 0 && (n = read(pfd[0], buf + len, cap - len - 1)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
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
		return -1;
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

int resolve_command(const char *cmd, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char *dirs, *dir, *save = NULL;

	if (strchr(cmd, '/')) {
		snprintf(out, outlen, "%s", cmd);
		return access(cmd, F_OK) ? -1 : 0; /* exists: whether it runs is execve's to say */
	}
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return -1;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, outlen, "%s/%s", *dir ? dir : ".", cmd);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK)) {
			free(dirs);
			return 0;
		}
	}
	free(dirs);
	errno = ENOENT;
	return -1;
}

/* ---- a running process ---------------------------------------------------- */

struct mapped_object {
	char path[4096];      /* as /proc/PID/maps shows it */
	char via[128];        /* /proc/PID/map_files/START-END */
};

/* Distinct file-backed objects in /proc/PID/maps, in address order. */
static int mapped_objects(pid_t pid, struct mapped_object *objs, int max)
{
	char line[4352], path[64];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long start, end, ino;
		char file[4096] = "";
		bool seen = false;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu %4095[^\n]", &start, &end, &ino, file) < 4 ||
		    ino == 0 || file[0] != '/')
			continue;
		for (int i = 0; i < n && !seen; i++)
			seen = !strcmp(objs[i].path, file);
		if (seen)
			continue;
		snprintf(objs[n].path, sizeof(objs[n].path), "%s", file);
		snprintf(objs[n].via, sizeof(objs[n].via), "/proc/%d/map_files/%lx-%lx", pid, start, end);
		n++;
	}
	fclose(f);
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
