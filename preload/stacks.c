/* stacks.c - inside libfaultline-preload.so: the calls' stacks for
 * --stacks=all (stacks.h). The unwinder is libunwind's unw_backtrace, found
 * with dlopen once; this library's own frames (recorder, hook) are found by
 * address: the extent of its loadable segments, read from its program
 * headers in memory. A fork waits until no other thread is inside the
 * unwinder (whose locks the child would otherwise inherit held), and an
 * unwind that starts while a fork is under way waits for it to end. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include "stacks.h"

static int (*backtrace_fn)(void **buf, int size);
static uintptr_t self_lo, self_hi;
static int unwinding; /* threads inside the unwinder */
static int forking;   /* a fork is between its prepare and parent/child handlers */
static __thread int is_forker __attribute__((tls_model("initial-exec")));

static void fork_prepare(void)
{
	is_forker = 1;
	__atomic_store_n(&forking, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&unwinding, __ATOMIC_SEQ_CST))
		sched_yield();
}

static void fork_parent(void)
{
	is_forker = 0;
	__atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
}

static void fork_child(void)
{
	is_forker = 0;
	__atomic_store_n(&unwinding, 0, __ATOMIC_SEQ_CST); /* the other threads are gone */
	__atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
}

/* Enters the unwinder: after any fork under way (in another thread: the
 * forking thread's own allocations, from other fork handlers, go through). */
static void unwind_enter(void)
{
	for (;;) {
		__atomic_add_fetch(&unwinding, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&forking, __ATOMIC_SEQ_CST) || is_forker)
			return;
		__atomic_sub_fetch(&unwinding, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&forking, __ATOMIC_SEQ_CST))
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
	unwind_enter();
	n = backtrace_fn(raw, FLP_STACK_RAW);
	__atomic_sub_fetch(&unwinding, 1, __ATOMIC_SEQ_CST);
	while (k + 1 < n && in_self((uintptr_t)raw[k + 1]))
		k++; /* raw[k]: the outermost frame here, the hook's */
	if (n <= 0 || !in_self((uintptr_t)raw[k]))
		return 0;
	for (; k < n && out < max; k++)
		ips[out++] = (uint64_t)(uintptr_t)raw[k];
	return out;
}
