/* placement.c - where an entry point's uprobe goes. The kernel emulates a
 * few instructions when a uprobe hits them (a jump, a call, a conditional
 * jump, a push, a nop) and single-steps every other one out of line, which
 * costs several µs more a hit. An entry point whose first instruction is
 * single-stepped gets its probe moved to the first emulated instruction of
 * its first bytes, provided every instruction before it is straight-line
 * code (no branch: every call passes there) that leaves the stack pointer,
 * and so the return address at it, untouched, and keeps each argument the
 * table reads in some register: in its own, or (when the caller takes a
 * register map: a BPF attach cookie, FL_ARGMAP_*) in one a 64-bit register
 * move copied it to (mimalloc's malloc moves its size to %rsi and reuses
 * %rdi before its first jump). placement_jumped_into() then checks that no
 * branch of the object lands between the entry and the probe (a second hit
 * there would count one call twice).
 *
 * The decoder knows only the few forms allocators start with (mov, lea,
 * test, cmp, and, shifts, endbr64; register and rip-relative operands); on
 * anything else the probe stays at the entry.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "capture/alloc/families.h"

#define REG_RSP 4
#define SCAN_BYTES 64

/* The registers of the first four integer arguments: rdi rsi rdx rcx. */
static const int arg_reg[4] = { 7, 6, 2, 1 };

/* Bytes of a modrm operand (modrm byte, SIB, displacement), or -1. */
static int modrm_len(const uint8_t *p, size_t left)
{
	uint8_t m, mod, rm;
	int n = 1;

	if (left < 1)
		return -1;
	m = p[0];
	mod = m >> 6;
	rm = m & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* SIB */
		if (left < 2)
			return -1;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return (size_t)n <= left ? n : -1;
}

enum insn_kind { INSN_UNKNOWN, INSN_STRAIGHT, INSN_EMULATED };

/* One instruction at p: its kind, length and the register it writes (-1:
 * none; a write to memory is refused as unknown); a 64-bit move from one
 * register to another sets *copies to the source register (else -1). */
static enum insn_kind decode(const uint8_t *p, size_t left, int *len, int *writes, int *copies)
{
	size_t i = 0;
	uint8_t rex = 0, op, reg, rm;
	int ml;

