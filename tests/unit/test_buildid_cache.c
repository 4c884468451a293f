/* test_buildid_cache.c - the build-id cache of --stacks: where a copy goes,
 * that it is whole and made once, that bad ids are refused, and which
 * mappings of a maps text are the code to keep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/buildid_cache.h"
#include "symbols/maps.h"
#include "test_files.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fl-bidc.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	strcat(dir, "/c"); /* not made yet: the cache makes its directories */
	setenv("FAULTLINE_BUILDID_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dir[strlen(dir) - 2] = 0;
	return run("rm -rf '%s'", dir);
}

static void test_path_layout(void **state)
{
	char path[4096];

	(void)state;
	assert_string_equal(buildid_cache_dir(), dir);
	assert_int_equal(buildid_cache_path("abcdef0123", path, sizeof(path)), 0);
	assert_non_null(strstr(path, "/ab/cdef0123"));
	assert_int_equal(strncmp(path, dir, strlen(dir)), 0);
	assert_int_equal(buildid_cache_path("ab", path, sizeof(path)), -1);      /* too short */
	assert_int_equal(buildid_cache_path("ab/../x", path, sizeof(path)), -1); /* not a build-id */
	assert_int_equal(buildid_cache_path("abcdef", path, 8), -1);             /* buffer too small */
}

static void test_copy_once_and_whole(void **state)
{
	char src[128], path[4096];
	char *data, *copy;
	size_t len, clen;
	struct stat st1, st2;

	(void)state;
	snprintf(src, sizeof(src), "/proc/%d/exe", (int)getpid()); /* this test binary: several MB */
	assert_int_equal(buildid_cache_add("00112233445566", src), 0);
	assert_int_equal(buildid_cache_path("00112233445566", path, sizeof(path)), 0);
	data = read_file(src, &len);
	copy = read_file(path, &clen);
	assert_non_null(data);
	assert_non_null(copy);
	assert_int_equal(len, clen);
	assert_memory_equal(data, copy, len);
	assert_int_equal(stat(path, &st1), 0);
	/* present: left as it is */
	assert_int_equal(buildid_cache_add("00112233445566", "/etc/hostname"), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_size, st2.st_size);
	/* a source that cannot be read: an error, and no file left behind */
	assert_int_equal(buildid_cache_add("99887766", "/nonexistent/file"), -1);
	assert_int_equal(buildid_cache_path("99887766", path, sizeof(path)), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	free(data);
	free(copy);
}

struct seen {
	char paths[8][256], vias[8][128];
	int n;
};

static void collect(void *ctx, const char *path, const char *via)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
		snprintf(s->vias[s->n++], sizeof(s->vias[0]), "%s", via);
	}
}

static void test_code_mappings(void **state)
{
	const char *maps =
		"555555554000-555555556000 r--p 00000000 08:01 100 /usr/bin/prog\n"
		"555555556000-555555558000 r-xp 00002000 08:01 100 /usr/bin/prog\n"
		"555555559000-55555557a000 rw-p 00000000 00:00 0 [heap]\n"
		"7ffff7dd3000-7ffff7f28000 r-xp 00026000 08:01 200 /lib/x86_64-linux-gnu/libc.so.6\n"
		"7ffff7fc1000-7ffff7fc5000 r-xp 00000000 00:00 0 [vdso]\n"
		"7ffff7fd0000-7ffff7fd1000 r-xp 00000000 08:01 300 /tmp/a b (deleted)\n"
		"7ffff7fe0000-7ffff7fe1000 rw-p 00000000 00:00 0\n"
		"garbage line";
	struct seen s = { .n = 0 };

	(void)state;
	proc_maps_for_each_code(42, maps, strlen(maps), collect, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.paths[0], "/usr/bin/prog");
	assert_string_equal(s.vias[0], "/proc/42/map_files/555555556000-555555558000");
	assert_string_equal(s.paths[1], "/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(s.paths[2], "/tmp/a b (deleted)");
	assert_string_equal(s.vias[2], "/proc/42/map_files/7ffff7fd0000-7ffff7fd1000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_layout),
		cmocka_unit_test(test_copy_once_and_whole),
		cmocka_unit_test(test_code_mappings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
