/* child.h - starting the traced command: forked, held before execve until
 * its probes are in place, then released; its exit status collected. */
#ifndef FL_CHILD_H
#define FL_CHILD_H

#include <stddef.h>
#include <sys/types.h>

struct child {
	pid_t pid;
	int go_fd;   /* write end: one byte releases the child to execve */
	int err_fd;  /* read end: EOF = execve succeeded; an int = its errno */
};

/* Forks a child that waits, then runs execv(path, argv). 0 or -1 (errno). */
int child_spawn_held(const char *path, char *const argv[], struct child *c);
/* Releases the child; returns 0 once execve succeeded, or -1 with a message. */
int child_release(struct child *c, char *err, size_t errlen);
/* Kills and reaps a child that was never released. */
void child_abort(struct child *c);
/* The path of CMD as execvp would find it, in out. Returns 0 or -1 (errno). */
int resolve_command(const char *cmd, char *out, size_t outlen);

/* Shell-style exit code for a wait status: the code, or 128 + signal. */
int child_exit_code(int status);

#endif
