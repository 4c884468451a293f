/* analyses_f.c - heap analyses per process (tests/e2e/86-analyses-f.t):
 * the parent forks two children before it allocates anything, then each
 * process makes one peak block, frees it and leaks a known set:
 *   child A: peak 80000 B, leaks 2 blocks of 5000 B
 *   child B: peak 30000 B, leaks nothing
 *   parent (after both exited): peak 50000 B, leaks 3 blocks of 1000 B
 * No stdio (its buffers would be blocks too). */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink[8];

static void peak_then_leak(size_t peak, int nleak, size_t leak)
{
	char *p = malloc(peak);

	p[0] = 1;
	p[peak - 1] = 2;
	sink[0] = p;
	free(sink[0]);
	for (int i = 0; i < nleak; i++) {
		char *q = malloc(leak);

		q[0] = (char)i;
		sink[1 + i] = q;
	}
}

int main(void)
{
	pid_t a, b;

	if ((a = fork()) == 0) {
		peak_then_leak(80000, 2, 5000);
		_exit(0);
	}
	if (a < 0 || waitpid(a, NULL, 0) != a)
		return 1;
	if ((b = fork()) == 0) {
		peak_then_leak(30000, 0, 0);
		_exit(0);
	}
	if (b < 0 || waitpid(b, NULL, 0) != b)
		return 1;
	peak_then_leak(50000, 3, 1000);
	return 0;
}
