/* test_placement.c - where a probe goes (capture/alloc/placement.c): on the
 * first instruction the kernel emulates, past straight-line code that leaves
 * the stack pointer and the arguments read untouched; else at the entry.
 * The byte sequences are the first instructions of real allocators (Debian
 * 12's libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0, libstdc++). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "capture/alloc/families.h"

#define ARG1 1u
#define SKIP(bytes, args) placement_skip(bytes, sizeof(bytes), args, NULL)

static void test_emulated_first(void **state)
{
	static const uint8_t push[] = { 0x55, 0x48, 0x89, 0xe5 };            /* push %rbp */
	static const uint8_t jmp[] = { 0xe9, 0xeb, 0xaf, 0xf5, 0xff };        /* jemalloc's delete: jmp free */

	(void)state;
	assert_int_equal(SKIP(push, ARG1), 0);
	assert_int_equal(SKIP(jmp, ARG1), 0);
}

static void test_past_straight_code(void **state)
{
	/* jemalloc malloc: cmp $0x1000,%rdi; ja */
	static const uint8_t je_malloc[] = { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x87, 0x93, 0, 0, 0 };
	/* tcmalloc free: mov 0x1bb159(%rip),%rax; test %rax,%rax; jne */
	static const uint8_t tc_free[] = { 0x48, 0x8b, 0x05, 0x59, 0xb1, 0x1b, 0x00, 0x48, 0x85, 0xc0, 0x0f, 0x85, 0x90, 0, 0, 0 };
	/* libstdc++ delete: endbr64; jmp free@plt */
	static const uint8_t cxx_delete[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0x87, 0x2f, 0xff, 0xff };
	/* jemalloc free: six straight-line instructions (fs: and SIB operands among them), then jne at 48 */
	static const uint8_t je_free[] = {
		0x48, 0x89, 0xf8, 0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00, 0x48, 0x89, 0xf9, 0x48, 0xc1, 0xe8,
		0x1a, 0x48, 0x81, 0xe1, 0x00, 0x00, 0x00, 0xc0, 0x25, 0xf0, 0x00, 0x00, 0x00, 0x64, 0x48, 0x03,
		0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0x48, 0x01, 0xd0, 0x48, 0x3b, 0x88, 0xb0, 0x01, 0x00, 0x00,
		0x0f, 0x85, 0x8a, 0x00, 0x00, 0x00 };

	(void)state;
	assert_int_equal(SKIP(je_malloc, ARG1), 7);
	assert_int_equal(SKIP(tc_free, ARG1), 10);
	assert_int_equal(SKIP(cxx_delete, ARG1), 4);
	assert_int_equal(SKIP(je_free, ARG1), 48);
}

static void test_stays_at_entry(void **state)
{
	/* mimalloc malloc: its size moves to %rsi and %rdi is overwritten before the first jump */
	static const uint8_t mi_malloc[] = { 0x48, 0x8b, 0x05, 0x49, 0xb4, 0x00, 0x00, 0x48, 0x89, 0xfe, 0x64, 0x48,
					     0x8b, 0x38, 0x48, 0x81, 0xfe, 0x00, 0x04, 0x00, 0x00, 0x77, 0x29 };
	/* sub $8,%rsp before the call: the return address is no longer at the stack pointer */
	static const uint8_t moves_sp[] = { 0x48, 0x83, 0xec, 0x08, 0xe8, 0x12, 0x33, 0xf8, 0xff };
	/* a store to memory, then a jump */
	static const uint8_t store[] = { 0x48, 0x89, 0x07, 0x74, 0x10 };
	/* an instruction the decoder does not know (imul), then a jump */
	static const uint8_t unknown[] = { 0x48, 0x0f, 0xaf, 0xc7, 0x74, 0x10 };
	/* no jump within the bytes given */
	static const uint8_t no_jump[] = { 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf8 };

	(void)state;
	assert_int_equal(SKIP(mi_malloc, ARG1), 0);
	assert_int_equal(SKIP(moves_sp, ARG1), 0);
	assert_int_equal(SKIP(store, ARG1), 0);
	assert_int_equal(SKIP(unknown, ARG1), 0);
	assert_int_equal(SKIP(no_jump, ARG1), 0);
}

/* Only the arguments the table reads must survive: mov to %rdx is fine for
 * free (one argument), not for a function whose third argument is read. */
static void test_arguments_read(void **state)
{
	static const uint8_t writes_rdx[] = { 0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00, 0x74, 0x10 };

	(void)state;
	assert_int_equal(SKIP(writes_rdx, ARG1), 7);
	assert_int_equal(SKIP(writes_rdx, ARG1 | 4u), 0);
}

/* With a register map, an argument may move: mimalloc's malloc copies its
 * size to %rsi and overwrites %rdi; its probe goes to the ja at 21, the
 * size read from %rsi (6). A 32-bit move does not carry a 64-bit argument. */
static void test_arguments_moved(void **state)
{
	static const uint8_t mi_malloc[] = { 0x48, 0x8b, 0x05, 0x49, 0xb4, 0x00, 0x00, 0x48, 0x89, 0xfe, 0x64, 0x48,
					     0x8b, 0x38, 0x48, 0x81, 0xfe, 0x00, 0x04, 0x00, 0x00, 0x77, 0x29 };
	static const uint8_t mov32[] = { 0x89, 0xfe, 0x31, 0xff, 0x74, 0x10 }; /* mov %edi,%esi; xor %edi,%edi; je */
	static const uint8_t kept[] = { 0x48, 0x89, 0xfe, 0x74, 0x10 };       /* mov %rdi,%rsi; je: %rdi still holds it */
	int regs[4] = { 7, 6, 2, 1 };

	(void)state;
	assert_int_equal(placement_skip(mi_malloc, sizeof(mi_malloc), ARG1, regs), 21);
	assert_int_equal(regs[0], 6);
	assert_int_equal(placement_skip(mov32, sizeof(mov32), ARG1, regs), 0);
	assert_int_equal(placement_skip(kept, sizeof(kept), ARG1, regs), 3);
	assert_int_equal(regs[0], 7);
}

/* A branch landing between an entry and its probe, or on the probe, is
 * found; one landing on the entry or past the probe is not. */
static void test_jumped_into(void **state)
{
	/* at 0x1000: jne 0x1010 (rel8 +14); at 0x1002: jmp 0x1008 (rel32) */
	static const uint8_t code[] = { 0x75, 0x0e, 0xe9, 0x01, 0x00, 0x00, 0x00 };
	uint64_t lo[3] = { 0x1007, 0x1008, 0x1010 }, hi[3] = { 0x1008, 0x100f, 0x1020 };
	bool hit[3] = { false, false, false };

	(void)state;
	placement_jumped_into(code, sizeof(code), 0x1000, lo, hi, hit, 3);
	assert_true(hit[0]);
	assert_false(hit[1]);
	assert_false(hit[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emulated_first),
		cmocka_unit_test(test_past_straight_code),
		cmocka_unit_test(test_stays_at_entry),
		cmocka_unit_test(test_arguments_read),
		cmocka_unit_test(test_arguments_moved),
		cmocka_unit_test(test_jumped_into),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
