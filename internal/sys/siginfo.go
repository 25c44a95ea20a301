package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The si_code values of a SIGCHLD's siginfo (<asm-generic/siginfo.h>):
// how the child changed.
const (
	CLDExited  = 1 // it exited; Status is its exit code
	CLDKilled  = 2 // a signal killed it; Status is the signal
	CLDDumped  = 3 // a signal killed it, and it dumped core
	CLDStopped = 5 // a signal stopped it; Status is the signal
)

// ChildInfo reads what waitid filled in of info about a child: its pid
// (0 when none had changed, with WNOHANG), how it changed (si_code: a
// CLD* value) and the status that goes with it. The fields follow
// si_signo, si_errno and si_code, in the union the kernel aligns as a
// pointer: at 16 bytes on a 64-bit machine, 12 on a 32-bit one; x/sys
// gives the union as raw bytes.
func ChildInfo(info *unix.Siginfo) (pid int, code int, status int) {
	head := (*struct{ Signo, Errno, Code int32 })(unsafe.Pointer(info))
	align := unsafe.Alignof(uintptr(0))
	union := (unsafe.Sizeof(*head) + align - 1) &^ (align - 1)
	child := (*struct {
		Pid    int32
		Uid    uint32
		Status int32
	})(unsafe.Add(unsafe.Pointer(info), union))
	return int(child.Pid), int(head.Code), int(child.Status)
}
