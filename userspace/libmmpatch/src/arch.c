// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The jump written at the entry of a replaced function, per architecture.
 *
 * A short direct branch when the replacement is within its reach (patches
 * are mapped near the text for that), otherwise an absolute jump through a
 * register that the calling convention lets us clobber at a function entry.
 */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__)

/*
 * endbr64: the landing pad of indirect branches (CET IBT).  Jumping over it
 * keeps the entry a valid target of indirect calls.
 */
static const unsigned char endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

size_t mmp_entry_skip(const unsigned char *code, size_t room)
{
	if (room >= sizeof(endbr64) && !memcmp(code, endbr64, sizeof(endbr64)))
		return sizeof(endbr64);
	return 0;
}

size_t mmp_encode_jump(uintptr_t site, uintptr_t target, size_t room,
		       unsigned char *buf)
{
	int64_t rel = (int64_t)(target - (site + 5));

	if (room >= 5 && rel >= INT32_MIN && rel <= INT32_MAX) {
		int32_t r32 = (int32_t)rel;

		buf[0] = 0xe9;				/* jmp rel32 */
		memcpy(buf + 1, &r32, 4);
		return 5;
	}
	if (room >= 13) {
		/*
		 * movabs $target, %r11; jmp *%r11.  r11 is scratch at a call
		 * boundary and carries no argument; rax would not do: it holds
		 * the vector register count of variadic calls.
		 */
		buf[0] = 0x49;
		buf[1] = 0xbb;
		memcpy(buf + 2, &target, 8);
		buf[10] = 0x41;
		buf[11] = 0xff;
		buf[12] = 0xe3;
		return 13;
	}
	return 0;
}

void mmp_sync_core(void)
{
	unsigned int a = 0, b, c = 0, d;

	/* cpuid is serializing: no stale prefetched instructions survive. */
	__asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)
			     : : "memory");
}

/* Reach of jmp rel32. */
#define SHORT_REACH	(1UL << 31)

#elif defined(__aarch64__)

#define BTI_C	0xd503245fu
#define BTI_JC	0xd50324dfu

size_t mmp_entry_skip(const unsigned char *code, size_t room)
{
	uint32_t insn;

	if (room < 4)
		return 0;
	memcpy(&insn, code, 4);
	/* Keep the BTI landing pad for indirect calls into the old entry. */
	return insn == BTI_C || insn == BTI_JC ? 4 : 0;
}

size_t mmp_encode_jump(uintptr_t site, uintptr_t target, size_t room,
		       unsigned char *buf)
{
	int64_t off = (int64_t)(target - site);
	uint32_t insn[2];

	if (room >= 4 && !(off & 3) && off >= -(1L << 27) && off < (1L << 27)) {
		insn[0] = 0x14000000u | ((uint32_t)(off >> 2) & 0x03ffffffu); /* b */
		memcpy(buf, insn, 4);
		return 4;
	}
	if (room >= 16) {
		/*
		 * ldr x16, #8; br x16; .quad target.  x16 (IP0) is the
		 * register the ABI reserves for veneers between a call and
		 * its target, and a `bti c` target accepts br x16.
		 */
		insn[0] = 0x58000050u;
		insn[1] = 0xd61f0200u;
		memcpy(buf, insn, 8);
		memcpy(buf + 8, &target, 8);
		return 16;
	}
	return 0;
}

void mmp_sync_core(void)
{
	/* Discard instructions fetched before another CPU rewrote them. */
	__asm__ __volatile__("isb" : : : "memory");
}

/* Reach of b imm26. */
#define SHORT_REACH	(1UL << 27)

#else
#error "libmmpatch supports x86_64 and arm64"
#endif

uintptr_t mmp_map_hint(const struct mmp_program *prog, size_t len)
{
	uintptr_t lo = prog->text[0].start, hi = prog->text[0].end;
	int i;

	for (i = 1; i < prog->ntext; i++) {
		if (prog->text[i].start < lo)
			lo = prog->text[i].start;
		if (prog->text[i].end > hi)
			hi = prog->text[i].end;
	}
	/*
	 * Well above the text, so that brk() keeps room to grow (the heap of
	 * a non-PIE program starts right after it), and close enough for the
	 * short jump from every function.  The kernel takes the hint when the
	 * range is free; the jump falls back to the long form otherwise.
	 */
	if (hi - lo + len < SHORT_REACH / 2)
		return (hi + SHORT_REACH / 4 + 0xfffff) & ~(uintptr_t)0xfffff;
	return 0;
}
