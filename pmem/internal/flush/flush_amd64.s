#include "textflag.h"

// Each flush routine takes the first byte of a non-empty range and its
// length, rounds the start down to its cache line and issues one write-back
// per 64-byte line until the line containing the last byte has been covered.
// The start pointer itself is passed (not the rounded-down address) so that
// the garbage collector always sees a pointer into the live object.
//
// The Go assembler knows CLWB, CLFLUSHOPT and CLFLUSH; with AX as the base
// register they encode as 66 0F AE 30, 66 0F AE 38 and 0F AE 38.

// func flushCLWB(p unsafe.Pointer, n uintptr)
TEXT ·flushCLWB(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JZ   done
	ADDQ AX, CX         // CX = end (exclusive)
	ANDQ $~63, AX       // AX = first line
loop:
	CLWB (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB   loop
done:
	RET

// func flushCLFLUSHOPT(p unsafe.Pointer, n uintptr)
TEXT ·flushCLFLUSHOPT(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JZ   done
	ADDQ AX, CX
	ANDQ $~63, AX
loop:
	CLFLUSHOPT (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB   loop
done:
	RET

// func flushCLFLUSH(p unsafe.Pointer, n uintptr)
TEXT ·flushCLFLUSH(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JZ   done
	ADDQ AX, CX
	ANDQ $~63, AX
loop:
	CLFLUSH (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB   loop
done:
	RET

// func Fence()
TEXT ·Fence(SB), NOSPLIT, $0-0
	SFENCE
	RET
