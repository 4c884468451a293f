/* unwind.c - owns the unwinder.
 *
 * Unwinder (the memory maps it works from: maps.c): for each map set (by proc_maps_id) a libdw Dwfl session in which
 * every executable file mapping is reported as a module at its load bias, and
 * to which a one-thread "process" is attached whose memory is the captured
 * stack copy and whose initial registers are the captured ones. libdw then
 * unwinds with .eh_frame / .debug_frame. Where it stops with an error (no CFI
 * for a pc, e.g. code built without unwind tables), the frame-pointer chain is
 * followed from the last frame's rbp, inside the stack copy only. The last few
 * sessions are kept (their ELF files stay open), evicted least recently used.
 */
#include "symbols/elf.h"
#include "symbols/unwind.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- unwinder ---- */

#define UNWIND_SESSIONS 4   /* map sets kept open */
#define MIN_CODE_ADDR 4096u /* a return address below this is no code */
#define UNWIND_TID 1        /* the one thread of the pretend process */
#define DWARF_X86_64_RBP 6  /* DWARF register numbers; rsp is 7 */

/* A libdw session for one map set. */
struct dwfl_session {
	uint64_t maps_id; /* 0: slot unused */
	Dwfl *dwfl;
	bool attached;    /* dwfl_attach_state succeeded: CFI unwinding possible */
	uint64_t last_used;
};

struct unwinder {
	struct dwfl_session sessions[UNWIND_SESSIONS];
	uint64_t clock;
	Dwfl_Callbacks dwfl_callbacks;
	char *debuginfo_path;
	/* the unwind in progress, for the libdw callbacks */
	const struct unwind_regs *regs;
	const uint8_t *stack;
	size_t stack_len;
	uint64_t *ips;
	int count, max;
	uint64_t last_bp; /* rbp in the last frame libdw gave, if known */
	bool last_bp_known;
};

static bool stack_word(const struct unwinder *u, uint64_t addr, uint64_t *out)
{
	uint64_t base = u->regs->sp;

	if (addr < base || addr - base > u->stack_len || u->stack_len - (addr - base) < 8)
		return false;
	memcpy(out, u->stack + (addr - base), 8);
	return true;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = dwfl_arg;
	return UNWIND_TID;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	*thread_argp = dwfl_arg;
	return tid == UNWIND_TID;
}

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	uint64_t word;

	(void)dwfl;
	if (!stack_word(dwfl_arg, addr, &word))
		return false;
	*result = word;
	return true;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct unwinder *u = thread_arg;
	Dwarf_Word rbp_rsp[2] = { u->regs->bp, u->regs->sp };

	dwfl_thread_state_register_pc(thread, u->regs->ip);
	return dwfl_thread_state_registers(thread, DWARF_X86_64_RBP, 2, rbp_rsp);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static bool is_x86_64_elf(Elf *elf)
{
	GElf_Ehdr ehdr;

	return elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &ehdr) &&
	       ehdr.e_ident[EI_CLASS] == ELFCLASS64 && ehdr.e_machine == EM_X86_64;
}

/* Reports the file of mapping e as a module at its load bias, if it is an
 * x86-64 ELF file that can be opened. */
static void report_mapped_file(Dwfl *dwfl, const struct proc_maps *m, const struct proc_map *e)
{
	char path[PATH_MAX];
	uint64_t bias = (uint64_t)-1;
	int fd;
	Elf *elf;

	if (proc_maps_file_path(m, e, path, sizeof(path)) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !is_x86_64_elf(elf) || elf_load_bias(elf, e->start, e->offset, &bias) != 0)
		bias = (uint64_t)-1;
	elf_end(elf);
	/* on success libdw keeps fd and closes it in dwfl_end */
	if (bias == (uint64_t)-1 || !dwfl_report_elf(dwfl, e->path, path, fd, bias, true))
		close(fd);
}

/* Every executable file mapping, once per (file, bias). */
static void report_maps(Dwfl *dwfl, const struct proc_maps *m)
{
	const struct proc_map *last = NULL;

	dwfl_report_begin(dwfl);
	for (size_t i = 0; i < proc_maps_count(m); i++) {
		const struct proc_map *e = proc_maps_at(m, i);

		if (e->perms[2] != 'x' || e->path[0] != '/')
			continue;
		if (last && last->inode == e->inode && strcmp(last->path, e->path) == 0)
			continue; /* another executable segment of the same file */
		report_mapped_file(dwfl, m, e);
		last = e;
	}
	dwfl_report_end(dwfl, NULL, NULL);
}

static void session_close(struct dwfl_session *s)
{
	if (s->dwfl)
		dwfl_end(s->dwfl);
	memset(s, 0, sizeof(*s));
}

