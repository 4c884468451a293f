/* safe_file.c - opening files safely as root (see safe_file.h): regular
 * files only for reading, opened through an O_PATH fd so that a device or a
 * FIFO is never opened at all; for writing, directories walked with
 * O_NOFOLLOW from a trusted start, trusted symbolic links resolved by hand,
 * a temporary file made with O_EXCL and renamed into place when whole. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "util/safe_file.h"

#define SF_MAX_LINKS 40

const char *sf_strerror(int e)
{
	if (e == SF_ENOTREG)
		return "not a regular file";
	if (e == ELOOP)
		return "a symbolic link on the way is not owned by root (not followed)";
	return strerror(e);
}

bool sf_trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

void sf_random_hex(char *buf, size_t n)
{
	unsigned char r[32];
	size_t got = 0;

	while (got < n) {
		size_t want = (n - got + 1) / 2 > sizeof(r) ? sizeof(r) : (n - got + 1) / 2;
		ssize_t k = getrandom(r, want, 0);

		if (k <= 0) { /* no entropy source: the time and pid still vary */
			unsigned long long v = (unsigned long long)getpid() * 2654435761u ^ (unsigned long long)time(NULL);

			for (size_t i = 0; i < want; i++)
				r[i] = (unsigned char)(v >> (i % 8 * 8)) ^ (unsigned char)(i * 37 + got);
			k = (ssize_t)want;
		}
		for (ssize_t i = 0; i < k && got < n; i++) {
			buf[got++] = "0123456789abcdef"[r[i] >> 4];
			if (got < n)
				buf[got++] = "0123456789abcdef"[r[i] & 15];
		}
	}
	buf[n] = 0;
}

/* ---- reading ---- */

static bool pseudo_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return true;
	switch ((unsigned long)sfs.f_type) {
	case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC: case BPF_FS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

int sf_open_read_at(int dirfd, const char *name, int extra_flags, off_t max_size, struct stat *out)
{
	char self[64];
	struct stat st, st2;
	int pfd, fd, e;

	pfd = openat(dirfd, name, O_PATH | O_CLOEXEC | (extra_flags & O_NOFOLLOW));
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st)) {
		e = errno;
		goto fail_e;
	}
	if (!S_ISREG(st.st_mode) || pseudo_fs(pfd)) {
		e = SF_ENOTREG;
		goto fail_e;
	}
	if (max_size > 0 && st.st_size > max_size) {
		e = EFBIG;
		goto fail_e;
	}
	/* reopened through the checked O_PATH fd: the same file, never a swapped one */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) /* no /proc: the regular file checked above, by name */
		fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (extra_flags & O_NOFOLLOW));
	if (fd < 0) {
		e = errno;
		goto fail_e;
	}
	close(pfd);
	if (fstat(fd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || !S_ISREG(st2.st_mode)) {
		close(fd);
		errno = SF_ENOTREG;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (out)
		*out = st2;
	return fd;
fail_e:
	close(pfd);
	errno = e;
	return -1;
}

int sf_open_read(const char *path, off_t max_size, struct stat *st)
{
	return sf_open_read_at(AT_FDCWD, path, 0, max_size, st);
}

/* ---- walking directories ---- */

static int walk(int from, const char *path, mode_t mode, int *links);

/* The directory name in cur (a trusted link followed): a new fd or -1. */
static int step(int cur, const char *name, mode_t mode, int *links)
{
	struct stat st;
	char target[4096];
	ssize_t n;

	if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT || !mode)
			return -1;
		if (mkdirat(cur, name, mode) && errno != EEXIST)
			return -1;
		if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW))
			return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		if (!sf_trusted_owner(st.st_uid) || ++*links > SF_MAX_LINKS)
			return errno = ELOOP, -1;
		n = readlinkat(cur, name, target, sizeof(target) - 1);
		if (n <= 0)
			return n == 0 ? (errno = ENOENT, -1) : -1;
		target[n] = 0;
		return walk(cur, target, mode, links);
	}
	if (!S_ISDIR(st.st_mode))
		return errno = ENOTDIR, -1;
	/* a directory swapped for a link since the fstatat fails here */
	return openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Walks every component of path from from (or / when absolute). */
static int walk(int from, const char *path, mode_t mode, int *links)
{
	char comp[256];
	int cur = path[0] == '/' ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
				 : openat(from, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	while (cur >= 0 && *path) {
		size_t len;
		int next, e;

		while (*path == '/')
			path++;
		len = strcspn(path, "/");
		if (len == 0)
			break;
		if (len >= sizeof(comp)) {
			close(cur);
			return errno = ENAMETOOLONG, -1;
		}
		memcpy(comp, path, len);
		comp[len] = 0;
		path += len;
		if (!strcmp(comp, "."))
			continue;
		next = step(cur, comp, mode, links);
		e = errno;
		close(cur);
		errno = e;
		cur = next;
	}
	return cur;
}

int sf_open_dir(const char *path, mode_t mode)
{
	int links = 0;

	return walk(AT_FDCWD, path, mode, &links);
}

/* ---- writing ---- */

/* Splits path into a new fd of its directory (walked) and its last name. */
static int split_walk(int from, const char *path, char *name, size_t namelen, int *links)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[4096];
	int fd;

	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return errno = EISDIR, -1;
	if (strlen(base) >= namelen)
		return errno = ENAMETOOLONG, -1;
	if (slash) {
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);

		if (dlen >= sizeof(dir))
			return errno = ENAMETOOLONG, -1;
		memcpy(dir, path, dlen);
		dir[dlen] = 0;
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	fd = walk(from, dir, 0, links);
	if (fd >= 0)
		snprintf(name, namelen, "%s", base);
	return fd;
}

