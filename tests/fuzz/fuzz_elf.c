/* fuzz_elf.c - libFuzzer harness for the ELF/DWARF path of the unwinder and
 * the symbolizer (user/symbols/): the input is an object file, mapped (in a
 * made-up maps text) as the code of a process; a stack made of addresses in
 * that mapping is unwound with its CFI, each frame symbolized (symbols,
 * file:line), and its build-id read. Seeds: the example programs and small
 * objects (tests/fuzz/seeds.sh). A fresh unwinder and symbolizer each run:
 * nothing is cached from one input to the next. */
#include <stdint.h>
#include <string.h>
#include "symbols/elf.h"
#include "symbols/symbolize.h"
#include "symbols/unwind.h"
#include "fuzz_util.h"

#define BASE 0x555555554000ull
#define STACK 0x7ffffffde000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	char maps[512], id[130];
	uint64_t stack[64], ips[32], h = 1469598103934665603ull;
	struct proc_maps *m;
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct unwind_regs regs;
	struct symbol_info si;
	int n;

	if (!u || !s)
		abort();
	symbolizer_set_debug_root(s, "/nonexistent-fuzz-debug-root");
	snprintf(maps, sizeof(maps),
		 "%llx-%llx r-xp 00000000 00:00 1 %s\n"
		 "%llx-%llx rw-p 00000000 00:00 0 [stack]\n",
		 BASE, BASE + 0x100000, path, STACK, STACK + 0x21000);
	m = proc_maps_parse(maps, strlen(maps));
	if (!m)
		abort();
	/* the stack: addresses in the mapping, chosen by the input's bytes */
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	for (size_t i = 0; i < sizeof(stack) / sizeof(stack[0]); i++) {
		h = h * 6364136223846793005ull + 1442695040888963407ull;
		stack[i] = i % 3 == 2 ? STACK + 0x100 + 8 * i : BASE + ((h >> 33) % (size ? size : 1));
	}
	regs = (struct unwind_regs){ .ip = BASE + (size > 64 ? (h >> 40) % size : 0), .sp = STACK + 0x100,
				     .bp = STACK + 0x180 };
	n = unwind_stack(u, m, &regs, stack, sizeof(stack), ips, 32);
	for (int i = 0; i < n; i++)
		symbolize(s, m, unwind_call_site(ips, i), &si);
	for (size_t i = 0; i < 8; i++)
		symbolize(s, m, stack[i], &si);
	elf_build_id_hex(path, id, sizeof(id));
	proc_maps_free(m);
	symbolizer_free(s);
	unwinder_free(u);
	return 0;
}
