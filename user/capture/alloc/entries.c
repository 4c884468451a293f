/* entries.c - where each entry point of fl_funcs.h's table sits in an ELF
 * object: its symbol (from .dynsym and .symtab, read with libelf), the file
 * offset to probe, which entry points share an address (one probe for them),
 * and the per-family details of the placement (glibc.c, refalloc.c). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture/alloc/allocator.h"
#include "capture/alloc/families.h"
#include "symbols/elf.h"
#include "util/safe_file.h"

static int entry_by_symbol(const char *name)
{
	for (int i = 0; i < FL_NFUNC; i++)
		if (strcmp(name, fl_entries[i].symbol) == 0)
			return i;
	return -1;
}

static void scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct allocator *a)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; data && i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int f;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || (f = entry_by_symbol(name)) < 0 || a->vaddr[f])
			continue;
		a->vaddr[f] = sym.st_value;
		a->offset[f] = elf_vaddr_to_offset(elf, sym.st_value);
	}
}

void allocator_mark_aliases(struct allocator *a)
{
	a->nfuncs = 0;
	for (int i = 0; i < FL_NFUNC; i++) {
		a->alias_of[i] = -1;
		if (!a->offset[i])
			continue;
		a->nfuncs++;
		for (int j = 0; j < i; j++)
			if (a->offset[j] == a->offset[i] && a->alias_of[j] < 0) {
				a->alias_of[i] = j;
				break;
			}
	}
}

/* The attach cookie that tells an entry program where its arguments are at
 * the probe (regs from placement_skip): 0 if all are in their own. */
static uint32_t argmap_of(int f, const int regs[4])
{
	static const int abi[4] = { 7, 6, 2, 1 }; /* rdi rsi rdx rcx */
	uint32_t map = 0;
	bool moved = false;

	for (int k = 0; k < 3; k++) {
		int arg = fl_entries[f].arg[k];

		if (!arg)
			continue;
		map |= FL_ARGMAP_SLOT(k, regs[arg - 1]);
		moved |= regs[arg - 1] != abi[arg - 1];
	}
	return moved ? map | FL_ARGMAP_ON : 0;
}

/* Each entry point's probe on an emulated instruction where placement.c finds
 * one (glibc's free has its own placement, with a probe on its NULL path). */
static void place_probes(int fd, struct allocator *a)
{
	for (int f = 0; f < FL_NFUNC; f++) {
		uint8_t code[64];
		unsigned args = 0;
		int regs[4] = { 7, 6, 2, 1 };
		ssize_t n;

		if (!a->offset[f] || (f == FL_FREE && a->free_skip))
			continue;
		for (int k = 0; k < 3; k++)
			if (fl_entries[f].arg[k])
				args |= 1u << (fl_entries[f].arg[k] - 1);
		n = pread(fd, code, sizeof(code), (off_t)a->offset[f]);
		if (n <= 0)
			continue;
		a->skip[f] = placement_skip(code, (size_t)n, args, regs);
		a->argmap[f] = a->skip[f] ? argmap_of(f, regs) : 0;
		a->stepped[f] = !placement_emulated(code + a->skip[f], (size_t)n - a->skip[f]);
	}
}

/* The object's executable sections, where its branches are. */
struct exec_sections {
	uint64_t off[16], addr[16], size[16];
	int n;
};

static void note_exec_section(struct exec_sections *x, const GElf_Shdr *sh)
{
	if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR) || x->n >= 16)
		return;
	x->off[x->n] = sh->sh_offset;
	x->addr[x->n] = sh->sh_addr;
	x->size[x->n] = sh->sh_size;
	x->n++;
}

/* A probe moved past its entry is moved back there when some branch of the
 * object lands between the two (that path would pass the probe twice, or
 * not at all): each entry point is then still counted once a call. */
static void refuse_jumped_into(int fd, struct allocator *a, const struct exec_sections *x)
{
	uint64_t lo[FL_NFUNC + 1], hi[FL_NFUNC + 1];
	bool hit[FL_NFUNC + 1];
	int fn[FL_NFUNC + 1], n = 0;

	for (int f = 0; f < FL_NFUNC; f++) {
		uint64_t skip = f == FL_FREE && a->free_skip ? a->free_skip : a->skip[f];

		if (!a->offset[f] || !skip)
			continue;
		lo[n] = a->vaddr[f];
		hi[n] = a->vaddr[f] + skip;
		hit[n] = false;
		fn[n++] = f;
	}
	for (int i = 0; n && i < x->n; i++) {
		uint8_t *buf = x->size[i] <= SF_MAX_OBJECT_BYTES ? malloc(x->size[i]) : NULL;

		if (buf && pread(fd, buf, x->size[i], (off_t)x->off[i]) == (ssize_t)x->size[i])
			placement_jumped_into(buf, x->size[i], x->addr[i], lo, hi, hit, n);
		free(buf);
	}
	for (int k = 0; k < n; k++) {
		uint8_t code[16];
		int f = fn[k];

		if (!hit[k])
			continue;
		if (f == FL_FREE && a->free_skip) {
			a->free_skip = 0;
			a->free_null_offset = 0;
		}
		a->skip[f] = 0;
		a->argmap[f] = 0;
		a->stepped[f] = pread(fd, code, sizeof(code), (off_t)a->offset[f]) != (ssize_t)sizeof(code) ||
				!placement_emulated(code, sizeof(code));
	}
}

int allocator_scan(const char *path, struct allocator *a, char *err, size_t errlen)
{
	struct exec_sections x = { .n = 0 };
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(a->shown, sizeof(a->shown), "%s", path);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	fd = sf_open_read(path, SF_MAX_OBJECT_BYTES, NULL);
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, sf_strerror(errno)), -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(fd);
		return -1;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		note_exec_section(&x, &sh);
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)
			scan_symtab(elf, scn, &sh, a);
		else if (sh.sh_type == SHT_NOTE && refalloc_notes(elf, scn, &sh))
			a->usdt_refalloc = true;
	}
	elf_end(elf);
	glibc_place_free_probe(fd, a);
	place_probes(fd, a);
	refuse_jumped_into(fd, a, &x);
	close(fd);
	allocator_mark_aliases(a);
	return a->nfuncs;
}

