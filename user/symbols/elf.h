/* elf.h - small questions about an ELF object, answered with libelf: its
 * load bias where it is mapped, its build-id, the file offset of an
 * address. */
#ifndef FL_ELF_H
#define FL_ELF_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>

/* The load bias of an ELF object mapped at map_start from file offset
 * map_offset: run-time address = ELF p_vaddr + bias (0 for ET_EXEC). Found
 * from the PT_LOAD segment that holds map_offset. 0, or -1 if none does. */
int elf_load_bias(Elf *elf, uint64_t map_start, uint64_t map_offset, uint64_t *bias);

/* The file offset of vaddr through the PT_LOAD headers, 0 if no segment holds it. */
uint64_t elf_vaddr_to_offset(Elf *elf, uint64_t vaddr);

/* The GNU build-id of the ELF file at path, as lower-case hex into out
 * (NUL-terminated). Returns the number of hex digits, or -1 (unreadable,
 * no build-id, or out too small: 2 * id bytes + 1 is needed; 41 for SHA-1). */
int elf_build_id_hex(const char *path, char *out, size_t outlen);
/* The same of an opened ELF handle. */
int elf_build_id_hex_of(Elf *elf, char *out, size_t outlen);

#endif
