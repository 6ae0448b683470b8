#include "textflag.h"

// Bulk non-temporal copy kernels. Preconditions (established by copyNT):
// n is a non-zero multiple of 64 and dst is 64-byte aligned, so every
// iteration fills exactly one whole cache line with streaming stores (which
// lets the write-combining buffer emit full-line writes). src may have any
// alignment and is read with unaligned loads. No fence is issued.

// func copyNTSSE2(dst, src unsafe.Pointer, n uintptr)
TEXT ·copyNTSSE2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $6, CX
	JZ   done
loop:
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVNTO X0, 0(DI)
	MOVNTO X1, 16(DI)
	MOVNTO X2, 32(DI)
	MOVNTO X3, 48(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop
done:
	RET

// func copyNTAVX2(dst, src unsafe.Pointer, n uintptr)
TEXT ·copyNTAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $6, CX
	JZ   done
	// Two lines per iteration while at least two remain.
	CMPQ CX, $2
	JB   one
loop2:
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VMOVNTDQ Y0, 0(DI)
	VMOVNTDQ Y1, 32(DI)
	VMOVNTDQ Y2, 64(DI)
	VMOVNTDQ Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $2, CX
	CMPQ CX, $2
	JAE  loop2
	TESTQ CX, CX
	JZ   out
one:
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVNTDQ Y0, 0(DI)
	VMOVNTDQ Y1, 32(DI)
out:
	// Leave the upper YMM halves clean to avoid AVX-SSE transition
	// penalties in the (SSE-using) Go code that follows.
	VZEROUPPER
done:
	RET
