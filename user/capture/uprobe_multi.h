/* uprobe_multi.h - one BPF link for all the uprobes of one program in one
 * binary (BPF_TRACE_UPROBE_MULTI: Linux 6.6 and later, used from 6.10 on, see
 * uprobe_multi_supported), which libbpf 1.1 cannot create. Why: a perf-event uprobe is torn down under a global mutex
 * with grace periods of its own (about 0.1 s each here, 1.7 s for
 * faultline's probes), a uprobe-multi link with one wait for all its
 * uprobes, and several links in parallel.
 */
#ifndef FAULTLINE_UPROBE_MULTI_H
#define FAULTLINE_UPROBE_MULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI (not in libbpf 1.1's headers) */
#define FL_ATTACH_UPROBE_MULTI 48

/* True if the running kernel creates uprobe-multi links that filter by
 * process (not only by thread, as the first kernels that had them did).
 * Set FAULTLINE_NO_UPROBE_MULTI=1 in the environment to answer false. */
bool uprobe_multi_supported(void);

/* Attaches prog_fd (loaded with expected attach type FL_ATTACH_UPROBE_MULTI)
 * to n offsets of path, as return probes if ret; cookies: NULL, or the BPF
 * attach cookie of each offset; pid <= 0: every process, else that process
 * only. Returns the link's fd, or -errno. */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
			unsigned n, bool ret, pid_t pid);

#endif
