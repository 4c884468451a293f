/* preload_forkexec - forks; the child allocates, prints, and execs
 * /bin/echo; the parent allocates, waits and prints the child's status.
 * For 12-preload.t: output identical with and without the preload path,
 * and the calls of both processes recorded (-f). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		char *p = malloc(100 + i);

		memset(p, i, 100 + i);
		sink = p;
		free(p);
	}
}

int main(void)
{
	pid_t pid;
	int st;

	churn(1000);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		churn(500);
		printf("child %d\n", 500);
		fflush(stdout);
		execl("/bin/echo", "echo", "exec'd", (char *)NULL);
		_exit(127);
	}
	churn(300);
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	printf("parent: child exited %d\n", WEXITSTATUS(st));
	return 0;
}
