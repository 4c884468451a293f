/* child.c - starting the traced command held before its execve, so the
 * probes see it from its first instruction (the scope of strace -c CMD). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture/child.h"
#include "util/io.h"

static void child_main(const char *path, char *const argv[], int go_rd, int err_wr)
{
	char b;
	int e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	io_read(go_rd, &b, 1);
	close(go_rd);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	execv(path, argv);
	e = errno;
	if (write(err_wr, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int child_spawn_held(const char *path, char *const argv[], struct child *c)
{
	int go[2], st[2];

	if (pipe2(go, O_CLOEXEC))
		return -1;
	if (pipe2(st, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	c->pid = fork();
	if (c->pid == 0) {
		close(go[1]);
		close(st[0]);
		child_main(path, argv, go[0], st[1]);
	}
	close(go[0]);
	close(st[1]);
	if (c->pid < 0) {
		close(go[1]);
		close(st[0]);
		return -1;
	}
	c->go_fd = go[1];
	c->err_fd = st[0];
	return 0;
}

int child_release(struct child *c, char *err, size_t errlen)
{
	ssize_t n;
	int e = 0;

	if (write(c->go_fd, "g", 1) != 1) {
		snprintf(err, errlen, "cannot start the command: %s", strerror(errno));
		return -1;
	}
	close(c->go_fd);
	c->go_fd = -1;
	n = io_read(c->err_fd, &e, sizeof(e));
	close(c->err_fd);
	c->err_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		snprintf(err, errlen, "cannot execute the command: %s", strerror(e));
		return -1;
	}
	return 0;
}

void child_abort(struct child *c)
{
	int status;

	kill(c->pid, SIGKILL);
	if (c->go_fd >= 0)
		close(c->go_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	waitpid(c->pid, &status, 0);
}

int child_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
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