static int session_open(struct unwinder *u, struct dwfl_session *s, const struct proc_maps *m)
{
	session_close(s);
	s->dwfl = dwfl_begin(&u->dwfl_callbacks);
	if (!s->dwfl)
		return -1;
	report_maps(s->dwfl, m);
	s->attached = dwfl_attach_state(s->dwfl, NULL, UNWIND_TID, &thread_callbacks, u);
	s->maps_id = proc_maps_id(m);
	return 0;
}

/* The session for m, opening it (in the least recently used slot) if needed. */
static struct dwfl_session *session_for(struct unwinder *u, const struct proc_maps *m)
{
	struct dwfl_session *victim = &u->sessions[0];

	u->clock++;
	for (int i = 0; i < UNWIND_SESSIONS; i++) {
		struct dwfl_session *s = &u->sessions[i];

		if (s->maps_id == proc_maps_id(m)) {
			s->last_used = u->clock;
			return s;
		}
		if (s->last_used < victim->last_used)
			victim = s;
	}
	if (session_open(u, victim, m) != 0)
		return NULL;
	victim->last_used = u->clock;
	return victim;
}

struct unwinder *unwinder_new(void)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	elf_version(EV_CURRENT);
	u->debuginfo_path = strdup(":.debug:/usr/lib/debug");
	if (!u->debuginfo_path) {
		free(u);
		return NULL;
	}
	/* .debug_frame may live in a separate debug file */
	u->dwfl_callbacks.find_elf = dwfl_build_id_find_elf;
	u->dwfl_callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	u->dwfl_callbacks.debuginfo_path = &u->debuginfo_path;
	return u;
}

int unwinder_set_debug_root(struct unwinder *u, const char *dir)
{
	char *path;

	if (asprintf(&path, ":.debug:%s", dir) < 0)
		return -1;
	free(u->debuginfo_path);
	u->debuginfo_path = path;
	return 0;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	for (int i = 0; i < UNWIND_SESSIONS; i++)
		session_close(&u->sessions[i]);
	free(u->debuginfo_path);
	free(u);
}

static bool push_ip(struct unwinder *u, uint64_t ip)
{
	if (u->count >= u->max)
		return false;
	u->ips[u->count++] = ip;
	return u->count < u->max;
}

static int cb_collect_frame(Dwfl_Frame *frame, void *arg)
{
	struct unwinder *u = arg;
	Dwarf_Addr pc;
	Dwarf_Word bp;

	if (!dwfl_frame_pc(frame, &pc, NULL))
		return DWARF_CB_ABORT;
	u->last_bp_known = dwfl_frame_reg(frame, DWARF_X86_64_RBP, &bp) == 0;
	u->last_bp = bp;
	return push_ip(u, pc) ? DWARF_CB_OK : DWARF_CB_ABORT;
}

/* Follows saved-rbp links: [bp] = caller's rbp, [bp + 8] = return address.
 * Each link must stay inside the copy and move up the stack. */
static void follow_frame_pointers(struct unwinder *u, uint64_t bp)
{
	uint64_t next_bp, ret;

	while (bp % 8 == 0 && stack_word(u, bp, &next_bp) && stack_word(u, bp + 8, &ret)) {
		if (ret < MIN_CODE_ADDR || !push_ip(u, ret) || next_bp <= bp)
			return;
		bp = next_bp;
	}
}

static void unwind_with_cfi(struct unwinder *u, const struct proc_maps *m)
{
	struct dwfl_session *s = session_for(u, m);
	int rc;

	if (!s || !s->attached)
		return;
	rc = dwfl_getthread_frames(s->dwfl, UNWIND_TID, cb_collect_frame, u);
	if (rc == 0 && u->count > 0)
		u->last_bp_known = false; /* reached the outermost frame: nothing to add */
}

int unwind_stack(struct unwinder *u, const struct proc_maps *m, const struct unwind_regs *regs,
		 const void *stack, size_t stack_len, uint64_t *ips, int max)
{
	if (max <= 0)
		return 0;
	u->regs = regs;
	u->stack = stack;
	u->stack_len = stack ? stack_len : 0;
	u->ips = ips;
	u->max = max;
	u->count = 0;
	u->last_bp = regs->bp;
	u->last_bp_known = true;
	unwind_with_cfi(u, m);
	if (u->count == 0) {
		push_ip(u, regs->ip);
		u->last_bp = regs->bp;
		u->last_bp_known = true;
	}
	if (u->last_bp_known && u->count < max)
		follow_frame_pointers(u, u->last_bp);
	return u->count;
}
