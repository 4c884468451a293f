/* proc_tree.c - a parent and two children with known heaps, for
 * 93-processes.t. Each process grows its brk heap by a known amount with
 * one malloc below the mmap threshold (the threshold fixed at 1 MiB), keeps
 * it live, and the parent waits for both children: the per-process peaks
 * are those amounts (plus glibc's first 132 KiB), never their sum.
 *   exec: the second child execs /bin/sh with argv padded by trailing empty
 *         strings (they are not part of the reported argv)
 *   mmap: one process maps 64 anonymous pages itself, outside any allocator
 *         call, and touches each (64 first touches of owner "runtime")
 *   none: nothing (the baseline of mmap)
 *   hold: one process holds 800 KiB of small blocks on its heap and sleeps
 *         (for -p: the heap at the attach) */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink;

static void hold(size_t bytes)
{
	char *p = malloc(bytes);

	memset(p, 1, bytes); /* touched: its pages are faulted in */
	sink = p;
}

static pid_t child(size_t bytes)
{
	pid_t pid = fork();

	if (pid == 0) {
		hold(bytes);
		usleep(200000); /* alive while the others are: sums would show */
		_exit(0);
	}
	return pid;
}

static int own_mapping(void)
{
	volatile char *p = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* L_MMAP */

	if (p == MAP_FAILED)
		return 1;
	for (int i = 0; i < 64; i++)
		p[i * 4096] = 1;
	return 0;
}

__attribute__((noreturn)) static void hold_and_sleep(void)
{
	for (int i = 0; i < 800; i++)
		hold(1000);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	pid_t a, b;

	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (argc > 1 && !strcmp(argv[1], "mmap"))
		return own_mapping();
	if (argc > 1 && !strcmp(argv[1], "hold"))
		hold_and_sleep();
	if (argc > 1 && !strcmp(argv[1], "none"))
		return 0;
	a = child(600 << 10);
	if (argc > 1 && !strcmp(argv[1], "exec")) {
		b = fork();
		if (b == 0) {
			char *args[] = { "sh", "-c", "sleep 0.3", "x", "", "", NULL };

			execv("/bin/sh", args);
			_exit(127);
		}
	} else {
		b = child(900 << 10);
	}
	hold(300 << 10);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	return 0;
}
