/* stacks.c - inside libfaultline-preload.so: the calls' stacks for
 * --stacks=all (stacks.h). The unwinder is libunwind's unw_backtrace, found
 * with dlopen once; this library's own frames (recorder, hook) are found by
 * address: the extent of its loadable segments, read from its program
 * headers in memory. A fork waits until no other thread is inside the
 * unwinder (whose locks the child would otherwise inherit held); an unwind
 * that would start while another thread forks waits for it, 50 ms at most,
 * then its call goes without its stack (counted: the call sites' "not
 * taken"). */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include "stacks.h"

#define FLP_FORK_WAIT_NS 50000000ull

static int (*backtrace_fn)(void **buf, int size);
static uintptr_t self_lo, self_hi;
static int unwinding; /* unwinds under way, in all threads */
static int forks;     /* forks between their prepare and parent handlers (forks may overlap) */
static __thread int my_unwinds __attribute__((tls_model("initial-exec")));
static __thread int my_forks __attribute__((tls_model("initial-exec")));

/* The other threads' unwinds end on their own (they wait for nothing the
 * forking thread holds); this thread's own, if the fork comes from a signal
 * handler that interrupted one, cannot, and is not waited for. */
static void fork_prepare(void)
{
	my_forks++;
	__atomic_add_fetch(&forks, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&unwinding, __ATOMIC_SEQ_CST) > my_unwinds)
		sched_yield();
}

static void fork_parent(void)
{
	my_forks--;
	__atomic_sub_fetch(&forks, 1, __ATOMIC_SEQ_CST);
}

static void fork_child(void)
{
	my_forks = 0;
	__atomic_store_n(&unwinding, my_unwinds, __ATOMIC_SEQ_CST); /* the other threads are gone */
	__atomic_store_n(&forks, 0, __ATOMIC_SEQ_CST);
}

static void unwind_leave(void)
{
	__atomic_sub_fetch(&unwinding, 1, __ATOMIC_SEQ_CST);
	my_unwinds--;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1: the caller may unwind (unwind_leave after). While another thread forks
 * the caller waits for the fork to end, but FLP_FORK_WAIT_NS at most, and
 * then goes without its stack (0): it may hold a lock the fork takes after
 * its handlers (glibc's stdio list lock, held by fflush(NULL) while a memory
 * stream grows), and waiting longer would deadlock both. The forking
 * thread's own calls (from other fork handlers) are unwound, unless another
 * thread forks as well (its child could inherit that unwind's locks). */
static int unwind_enter(void)
{
	uint64_t t0 = 0;

	for (;;) {
		my_unwinds++;
		__atomic_add_fetch(&unwinding, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&forks, __ATOMIC_SEQ_CST) == my_forks) /* none, or only this thread's */
			return 1;
		unwind_leave();
		if (!t0)
			t0 = mono_ns();
		while (__atomic_load_n(&forks, __ATOMIC_SEQ_CST) != my_forks)
			if (mono_ns() - t0 > FLP_FORK_WAIT_NS)
				return 0;
			else
				sched_yield();
	}
}

/* This library's [lo, hi) in memory. */
static int find_self(void)
{
	Dl_info info;
	const ElfW(Ehdr) *eh;
	const ElfW(Phdr) *ph;
	uintptr_t base, lo = UINTPTR_MAX, hi = 0;

	if (!dladdr((void *)find_self, &info) || !info.dli_fbase)
		return -1;
	base = (uintptr_t)info.dli_fbase;
	eh = (const ElfW(Ehdr) *)base;
	ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (base + ph[i].p_vaddr < lo)
			lo = base + ph[i].p_vaddr;
		if (base + ph[i].p_vaddr + ph[i].p_memsz > hi)
			hi = base + ph[i].p_vaddr + ph[i].p_memsz;
	}
	if (hi <= lo)
		return -1;
	self_lo = lo;
	self_hi = hi;
	return 0;
}

int flp_stacks_load(void)
{
	void *h, *policy, **space;

	if (backtrace_fn)
		return 0;
	if (find_self())
		return -1;
	h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
	/* unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD):
	 * no lock shared by the threads' unwinding */
	policy = dlsym(h, "_ULx86_64_set_caching_policy");
	space = dlsym(h, "_ULx86_64_local_addr_space");
	if (policy && space)
		((int (*)(void *, int))policy)(*space, 2);
	backtrace_fn = (int (*)(void **, int))dlsym(h, "unw_backtrace");
	if (!backtrace_fn)
		return -1;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	return 0;
}

static int in_self(uintptr_t ip)
{
	return ip >= self_lo && ip < self_hi;
}

unsigned flp_stack_take(uint64_t *ips, unsigned max)
{
	void *raw[FLP_STACK_RAW];
	int n, k = 0;
	unsigned out = 0;

	if (!backtrace_fn)
		return 0;
	if (!unwind_enter())
		return 0;
	n = backtrace_fn(raw, FLP_STACK_RAW);
	unwind_leave();
	while (k + 1 < n && in_self((uintptr_t)raw[k + 1]))
		k++; /* raw[k]: the outermost frame here, the hook's */
	if (n <= 0 || !in_self((uintptr_t)raw[k]))
		return 0;
	for (; k < n && out < max; k++)
		ips[out++] = (uint64_t)(uintptr_t)raw[k];
	return out;
}
