/* uprobe_multi.c - owns the uprobe-multi links (see uprobe_multi.h): the
 * kernel feature check and the BPF_LINK_CREATE call, made by hand because
 * libbpf 1.1's bpf_link_create predates them.
 */
#include "capture/uprobe_multi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define UPROBE_MULTI_RETURN 1u /* BPF_F_UPROBE_MULTI_RETURN */

/* The head of union bpf_attr's link_create and its uprobe_multi member, as
 * Linux 6.6+ lays them out; the kernel reads the bytes past them as zero. */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid, pad;
};

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
			unsigned n, bool ret, pid_t pid)
{
	struct link_create_uprobe_multi a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = FL_ATTACH_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = n;
	a.multi_flags = ret ? UPROBE_MULTI_RETURN : 0;
	a.pid = pid > 0 ? (uint32_t)pid : 0;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

/* The first kernels with uprobe-multi links filtered by thread, not by
 * process: a per-pid link then missed the other threads (fixed in 6.10). */
static bool kernel_filters_by_process(void)
{
	struct utsname u;
	int major, minor;

	return uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
	       (major > 6 || (major == 6 && minor >= 10));
}

/* A kernel that knows the link type refuses a directory as the binary with
 * EBADF; one that does not refuses the attach type (EINVAL). */
static bool kernel_has_uprobe_multi(void)
{
	const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = FL_ATTACH_UPROBE_MULTI);
	uint64_t offset = 0;
	int prog, link;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "fl_probe", "GPL", ret0, 2, &opts);
	if (prog < 0)
		return false;
	link = uprobe_multi_attach(prog, "/", &offset, NULL, 1, false, 0);
	if (link >= 0)
		close(link);
	close(prog);
	return link == -EBADF;
}

bool uprobe_multi_supported(void)
{
	const char *off = getenv("FAULTLINE_NO_UPROBE_MULTI");

	if (off && *off && strcmp(off, "0") != 0)
		return false;
	return kernel_filters_by_process() && kernel_has_uprobe_multi();
}
