/* stacks.c - inside libfaultline-preload.so: the calls' stacks for
 * --stacks=all (stacks.h). The unwinder is libunwind's unw_backtrace, found
 * with dlopen once; this library's own frames (recorder, hook) are found by
 * address: the extent of its loadable segments, read from its program
 * headers in memory. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include "stacks.h"

static int (*backtrace_fn)(void **buf, int size);
static uintptr_t self_lo, self_hi;

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
	return backtrace_fn ? 0 : -1;
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
	n = backtrace_fn(raw, FLP_STACK_RAW);
	while (k + 1 < n && in_self((uintptr_t)raw[k + 1]))
		k++; /* raw[k]: the outermost frame here, the hook's */
	if (n <= 0 || !in_self((uintptr_t)raw[k]))
		return 0;
	for (; k < n && out < max; k++)
		ips[out++] = (uint64_t)(uintptr_t)raw[k];
	return out;
}
