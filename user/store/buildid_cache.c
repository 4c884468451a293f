/* buildid_cache.c - owns the build-id cache of --stacks (see buildid_cache.h):
 * where it is, and copying an object into it atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/buildid_cache.h"

const char *buildid_cache_dir(void)
{
	static char dir[4096];
	const char *env = getenv("FAULTLINE_BUILDID_DIR"), *home = getenv("HOME");

	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s", env && *env ? env : "");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/.cache/faultline/build-id", home && *home ? home : "/root");
	return dir;
}

int buildid_cache_path(const char *id, char *buf, size_t len)
{
	int n;

	if (strlen(id) < 3 || strchr(id, '/'))
		return -1;
	n = snprintf(buf, len, "%s/%.2s/%s", buildid_cache_dir(), id, id + 2);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		goto done;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			goto done;
	rc = n == 0 ? 0 : -1;
done:
	if (out >= 0 && close(out))
		rc = -1;
	close(in);
	return rc;
}

int buildid_cache_add(const char *id, const char *src)
{
	char dst[4096], tmp[4200];
	struct stat st;

	if (buildid_cache_path(id, dst, sizeof(dst)))
		return -1;
	if (stat(dst, &st) == 0)
		return 0;
	if (make_parents(dst))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dst, (int)getpid());
	if (copy_file(src, tmp) || rename(tmp, dst)) {
		unlink(tmp); /* a full disk leaves no partial object behind */
		return -1;
	}
	return 0;
}
