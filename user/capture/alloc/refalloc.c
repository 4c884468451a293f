/* refalloc.c - tools/refalloc, the reference allocator: recognized by its
 * USDT notes (provider "refalloc"), whose probes replace the uprobes. */
#include <string.h>
#include "capture/alloc/families.h"

/* Does this note section hold USDT notes of the provider "refalloc"? */
bool refalloc_notes(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	const char *name;
	Elf_Data *data;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) || !(name = elf_strptr(elf, shstrndx, sh->sh_name)) ||
	    strcmp(name, ".note.stapsdt"))
		return false;
	data = elf_getdata(scn, NULL);
	return data && data->d_buf && memmem(data->d_buf, data->d_size, "refalloc", 9);
}


const char *const refalloc_probes[] = {
	"malloc_entry", "malloc_return", "free_entry", "free_return", "calloc_entry", "calloc_return",
	"realloc_entry", "realloc_return", "reallocarray_entry", "reallocarray_return",
	"posix_memalign_entry", "posix_memalign_return", "aligned_alloc_entry", "aligned_alloc_return",
	"memalign_entry", "memalign_return", "valloc_entry", "valloc_return", "pvalloc_entry", "pvalloc_return",
	/* its decisions: why a syscall was made */
	"heap_grow", "heap_trim", "heap_madvise", "freelist_miss", "block_mmap", "block_munmap", "block_mremap",
};
const size_t refalloc_nprobes = sizeof(refalloc_probes) / sizeof(refalloc_probes[0]);
