/* kernel.c - owns the kernel feature checks (see kernel.h): each feature is
 * probed the way libbpf or the kernel itself would refuse it (a map or a
 * program load, a BTF lookup), never by the version number alone, so a
 * distribution kernel with backports is judged by what it has. The minimum
 * is Linux 5.11 with BTF (ring buffer, task storage, tp_btf); the page-fault
 * tracepoints, bpf_find_vma (5.17) and uprobe-multi links (6.10) degrade
 * one feature each when missing.
 */
#include "capture/kernel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "capture/uprobe_multi.h"

/* The helper probe loads a kprobe program calling it (bpf_find_vma is
 * allowed there as in tracing programs); libbpf says 1 if it loads. */
static bool has_helper(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, id, NULL) == 1;
}

static bool has_map(enum bpf_map_type type)
{
	return libbpf_probe_bpf_map_type(type, NULL) == 1;
}

/* tp_btf programs attach by the tracepoint's btf_trace_<name> typedef. */
static bool btf_has_tracepoint(struct btf *vmlinux, const char *name)
{
	char type[128];

	snprintf(type, sizeof(type), "btf_trace_%s", name);
	return vmlinux && btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) > 0;
}

void kernel_probe(struct kernel_features *k)
{
	struct utsname u;
	struct stat st;
	struct btf *vmlinux;

	memset(k, 0, sizeof(*k));
	if (uname(&u) == 0)
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	k->btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
	k->ringbuf = has_map(BPF_MAP_TYPE_RINGBUF);
	k->task_storage = has_map(BPF_MAP_TYPE_TASK_STORAGE);
	k->find_vma = has_helper(BPF_FUNC_find_vma);
	vmlinux = k->btf ? btf__load_vmlinux_btf() : NULL;
	if (vmlinux && libbpf_get_error(vmlinux))
		vmlinux = NULL;
	k->fault_tp = btf_has_tracepoint(vmlinux, "page_fault_user") &&
		      btf_has_tracepoint(vmlinux, "page_fault_kernel");
	btf__free(vmlinux);
	k->uprobe_multi = uprobe_multi_supported();
}

int kernel_check(const struct kernel_features *k, bool stacks, bool count_only, int verbose,
		 char *err, size_t errlen)
{
	if (!k->btf)
		return snprintf(err, errlen, "kernel %s has no BTF (/sys/kernel/btf/vmlinux): faultline needs "
				"CONFIG_DEBUG_INFO_BTF", k->release), -1;
	if (!k->ringbuf)
		return snprintf(err, errlen, "kernel %s has no BPF ring buffer (Linux 5.8+): faultline cannot "
				"stream events", k->release), -1;
	if (!k->task_storage)
		return snprintf(err, errlen, "kernel %s has no BPF task storage (Linux 5.11+): faultline keeps "
				"each thread's calls in flight there", k->release), -1;
	if (stacks && !k->find_vma)
		return snprintf(err, errlen, "kernel %s has no bpf_find_vma (Linux 5.17+): --stacks cannot "
				"bound its stack copies; run without --stacks", k->release), -1;
	if (!k->fault_tp || (!k->uprobe_multi && !count_only))
		fprintf(stderr, "faultline: kernel %s lacks%s%s%s\n", k->release,
			!k->fault_tp ? " the page_fault_user/page_fault_kernel tracepoints in its BTF (page faults "
				       "are not traced: counted 0)" : "",
			!k->fault_tp && !k->uprobe_multi && !count_only ? ";" : "",
			!k->uprobe_multi && !count_only ? " process-filtering uprobe-multi links (Linux 6.10+): "
							  "perf-event uprobes instead, about 0.1 s each to remove" : "");
	if (verbose)
		fprintf(stderr, "faultline: kernel %s has BTF, ring buffer, task storage%s%s%s\n", k->release,
			k->find_vma ? ", bpf_find_vma" : "", k->fault_tp ? ", fault tracepoints" : "",
			k->uprobe_multi ? ", uprobe-multi links" : "");
	return 0;
}
