/* buildid_cache.c - owns the build-id cache of --stacks (see buildid_cache.h):
 * where it is and whether it may be trusted, copying an object into it
 * safely (no link followed, O_EXCL temporary file, renamed when whole),
 * and its size bounds with the oldest-first prune. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store/buildid_cache.h"
#include "util/safe_file.h"

static char cache_dir[4096];
static int cache_fd = -2; /* -2: not opened yet; -1: refused or failed */
static char cache_err[4300];
static uint64_t max_object = BUILDID_CACHE_MAX_OBJECT, max_total = BUILDID_CACHE_MAX_TOTAL;

const char *buildid_cache_dir(void)
{
	const char *env = getenv("FAULTLINE_BUILDID_DIR"), *home = getenv("HOME");

	if (cache_dir[0])
		return cache_dir;
	if (env && *env)
		snprintf(cache_dir, sizeof(cache_dir), "%s", env);
	else if (geteuid() == 0) /* root's cache is root's: never a sudo -E user's $HOME */
		snprintf(cache_dir, sizeof(cache_dir), "%s", BUILDID_CACHE_ROOT_DIR);
	else
		snprintf(cache_dir, sizeof(cache_dir), "%s/.cache/faultline/build-id",
			 home && *home ? home : "/nonexistent");
	return cache_dir;
}

void buildid_cache_set_limits(uint64_t per_object, uint64_t total)
{
	max_object = per_object;
	max_total = total;
}

uint64_t buildid_cache_max_object(void)
{
	return max_object;
}

void buildid_cache_reset(void)
{
	if (cache_fd >= 0)
		close(cache_fd);
	cache_fd = -2;
	cache_dir[0] = 0;
	cache_err[0] = 0;
	max_object = BUILDID_CACHE_MAX_OBJECT;
	max_total = BUILDID_CACHE_MAX_TOTAL;
}

