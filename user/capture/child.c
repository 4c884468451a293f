/* child.c - starting the traced command held before its execve, so the
 * probes see it from its first instruction (the scope of strace -c CMD),
 * as the user it should run as (the one behind sudo, or --user), and tied
 * to faultline's life or not (--on-error kill|detach). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture/child.h"
#include "util/io.h"

int child_creds_for(const char *spec, struct child_creds *cr, char *err, size_t errlen)
{
	const char *sudo_uid = getenv("SUDO_UID"), *sudo_gid = getenv("SUDO_GID");
	struct passwd *pw = NULL;
	char *end;

	memset(cr, 0, sizeof(*cr));
	if (!spec) {
		unsigned long u, g;

		if (geteuid() != 0 || !sudo_uid || !*sudo_uid)
			return 0;
		u = strtoul(sudo_uid, &end, 10);
		if (*end || u > 0xfffffffful)
			return snprintf(err, errlen, "SUDO_UID=%s is no user id (give --user)", sudo_uid), -1;
		if (u == 0)
			return 0;
		g = sudo_gid && *sudo_gid ? strtoul(sudo_gid, &end, 10) : u;
		if (sudo_gid && *sudo_gid && (*end || g > 0xfffffffful))
			return snprintf(err, errlen, "SUDO_GID=%s is no group id (give --user)", sudo_gid), -1;
		cr->uid = (uid_t)u;
		cr->gid = (gid_t)g;
		pw = getpwuid(cr->uid);
	} else {
		unsigned long u = strtoul(spec, &end, 10);

		pw = *spec && !*end ? getpwuid((uid_t)u) : getpwnam(spec);
		if (!pw)
			return snprintf(err, errlen, "--user %s: no such user", spec), -1;
		cr->uid = pw->pw_uid;
		cr->gid = pw->pw_gid;
		if (cr->uid == 0)
			return 0;
	}
	if (cr->uid == geteuid() && cr->gid == getegid())
		return 0;
	if (geteuid() != 0)
		return snprintf(err, errlen, "--user needs faultline to run as root"), -1;
	cr->ngroups = CHILD_MAX_GROUPS;
	if (!pw || getgrouplist(pw->pw_name, cr->gid, cr->groups, &cr->ngroups) < 0) {
		cr->groups[0] = cr->gid; /* no entry (or too many groups): its own group alone */
		cr->ngroups = 1;
	}
	cr->set = true;
	return 0;
}

static void child_main(const char *path, char *const argv[], const struct child_creds *cr,
		       bool kill_with_parent, pid_t parent, int go_rd, int err_wr)
{
	char b = 0;
	ssize_t n;
	int e;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* while held, in any case */
	if (getppid() != parent)
		_exit(127);
	n = io_read(go_rd, &b, 1);
	if (n != 1) /* faultline is gone without releasing us */
		_exit(127);
	close(go_rd);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (cr && cr->set &&
	    (setgroups((size_t)cr->ngroups, cr->groups) || setgid(cr->gid) || setuid(cr->uid) ||
	     setuid(0) == 0)) { /* the last: a root that could come back would be no drop */
		e = errno ? errno : EPERM;
		goto fail;
	}
	/* a change of credentials clears the parent-death signal: set (or clear) it now */
	prctl(PR_SET_PDEATHSIG, kill_with_parent ? SIGKILL : 0);
	if (kill_with_parent && getppid() != parent)
		_exit(127);
	execv(path, argv);
	e = errno;
fail:
	if (write(err_wr, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int child_spawn_held(const char *path, char *const argv[], const struct child_creds *cr,
		     bool kill_with_parent, struct child *c)
{
	pid_t parent = getpid();
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
		child_main(path, argv, cr, kill_with_parent, parent, go[0], st[1]);
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
