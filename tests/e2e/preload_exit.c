/* preload_exit [threads] [pairs] - exits (exit(0) from main) while its
 * threads still allocate: each thread loops malloc/write/free forever and
 * counts its pairs; main waits until every thread has done `pairs`, then
 * exits with the threads running. Prints nothing. For 12-preload.t: the
 * preload path loses no record written before the exit. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long done[64];
static void *volatile sink;

static void *work(void *arg)
{
	unsigned long k = (unsigned long)arg;

	for (unsigned long i = 0;; i++) {
		char *p = malloc(16 + (i * 37 + k) % 2000);

		p[0] = (char)i;
		sink = p;
		free(p);
		done[k]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	unsigned long pairs = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
	pthread_t t;

	if (n < 1 || n > 64)
		return 2;
	for (long k = 0; k < n; k++)
		if (pthread_create(&t, NULL, work, (void *)k))
			return 1;
	for (int k = 0; k < n; k++)
		while (done[k] < pairs)
			usleep(1000);
	exit(0);
}
