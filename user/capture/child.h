/* child.h - starting the traced command: forked, held before execve until
 * its probes are in place, then released; its exit status collected. */
#ifndef FL_CHILD_H
#define FL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CHILD_MAX_GROUPS 256

/* Who the command runs as: unchanged (faultline's own user), or uid/gid and
 * the supplementary groups, set in the held child just before execve. */
struct child_creds {
	bool set;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[CHILD_MAX_GROUPS];
};

/* The user the command runs as: spec is --user's NAME or UID ("root" or 0:
 * faultline's own); NULL: the user behind sudo (SUDO_UID, SUDO_GID) when
 * faultline runs as root, else faultline's own. 0, or -1 with a message. */
int child_creds_for(const char *spec, struct child_creds *cr, char *err, size_t errlen);

struct child {
	pid_t pid;
	int go_fd;   /* write end: one byte releases the child to execve */
	int err_fd;  /* read end: EOF = execve succeeded; an int = its errno */
};

/* Forks a child that waits, then takes the credentials cr (may be NULL) and
 * runs execv(path, argv). With kill_with_parent the command gets SIGKILL
 * when faultline dies (PR_SET_PDEATHSIG, set again after the credentials
 * change, which clears it); without, only while held. 0 or -1 (errno). */
int child_spawn_held(const char *path, char *const argv[], const struct child_creds *cr,
		     bool kill_with_parent, struct child *c);
/* Releases the child; returns 0 once execve succeeded, or -1 with a message. */
int child_release(struct child *c, char *err, size_t errlen);
/* Kills and reaps a child that was never released. */
void child_abort(struct child *c);
/* The path of CMD as execvp would find it, in out. Returns 0 or -1 (errno). */
int resolve_command(const char *cmd, char *out, size_t outlen);

/* Shell-style exit code for a wait status: the code, or 128 + signal. */
int child_exit_code(int status);

#endif