static int make_temp(struct sf_out *o)
{
	char hex[17];

	for (int tries = 0; tries < 16; tries++) {
		sf_random_hex(hex, 16);
		snprintf(o->tmp, sizeof(o->tmp), ".%.200s.%s.tmp", o->name, hex);
		o->fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			       0600);
		if (o->fd >= 0 || errno != EEXIST)
			return o->fd < 0 ? -1 : 0;
	}
	return errno = EEXIST, -1;
}

/* An existing device or FIFO the target names (fd already open on it). */
static int take_direct(struct sf_out *o, int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	close(o->dirfd);
	o->dirfd = -1;
	o->fd = fd;
	o->direct = true;
	return 0;
}

/* o->dirfd and o->name are set: decides what writing there means. */
static int resolve_last(struct sf_out *o, int *links)
{
	char target[4096];
	struct stat st;
	ssize_t n;
	int fd, e;

	if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			return -1;
		return make_temp(o);
	}
	if (S_ISREG(st.st_mode))
		return make_temp(o);
	if (S_ISDIR(st.st_mode))
		return errno = EISDIR, -1;
	if (!sf_trusted_owner(st.st_uid))
		return errno = S_ISLNK(st.st_mode) ? ELOOP : SF_ENOTREG, -1;
	if (!S_ISLNK(st.st_mode)) { /* a device or FIFO of root's */
		if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
			return errno = SF_ENOTREG, -1;
		fd = openat(o->dirfd, o->name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		return fd < 0 ? -1 : take_direct(o, fd);
	}
	if (++*links > SF_MAX_LINKS)
		return errno = ELOOP, -1;
	/* a trusted link to a device or pipe (/dev/stdout, /dev/fd/N) is written through */
	fd = openat(o->dirfd, o->name, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat ft;

		if (fstat(fd, &ft) == 0 && !S_ISREG(ft.st_mode) && !S_ISDIR(ft.st_mode)) {
			if (S_ISFIFO(ft.st_mode) && !sf_trusted_owner(ft.st_uid)) { /* a user's FIFO on the way */
				close(fd);
				return errno = SF_ENOTREG, -1;
			}
			return take_direct(o, fd);
		}
		close(fd);
	}
	/* else the link is resolved by hand, and its target replaced like a file */
	n = readlinkat(o->dirfd, o->name, target, sizeof(target) - 1);
	if (n <= 0)
		return n == 0 ? (errno = ENOENT, -1) : -1;
	target[n] = 0;
	fd = split_walk(o->dirfd, target, o->name, sizeof(o->name), links);
	e = errno;
	close(o->dirfd);
	o->dirfd = fd;
	if (fd < 0)
		return errno = e, -1;
	return resolve_last(o, links);
}

int sf_out_open(struct sf_out *o, const char *path)
{
	int links = 0, e;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->dirfd = split_walk(AT_FDCWD, path, o->name, sizeof(o->name), &links);
	if (o->dirfd < 0)
		return -1;
	if (resolve_last(o, &links) == 0)
		return 0;
	e = errno;
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->dirfd = -1;
	errno = e;
	return -1;
}

/* fd already closed (or -1): renames the temporary file into place. */
static int rename_into_place(struct sf_out *o, int rc)
{
	int e = errno;

	if (o->direct) {
		o->direct = false;
		return rc;
	}
	if (o->dirfd < 0)
		return rc;
	if (o->published) {
		close(o->dirfd);
		o->dirfd = -1;
		errno = e;
		return rc;
	}
	if (rc == 0 && renameat(o->dirfd, o->tmp, o->dirfd, o->name) != 0) {
		e = errno;
		rc = -1;
	}
	if (rc != 0)
		unlinkat(o->dirfd, o->tmp, 0);
	close(o->dirfd);
	o->dirfd = -1;
	errno = e;
	return rc;
}

int sf_out_commit(struct sf_out *o)
{
	int rc = 0;

	if (o->fd >= 0) {
		if (!o->direct && fsync(o->fd) && errno != EINVAL && errno != EROFS)
			rc = -1;
		if (close(o->fd) && rc == 0)
			rc = -1;
		o->fd = -1;
	}
	return rename_into_place(o, rc);
}

int sf_out_publish(struct sf_out *o)
{
	if (o->direct || o->published || o->dirfd < 0)
		return 0;
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->name))
		return -1;
	o->published = true;
	return 0;
}

void sf_out_abort(struct sf_out *o)
{
	int e = errno;

	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	rename_into_place(o, -1);
	errno = e;
}

FILE *sf_fopen_out(const char *path, struct sf_out *o)
{
	FILE *f;

	if (!path || !strcmp(path, "-")) {
		memset(o, 0, sizeof(*o));
		o->fd = -1;
		o->dirfd = -1;
		return stdout;
	}
	if (sf_out_open(o, path))
		return NULL;
	f = fdopen(o->fd, "w");
	if (!f)
		sf_out_abort(o);
	return f;
}

int sf_fclose(FILE *f, struct sf_out *o, bool ok)
{
	int rc = 0, e = 0;

	if (f == stdout)
		return 0; /* stdout is checked once, at exit (cmd/main.c) */
	if (fflush(f) || ferror(f))
		rc = -1, e = errno ? errno : EIO;
	if (ok && rc == 0 && !o->direct && fsync(fileno(f)) && errno != EINVAL && errno != EROFS)
		rc = -1, e = errno;
	if (fclose(f) && rc == 0)
		rc = -1, e = errno;
	o->fd = -1;
	errno = e;
	return rename_into_place(o, ok ? rc : -1);
}
