/* test_safe_file.c - util/safe_file: reading refuses FIFOs (without
 * blocking), devices, directories, /proc files and files over the bound;
 * writing follows no link that root does not own (at the file or in its
 * path), replaces the target only on commit, leaves it as it was on abort,
 * makes files of mode 0600, and writes devices directly. The link owner
 * cases chown links to uid 65534 and need root (else skipped). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/safe_file.h"
#include "test_files.h"

static char dir[64];

static const char *at(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fl-safe.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return run("rm -rf '%s'", dir);
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static void on_alarm(int sig)
{
	(void)sig;
	fail_msg("sf_open_read blocked");
}

static void test_read_regular_only(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	spit(at("plain"), "hello");
	fd = sf_open_read(at("plain"), 0, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* handed out blocking */
	close(fd);

	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(5);
	errno = 0;
	assert_int_equal(sf_open_read(at("fifo"), 0, NULL), -1); /* no writer: would block forever */
	alarm(0);
	assert_int_equal(errno, SF_ENOTREG);
	assert_string_equal(sf_strerror(errno), "not a regular file");

	errno = 0;
	assert_int_equal(sf_open_read("/dev/zero", 0, NULL), -1);
	assert_int_equal(errno, SF_ENOTREG);
	errno = 0;
	assert_int_equal(sf_open_read(dir, 0, NULL), -1);
	assert_int_equal(errno, SF_ENOTREG);
	errno = 0;
	assert_int_equal(sf_open_read("/proc/self/status", 0, NULL), -1); /* regular, but of /proc */
	assert_int_equal(errno, SF_ENOTREG);
	errno = 0;
	assert_int_equal(sf_open_read(at("plain"), 4, NULL), -1);
	assert_int_equal(errno, EFBIG);
	errno = 0;
	assert_int_equal(sf_open_read(at("missing"), 0, NULL), -1);
	assert_int_equal(errno, ENOENT);
	/* a link is fine for reading (the file it names is checked) */
	assert_int_equal(symlink(at("plain"), at("rlink")), 0);
	fd = sf_open_read(at("rlink"), 0, NULL);
	assert_true(fd >= 0);
	close(fd);
}

static void test_out_commit_and_abort(void **state)
{
	struct sf_out o;
	struct stat st;
	FILE *f;

	(void)state;
	spit(at("target"), "old");
	chmod(at("target"), 0644);
	assert_int_equal(sf_out_open(&o, at("target")), 0);
	assert_int_equal(write(o.fd, "new", 3), 3);
	assert_string_equal(slurp(at("target")), "old"); /* not yet */
	sf_out_abort(&o);
	assert_string_equal(slurp(at("target")), "old");
	assert_int_equal(run("test -z \"$(ls -A '%s' | grep '^\\.target\\.')\"", dir), 0);

	assert_int_equal(sf_out_open(&o, at("target")), 0);
	assert_int_equal(write(o.fd, "new", 3), 3);
	assert_int_equal(sf_out_commit(&o), 0);
	assert_string_equal(slurp(at("target")), "new");
	assert_int_equal(stat(at("target"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	f = sf_fopen_out(at("viafile"), &o);
	assert_non_null(f);
	fputs("text", f);
	assert_int_equal(access(at("viafile"), F_OK), -1);
	assert_int_equal(sf_fclose(f, &o, true), 0);
	assert_string_equal(slurp(at("viafile")), "text");
	f = sf_fopen_out(at("viafile"), &o);
	assert_non_null(f);
	fputs("other", f);
	assert_int_equal(sf_fclose(f, &o, false), -1); /* not ok: the old one stays */
	assert_string_equal(slurp(at("viafile")), "text");

	/* a directory, a missing folder */
	assert_int_equal(sf_out_open(&o, dir), -1);
	assert_int_equal(sf_out_open(&o, at("nodir/x")), -1);
	assert_int_equal(errno, ENOENT);
	/* a device is written directly */
	assert_int_equal(sf_out_open(&o, "/dev/null"), 0);
	assert_true(o.direct);
	assert_int_equal(write(o.fd, "x", 1), 1);
	assert_int_equal(sf_out_commit(&o), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

static void test_out_links(void **state)
{
	struct sf_out o;

	(void)state;
	spit(at("victim"), "victim");
	/* root's own link is followed, and the file it names replaced */
	assert_int_equal(symlink(at("victim2"), at("rootlink")), 0);
	if (geteuid() != 0)
		skip();
	assert_int_equal(sf_out_open(&o, at("rootlink")), 0);
	assert_int_equal(write(o.fd, "via", 3), 3);
	assert_int_equal(sf_out_commit(&o), 0);
	assert_string_equal(slurp(at("victim2")), "via");

	/* a user's link at the file */
	assert_int_equal(symlink(at("victim"), at("userlink")), 0);
	assert_int_equal(lchown(at("userlink"), 65534, 65534), 0);
	errno = 0;
	assert_int_equal(sf_out_open(&o, at("userlink")), -1);
	assert_int_equal(errno, ELOOP);
	assert_string_equal(slurp(at("victim")), "victim");

	/* a user's link in the path */
	assert_int_equal(mkdir(at("sub"), 0755), 0);
	assert_int_equal(symlink(dir, at("sub/up")), 0);
	assert_int_equal(lchown(at("sub/up"), 65534, 65534), 0);
	errno = 0;
	assert_int_equal(sf_out_open(&o, at("sub/up/victim")), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(sf_open_dir(at("sub/up"), 0), -1);
	assert_string_equal(slurp(at("victim")), "victim");

	/* a user's FIFO is not written to */
	assert_int_equal(mkfifo(at("ufifo"), 0666), 0);
	assert_int_equal(chown(at("ufifo"), 65534, 65534), 0);
	errno = 0;
	assert_int_equal(sf_out_open(&o, at("ufifo")), -1);
	assert_int_equal(errno, SF_ENOTREG);
}

static void test_open_dir_makes(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	fd = sf_open_dir(at("a/b/c"), 0700);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(at("a/b/c"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(sf_open_dir(at("nothere"), 0), -1);
}

static void test_random_hex(void **state)
{
	char a[17], b[17];

	(void)state;
	sf_random_hex(a, 16);
	sf_random_hex(b, 16);
	assert_int_equal(strlen(a), 16);
	assert_int_equal(strspn(a, "0123456789abcdef"), 16);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_regular_only),
		cmocka_unit_test(test_out_commit_and_abort),
		cmocka_unit_test(test_out_links),
		cmocka_unit_test(test_open_dir_makes),
		cmocka_unit_test(test_random_hex),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