int buildid_cache_path(const char *id, char *buf, size_t len)
{
	int n;

	if (strlen(id) < 3 || strspn(id, "0123456789abcdef") != strlen(id))
		return -1;
	n = snprintf(buf, len, "%s/%.2s/%s", buildid_cache_dir(), id, id + 2);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A directory of the cache may be trusted: ours, and no one else may write in it. */
static int check_dir(int fd, const char *shown)
{
	struct stat st;

	if (fstat(fd, &st))
		return snprintf(cache_err, sizeof(cache_err), "build-id cache %s: %s", shown, strerror(errno)), -1;
	if (st.st_uid != geteuid())
		return snprintf(cache_err, sizeof(cache_err), "build-id cache %s is owned by uid %u, not by uid %u: "
				"not used", shown, (unsigned)st.st_uid, (unsigned)geteuid()), -1;
	if (st.st_mode & 022)
		return snprintf(cache_err, sizeof(cache_err), "build-id cache %s is writable by %s (mode %04o): "
				"not used", shown, st.st_mode & 002 ? "everyone" : "its group",
				(unsigned)(st.st_mode & 07777)), -1;
	return 0;
}

const char *buildid_cache_error(void)
{
	return cache_err;
}

int buildid_cache_open(void)
{
	const char *dir = buildid_cache_dir();

	if (cache_fd != -2)
		return cache_fd >= 0 ? 0 : -1;
	cache_fd = sf_open_dir(dir, 0700);
	if (cache_fd < 0) {
		snprintf(cache_err, sizeof(cache_err), "cannot open the build-id cache %s: %s", dir,
			 sf_strerror(errno));
		return -1;
	}
	if (check_dir(cache_fd, dir)) {
		close(cache_fd);
		cache_fd = -1;
		return -1;
	}
	return 0;
}

/* The cache's subdirectory xx (made if missing), checked like the cache. */
static int open_subdir(const char *id)
{
	char sub[3] = { id[0], id[1], 0 }, shown[4200];
	int fd;

	if (mkdirat(cache_fd, sub, 0700) && errno != EEXIST)
		return -1;
	fd = openat(cache_fd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(shown, sizeof(shown), "%s/%s", cache_dir, sub);
	if (check_dir(fd, shown)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Copies in to out, at most limit bytes (more is an error: EFBIG); runs of
 * zeros become holes, so a sparse object stays sparse. */
static int copy_bounded(int in, int out, uint64_t limit)
{
	static char buf[65536], zero[65536];
	uint64_t done = 0;
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if ((done += (uint64_t)n) > limit)
			return errno = EFBIG, -1;
		if (!memcmp(buf, zero, (size_t)n)) {
			if (lseek(out, n, SEEK_CUR) < 0)
				return -1;
		} else if (write(out, buf, (size_t)n) != n) {
			return -1;
		}
	}
	if (n < 0 || ftruncate(out, (off_t)done))
		return -1;
	return 0;
}

struct cached {
	int sub;
	char name[256];
	struct timespec mtime;
	uint64_t bytes;
};

static int by_age(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

/* Removes the oldest objects until the cache holds at most max_total bytes;
 * keep (in subdirectory keep_sub) is the one just added and stays. */
static void prune(const char *keep_sub, const char *keep)
{
	struct cached *list = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	int rfd = openat(cache_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *top = rfd >= 0 ? fdopendir(rfd) : NULL;
	struct dirent *de;
	time_t now = time(NULL);

	if (!top) {
		if (rfd >= 0)
			close(rfd);
		return;
	}
	while ((de = readdir(top))) {
		int sfd;
		DIR *sd;
		struct dirent *oe;

		if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2)
			continue;
		sfd = openat(cache_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sd = sfd >= 0 ? fdopendir(sfd) : NULL;
		if (!sd) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		while ((oe = readdir(sd))) {
			struct stat st;

			if (oe->d_name[0] == '.' && (!oe->d_name[1] || !strcmp(oe->d_name, "..")))
				continue;
			if (fstatat(dirfd(sd), oe->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
				continue;
			if (!strncmp(oe->d_name, ".tmp.", 5)) {
				if (now - st.st_mtime > 3600)
					unlinkat(dirfd(sd), oe->d_name, 0);
				continue;
			}
			total += (uint64_t)st.st_blocks * 512;
			if (!strcmp(de->d_name, keep_sub) && !strcmp(oe->d_name, keep))
				continue;
			if (n == cap) {
				struct cached *nl = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof(*list));

				if (!nl)
					break;
				list = nl;
			}
			list[n].sub = (int)strtol(de->d_name, NULL, 16);
			snprintf(list[n].name, sizeof(list[n].name), "%s", oe->d_name);
			list[n].mtime = st.st_mtim;
			list[n++].bytes = (uint64_t)st.st_blocks * 512;
		}
		closedir(sd);
	}
	closedir(top);
	if (n)
		qsort(list, n, sizeof(*list), by_age);
	for (size_t i = 0; i < n && total > max_total; i++) {
		char sub[3];
		int sfd;

		snprintf(sub, sizeof(sub), "%02x", list[i].sub);
		sfd = openat(cache_fd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd >= 0 && unlinkat(sfd, list[i].name, 0) == 0)
			total -= list[i].bytes;
		if (sfd >= 0)
			close(sfd);
	}
	free(list);
}

int buildid_cache_add(const char *id, const char *src)
{
	char path[4096], tmp[32], hex[17];
	const char *rest = id + 2;
	struct stat st;
	int sub, in, out, rc = -1, e;

	if (buildid_cache_path(id, path, sizeof(path)))
		return errno = EINVAL, -1;
	if (buildid_cache_open())
		return errno = EPERM, -1;
	sub = open_subdir(id);
	if (sub < 0)
		return -1;
	if (fstatat(sub, rest, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* present: used again, so the prune keeps it longer */
		utimensat(sub, rest, NULL, AT_SYMLINK_NOFOLLOW);
		close(sub);
		return 0;
	}
	in = sf_open_read(src, 0, &st);
	if (in < 0)
		goto out_sub;
	if ((uint64_t)st.st_size > max_object) {
		close(in);
		close(sub);
		return BUILDID_CACHE_TOO_LARGE;
	}
	for (int tries = 0;; tries++) {
		sf_random_hex(hex, 16);
		snprintf(tmp, sizeof(tmp), ".tmp.%s", hex);
		out = openat(sub, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (out >= 0 || errno != EEXIST || tries > 8)
			break;
	}
	if (out < 0) {
		close(in);
		goto out_sub;
	}
	rc = copy_bounded(in, out, max_object);
	e = errno;
	close(in);
	if (close(out) && rc == 0)
		rc = -1, e = errno;
	/* in place only once whole; one already there (another faultline) stays */
	if (rc == 0 && renameat2(sub, tmp, sub, rest, RENAME_NOREPLACE) && errno != EEXIST)
		rc = -1, e = errno;
	unlinkat(sub, tmp, 0); /* a full disk leaves no partial object behind */
	if (rc == 0)
		prune((char[3]){ id[0], id[1], 0 }, rest);
	close(sub);
	errno = e;
	return rc;
out_sub:
	e = errno;
	close(sub);
	errno = e;
	return -1;
}
