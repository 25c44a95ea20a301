#include "textflag.h"

// func vforkClone(flags uintptr) (pid uintptr, errno uintptr)
//
// clone(2) with flags and no stack of its own for the child: with CLONE_VM
// and CLONE_VFORK in flags, the child runs on this very stack while the
// parent sleeps until the child's execve or exit. So the child's calls will
// overwrite the slot holding this function's return address before the
// parent returns through it: the address is kept in R12 across the system
// call (the kernel saves it, and the child gets a copy) and pushed back.
TEXT ·vforkClone(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	flags+0(FP), DI
	MOVQ	$0, SI	// no new stack
	MOVQ	$0, DX	// no parent_tid
	MOVQ	$0, R10	// no child_tid
	MOVQ	$0, R8	// no tls
	MOVQ	$56, AX	// SYS_clone
	POPQ	R12
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $-4095	// -4095..-1: an errno
	JCC	failed
	MOVQ	AX, pid+8(FP)
	MOVQ	$0, errno+16(FP)
	RET
failed:
	NEGQ	AX
	MOVQ	$0, pid+8(FP)
	MOVQ	AX, errno+16(FP)
	RET
