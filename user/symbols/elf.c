/* elf.c - owns the small ELF questions of elf.h (libelf, libdw's dwelf). */
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "symbols/elf.h"

#define X86_64_PAGE 4096u

int elf_load_bias(Elf *elf, uint64_t map_start, uint64_t map_offset, uint64_t *bias)
{
	GElf_Ehdr ehdr;
	size_t phnum;

	if (!gelf_getehdr(elf, &ehdr) || elf_getphdrnum(elf, &phnum) != 0)
		return -1;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_filesz == 0)
			continue;
		if (map_offset < (ph.p_offset & ~(uint64_t)(X86_64_PAGE - 1)) ||
		    map_offset >= ph.p_offset + ph.p_filesz)
			continue;
		/* file offset o is at p_vaddr + (o - p_offset) + bias; o = map_offset at map_start */
		*bias = ehdr.e_type == ET_EXEC ? 0 : map_start - map_offset + ph.p_offset - ph.p_vaddr;
		return 0;
	}
	return -1;
}

uint64_t elf_vaddr_to_offset(Elf *elf, uint64_t vaddr)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

int elf_build_id_hex_of(Elf *elf, char *out, size_t outlen)
{
	const void *bits;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);

	if (n <= 0 || (size_t)n * 2 + 1 > outlen)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *)bits)[i]);
	return (int)(n * 2);
}

int elf_build_id_hex(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = -1;
	Elf *elf;

	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF)
		n = elf_build_id_hex_of(elf, out, outlen);
	elf_end(elf);
	close(fd);
	return n;
}