	*writes = -1;
	*copies = -1;
	if (left >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		return *len = 4, INSN_STRAIGHT; /* endbr64 */
	while (i < left && (p[i] == 0x64 || p[i] == 0x65))
		i++; /* %fs:, %gs: */
	if (i < left && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i >= left)
		return INSN_UNKNOWN;
	op = p[i++];
	if ((op >= 0x50 && op <= 0x57) || op == 0x90 || op == 0xe8 || op == 0xe9 || op == 0xeb ||
	    (op >= 0x70 && op <= 0x7f) || (op == 0x0f && i < left && (p[i] & 0xf0) == 0x80))
		return *len = 1, INSN_EMULATED; /* the length is not needed: the probe goes here */
	if (op >= 0xb8 && op <= 0xbf) { /* mov $imm, %reg */
		*writes = (op & 7) | ((rex & 1) << 3);
		*len = (int)i + ((rex & 8) ? 8 : 4);
		return (size_t)*len <= left ? INSN_STRAIGHT : INSN_UNKNOWN;
	}
	if (op == 0x3d || op == 0x25 || op == 0xa9) { /* cmp/and/test $imm32, %eax */
		*writes = op == 0x25 ? 0 : -1;
		*len = (int)i + 4;
		return (size_t)*len <= left ? INSN_STRAIGHT : INSN_UNKNOWN;
	}
	if (i >= left)
		return INSN_UNKNOWN;
	ml = modrm_len(p + i, left - i);
	if (ml < 0)
		return INSN_UNKNOWN;
	reg = ((p[i] >> 3) & 7) | ((rex & 4) << 1);
	rm = (p[i] & 7) | ((rex & 1) << 3);
	*len = (int)i + ml;
	switch (op) {
	case 0x85: case 0x39: case 0x3b: /* test, cmp: flags only */
		return INSN_STRAIGHT;
	case 0x8b: case 0x8d: case 0x03: case 0x23: case 0x33: case 0x2b: case 0x0b: /* op r/m -> reg */
		*writes = reg;
		if (op == 0x8b && (rex & 8) && p[i] >> 6 == 3)
			*copies = rm;
		return INSN_STRAIGHT;
	case 0x89: case 0x01: case 0x21: case 0x31: case 0x29: case 0x09: /* op reg -> r/m: registers only */
		if (p[i] >> 6 != 3)
			return INSN_UNKNOWN;
		*writes = rm;
		if (op == 0x89 && (rex & 8))
			*copies = reg;
		return INSN_STRAIGHT;
	case 0x81: case 0x83: case 0xc1: { /* group 1 (imm32, imm8), group 2 shifts (imm8) */
		int imm = op == 0x81 ? 4 : 1;

		*len += imm;
		if ((size_t)*len > left)
			return INSN_UNKNOWN;
		if (op != 0xc1 && ((p[i] >> 3) & 7) == 7)
			return INSN_STRAIGHT; /* cmp */
		if (p[i] >> 6 != 3)
			return INSN_UNKNOWN;
		*writes = rm;
		return INSN_STRAIGHT;
	}
	default:
		return INSN_UNKNOWN;
	}
}

bool placement_emulated(const uint8_t *code, size_t len)
{
	int n, w, c;

	return decode(code, len, &n, &w, &c) == INSN_EMULATED;
}

/* Where the arguments are after one instruction that writes register w,
 * copying register c into it (-1: no copy): held[a] is a bit per register
 * holding C argument a + 1. False if an argument read is in no register. */
static bool track(uint32_t held[4], unsigned args, int w, int c, bool remap)
{
	for (int a = 0; a < 4; a++) {
		if (!(args & (1u << a)) || w < 0)
			continue;
		if (c >= 0 && (held[a] & (1u << c)) && remap)
			held[a] |= 1u << w;
		else
			held[a] &= ~(1u << w);
		if (!held[a])
			return false;
	}
	return true;
}

static int lowest_bit(uint32_t v)
{
	for (int r = 0; r < 16; r++)
		if (v & (1u << r))
			return r;
	return -1;
}

uint64_t placement_skip(const uint8_t *code, size_t len, unsigned args, int regs[4])
{
	uint32_t held[4];
	size_t off = 0;

	for (int a = 0; a < 4; a++)
		held[a] = 1u << arg_reg[a];
	if (len > SCAN_BYTES)
		len = SCAN_BYTES;
	while (off < len) {
		int n, w, c;
		enum insn_kind k = decode(code + off, len - off, &n, &w, &c);

		if (k == INSN_EMULATED) {
			for (int a = 0; regs && a < 4; a++)
				regs[a] = (held[a] & (1u << arg_reg[a])) ? arg_reg[a] : lowest_bit(held[a]);
			return off;
		}
		if (k != INSN_STRAIGHT || w == REG_RSP || !track(held, args, w, c, regs != NULL))
			return 0;
		off += (size_t)n;
	}
	return 0;
}

/* A rel8 or rel32 branch or call whose first byte is at p (vaddr at): its
 * target, or false. */
static bool branch_target(const uint8_t *p, size_t left, uint64_t at, uint64_t *target)
{
	int32_t rel;

	if (left >= 2 && ((p[0] >= 0x70 && p[0] <= 0x7f) || p[0] == 0xeb)) {
		*target = at + 2 + (uint64_t)(int64_t)(int8_t)p[1];
		return true;
	}
	if (left >= 5 && (p[0] == 0xe8 || p[0] == 0xe9)) {
		memcpy(&rel, p + 1, 4);
		*target = at + 5 + (uint64_t)(int64_t)rel;
		return true;
	}
	if (left >= 6 && p[0] == 0x0f && (p[1] & 0xf0) == 0x80) {
		memcpy(&rel, p + 2, 4);
		*target = at + 6 + (uint64_t)(int64_t)rel;
		return true;
	}
	return false;
}

void placement_jumped_into(const uint8_t *code, size_t len, uint64_t vaddr, const uint64_t *lo,
			   const uint64_t *hi, bool *hit, int n)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t t;

		if (!branch_target(code + i, len - i, vaddr + i, &t))
			continue;
		for (int k = 0; k < n; k++)
			if (t > lo[k] && t <= hi[k])
				hit[k] = true;
	}
}
