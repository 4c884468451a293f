/* probe_path.c - --probes: the preload path needs a dynamically linked,
 * not set-user-ID program whose allocator entry points one build of the
 * library interposes (malloc family, operator new/delete, and the native
 * entry points of jemalloc, a je_-prefixed jemalloc or mimalloc: one family
 * per build) and that defines none of them itself; auto takes uprobes
 * otherwise, preload refuses with the reason. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "faultline.h"
#include "capture/probe_path.h"

int probe_path_parse(const char *word)
{
	if (!strcmp(word, "auto"))
		return FL_PROBES_AUTO;
	if (!strcmp(word, "preload"))
		return FL_PROBES_PRELOAD;
	if (!strcmp(word, "uprobes"))
		return FL_PROBES_UPROBES;
	return -1;
}

const char *probe_path_name(int path)
{
	return path == FL_PROBES_PRELOAD ? "preload" : path == FL_PROBES_UPROBES ? "uprobes" : "auto";
}

/* Has the ELF file a program interpreter (is it dynamically linked)? */
static int has_interp(int fd)
{
	Elf64_Ehdr eh;

	if (pread(fd, &eh, 2, 0) == 2 && !memcmp(eh.e_ident, "#!", 2))
		return 1; /* a script: its interpreter is (the interpreter of a shim too, mostly) */
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 4096)
		return 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return 0;
		if (ph.p_type == PT_INTERP)
			return 1;
	}
	return 0;
}

/* Is one of the objects the entry points come from the executable itself
 * (st: its stat)? The loader looks there before any LD_PRELOAD. */
static bool defines_entry_points(const struct stat *exe, const struct alloc_set *a)
{
	for (int i = 0; i < a->n; i++) {
		struct stat o;

		if (a->obj[i].nfuncs && !stat(a->obj[i].path, &o) && o.st_dev == exe->st_dev && o.st_ino == exe->st_ino)
			return true;
	}
	return false;
}

/* The library build for the natives found: the family of the first
 * native entry point found, and no other family's. */
const char *probe_path_library_variant(const struct alloc_set *a)
{
	static const struct {
		int first, last;
		const char *variant;
	} fam[] = {
		{ FL_MALLOCX, FL_SDALLOCX, "-jemalloc" },
		{ FL_MI_MALLOC_SMALL, FL_MI_FREE_SZ_AL, "-mimalloc" },
		{ FL_JE_MALLOC, FL_JE_SDALLOCX, "-je" },
	};
	const char *v = "";

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		for (int f = fam[i].first; f <= fam[i].last; f++)
			if (a->used[f]) {
				if (*v)
					return NULL;
				v = fam[i].variant;
				break;
			}
	return v;
}

_Static_assert(FL_SDALLOCX - FL_MALLOCX == 4 && FL_MI_FREE_SZ_AL - FL_MI_MALLOC_SMALL == 15 &&
		       FL_JE_SDALLOCX - FL_JE_MALLOC == 10,
	       "each family's lines stay together in fl_funcs.h (hooks.c interposes exactly those)");

/* Can libunwind.so.8, the preload library's unwinder for --stacks=all, be loaded? */
static bool unwinder_present(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_LOCAL);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* Why the preload path cannot record this command, or NULL. */
static const char *cannot_preload(const char *exe, const struct alloc_set *a, int stack_mode)
{
	struct stat st;
	int fd = open(exe, O_RDONLY | O_CLOEXEC), dyn;

	if (stack_mode == FL_STACKS_ALL && !unwinder_present())
		return "--stacks=all: the library unwinds the calls' stacks with libunwind.so.8, which is not "
		       "installed (Debian: libunwind8)";
	if (fd < 0)
		return "its file cannot be read";
	dyn = has_interp(fd) && !fstat(fd, &st);
	close(fd);
	if (!dyn)
		return "it is statically linked";
	if (st.st_mode & (S_ISUID | S_ISGID))
		return "it is set-user-ID or set-group-ID (the loader ignores LD_PRELOAD)";
	for (int i = 0; i < a->n; i++)
		if (a->obj[i].usdt_refalloc)
			return "its allocator is refalloc (its USDT probes say why)";
	if (!probe_path_library_variant(a))
		return "it has the native entry points of two allocators (jemalloc's and mimalloc's), and each "
		       "build of the library interposes one family";
	if (defines_entry_points(&st, a))
		return "it defines allocator entry points itself (its own operator new, a static allocator): the "
		       "library cannot come before it in symbol lookup";
	return NULL;
}

int probe_path_choose(int asked, const char *exe, const struct alloc_set *a, int stack_mode, char *why,
		      size_t whylen)
{
	const char *no;

	why[0] = '\0';
	if (asked == FL_PROBES_UPROBES)
		return FL_PROBES_UPROBES;
	no = cannot_preload(exe, a, stack_mode);
	if (!no)
		return FL_PROBES_PRELOAD;
	snprintf(why, whylen, "%s: %s", exe, no);
	return asked == FL_PROBES_PRELOAD ? -1 : FL_PROBES_UPROBES;
}
