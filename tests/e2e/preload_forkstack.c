/* preload_forkstack - forks again and again while a second thread
 * allocates at varying depths; each child allocates (its first unwind under
 * --stacks=all) and exits. For 12-preload.t: a fork while another thread is
 * inside the unwinder must not leave the child waiting on the unwinder's
 * locks (the run ends, every child exits 0). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 300

static void *volatile sink;
static volatile int stop;

static __attribute__((noinline)) void alloc_at(int depth, size_t n)
{
	if (depth > 0) {
		alloc_at(depth - 1, n + 1);
		sink = (void *)(size_t)depth; /* not a tail call */
		return;
	}
	char *p = malloc(n);

	memset(p, 1, n);
	sink = p;
	free(p);
}

static void *allocator(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !stop; i++)
		alloc_at((int)(i % 23), 16 + i % 200);
	return NULL;
}

int main(void)
{
	pthread_t th;
	int exited = 0;

	if (pthread_create(&th, NULL, allocator, NULL))
		return 1;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return 1;
		if (pid == 0) {
			alloc_at(i % 17, 64);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			exited++;
	}
	stop = 1;
	pthread_join(th, NULL);
	printf("children exited 0: %d of %d\n", exited, FORKS);
	return exited == FORKS ? 0 : 1;
}
