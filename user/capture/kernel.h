/* kernel.h - what the running kernel offers faultline, found out once before
 * anything is loaded, and the one place where its absence is decided:
 * refused with one line naming the feature (ring buffer, task storage,
 * BTF), or run degraded with one line saying what is missing and what is
 * lost (page-fault tracepoints, bpf_find_vma for --stacks, uprobe-multi
 * links). Kernel workarounds live here and in uprobe_multi.c, nowhere else.
 */
#ifndef FL_KERNEL_H
#define FL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

struct kernel_features {
	char release[65];     /* uname -r */
	bool btf;             /* /sys/kernel/btf/vmlinux */
	bool ringbuf;         /* BPF_MAP_TYPE_RINGBUF (5.8) */
	bool task_storage;    /* BPF_MAP_TYPE_TASK_STORAGE (5.11) */
	bool find_vma;        /* bpf_find_vma (5.17): the end of a stack copy */
	bool fault_tp;        /* the x86 exception tracepoints in the kernel's BTF */
	bool uprobe_multi;    /* uprobe-multi links filtering by process (6.10; uprobe_multi.c) */
};

/* Probes the running kernel (cheap: a few map and program loads). */
void kernel_probe(struct kernel_features *k);

/* Whether faultline can run here as asked (stacks: --stacks was given).
 * Returns 0, printing one line on stderr naming what is missing and what is
 * degraded (if anything is; verbose: also a line listing what is there), or
 * -1 with a one-line message in err naming the missing feature. */
int kernel_check(const struct kernel_features *k, bool stacks, bool count_only, int verbose,
		 char *err, size_t errlen);

#endif
