/* entries.c - where each entry point of fl_funcs.h's table sits in an ELF
 * object: its symbol (from .dynsym and .symtab, read with libelf), the file
 * offset to probe, which entry points share an address (one probe for them),
 * and the per-family details of the placement (glibc.c, refalloc.c). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "capture/alloc/allocator.h"
#include "capture/alloc/families.h"
#include "symbols/elf.h"

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

static void mark_aliases(struct allocator *a)
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

int allocator_scan(const char *path, struct allocator *a, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(a->shown, sizeof(a->shown), "%s", path);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return snprintf(err, errlen, "libelf: %s", elf_errmsg(-1)), -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)), -1;
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
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)
			scan_symtab(elf, scn, &sh, a);
		else if (sh.sh_type == SHT_NOTE && refalloc_notes(elf, scn, &sh))
			a->usdt_refalloc = true;
	}
	elf_end(elf);
	glibc_place_free_probe(fd, a);
	close(fd);
	mark_aliases(a);
	return a->offset[FL_MALLOC] ? a->nfuncs : 0;
}

