/* unwind.h - a process's memory maps (parsed from the text of /proc/PID/maps,
 * as the recording keeps it) and unwinding of a captured user stack with the
 * DWARF CFI (.eh_frame, .debug_frame) of the mapped objects, falling back to
 * the frame-pointer chain where there is no CFI. Works offline: the process
 * may have exited; only its mapped files must still be readable (optionally
 * under a root prefix such as /proc/PID/root for a container).
 *
 * x86-64 only. Not thread-safe: use one unwinder per thread.
 */
#ifndef UNWIND_H
#define UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <gelf.h>

/* ---- memory maps ---- */

/* One line of /proc/PID/maps. */
struct proc_map {
	uint64_t start, end;   /* [start, end) */
	uint64_t offset;       /* file offset mapped at start */
	uint64_t inode;        /* 0 for anonymous and special mappings */
	char perms[5];         /* "r-xp" */
	const char *path;      /* "" if anonymous; "[stack]", "/usr/lib/x.so", "/x (deleted)" */
};

struct proc_maps;

/* Parses maps text (need not be NUL-terminated). Lines that do not parse are
 * skipped. Returns NULL only on out of memory; an empty text gives an empty set. */
struct proc_maps *proc_maps_parse(const char *text, size_t len);
void proc_maps_free(struct proc_maps *m);

/* Mapped files are opened as root_prefix + path (e.g. "/proc/1234/root").
 * NULL or "" for none (the default). Set it before unwinding or symbolizing. */
int proc_maps_set_root(struct proc_maps *m, const char *root_prefix); /* -1 on OOM */

size_t proc_maps_count(const struct proc_maps *m);
const struct proc_map *proc_maps_at(const struct proc_maps *m, size_t i); /* sorted by start */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr); /* or NULL */

/* The file to open for a file-backed mapping: root prefix + path, without a
 * " (deleted)" suffix. 0, or -1 if e is not file-backed or buf is too small. */
int proc_maps_file_path(const struct proc_maps *m, const struct proc_map *e, char *buf, size_t len);

/* Unique per parse and per set_root; caches key on it (pointers get reused). */
uint64_t proc_maps_id(const struct proc_maps *m);

/* The load bias of an ELF object mapped at map_start from file offset
 * map_offset: run-time address = ELF p_vaddr + bias (0 for ET_EXEC). Found
 * from the PT_LOAD segment that holds map_offset. 0, or -1 if none does. */
int elf_load_bias(Elf *elf, uint64_t map_start, uint64_t map_offset, uint64_t *bias);

/* ---- unwinding ---- */

/* The registers the unwinder starts from (captured with the stack). */
struct unwind_regs {
	uint64_t ip, sp, bp;
};

struct unwinder;

/* Keeps a libdw session (the mapped objects, opened) for each of the last few
 * map sets it was used with. NULL on out of memory. */
struct unwinder *unwinder_new(void);
/* Where separate debug files (.debug_frame) are looked for, default
 * /usr/lib/debug: set it before the first unwind. -1 on out of memory. */
int unwinder_set_debug_root(struct unwinder *u, const char *dir);
void unwinder_free(struct unwinder *u);

/* Unwinds the stack captured at regs: stack holds stack_len bytes copied
 * from address regs->sp upward, and is the only memory read. Writes up to max
 * addresses into ips: ips[0] = regs->ip, then one return address per caller
 * (use unwind_call_site to symbolize them). Returns the count (0 if max <= 0).
 * Never fails on bad input: garbage gives a short stack. */
int unwind_stack(struct unwinder *u, const struct proc_maps *m, const struct unwind_regs *regs,
		 const void *stack, size_t stack_len, uint64_t *ips, int max);

/* The address to symbolize for frame i: the return addresses of callers point
 * after their call instruction (maybe into the next line or function). */
static inline uint64_t unwind_call_site(const uint64_t *ips, int i)
{
	return i > 0 && ips[i] > 0 ? ips[i] - 1 : ips[i];
}

#endif /* UNWIND_H */
