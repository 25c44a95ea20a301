package sys

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallABIs are, for this program's architecture, the ABIs a process may
// make system calls through (seccomp_data.arch) and the number of ioctl in
// each: a 64-bit x86 process may also call through the i386 ABI (int 0x80)
// and the x32 one (its numbers have bit 30 set: x32's ioctl is 514, and
// kernels before 5.4 also took the native number with the bit), an arm64
// one through
// 32-bit ARM's. A filter that looked at the native number alone would let a
// 32-bit program through.
var syscallABIs = map[string][]struct {
	arch   uint32
	ioctls []uint32
}{
	"amd64": {{unix.AUDIT_ARCH_X86_64, []uint32{unix.SYS_IOCTL, 0x40000000 | 514, 0x40000000 | unix.SYS_IOCTL}}, {unix.AUDIT_ARCH_I386, []uint32{54}}},
	"arm64": {{unix.AUDIT_ARCH_AARCH64, []uint32{unix.SYS_IOCTL}}, {unix.AUDIT_ARCH_ARM, []uint32{54}}},
}

// ErrNoFilter is DenyIoctls's answer on an architecture it has no table for.
var ErrNoFilter = fmt.Errorf("no seccomp filter for %s in workshop", runtime.GOARCH)

// DenyIoctls installs a seccomp filter, prctl(PR_SET_SECCOMP,
// SECCOMP_MODE_FILTER, …): from then on, for this process and every
// program it runs, an ioctl whose request is one of requests fails with
// EPERM, and every other call is made as before. The filter is a classic
// BPF program the kernel runs at each system call, on its number, its
// ABI and its arguments (struct seccomp_data: nr at 0, arch at 4, args
// from 16); it cannot be taken away. The request is an unsigned int: its
// low 32 bits (this is a little-endian machine) are what the kernel reads.
func (n *Narrator) DenyIoctls(requests ...uint32) error {
	abis, ok := syscallABIs[runtime.GOARCH]
	if !ok {
		return ErrNoFilter
	}
	const (
		ldW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		nrAt  = 0
		abiAt = 4
		reqAt = 16 + 8*1 // args[1], its low half
	)
	// The program, with jumps to labels resolved at the end: allow and
	// deny are its last two instructions, check the start of the request
	// tests.
	type insn struct {
		code   uint16
		k      uint32
		jt, jf string // labels: "" is the next instruction
		label  string
	}
	var prog []insn
	add := func(i insn) { prog = append(prog, i) }
	for i, abi := range abis {
		next := fmt.Sprintf("abi%d", i+1)
		if i == len(abis)-1 {
			next = "allow"
		}
		add(insn{code: ldW, k: abiAt, label: fmt.Sprintf("abi%d", i)})
		add(insn{code: jeq, k: abi.arch, jf: next})
		add(insn{code: ldW, k: nrAt})
		for j, nr := range abi.ioctls {
			jf := ""
			if j == len(abi.ioctls)-1 {
				jf = "allow"
			}
			add(insn{code: jeq, k: nr, jt: "check", jf: jf})
		}
	}
	add(insn{code: ldW, k: reqAt, label: "check"})
	for j, req := range requests {
		jf := ""
		if j == len(requests)-1 {
			jf = "allow"
		}
		add(insn{code: jeq, k: req, jt: "deny", jf: jf})
	}
	add(insn{code: ret, k: unix.SECCOMP_RET_ALLOW, label: "allow"})
	add(insn{code: ret, k: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM), label: "deny"})
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		skip := func(label string) uint8 {
			if label == "" {
				return 0
			}
			return uint8(at[label] - i - 1)
		}
		filter[i] = unix.SockFilter{Code: in.code, K: in.k, Jt: skip(in.jt), Jf: skip(in.jf)}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// syscall.Syscall itself: a pointer turned into a uintptr is kept
	// valid only in the argument list of that call (unsafe.Pointer's rule).
	var err error
	if _, _, errno := syscall.Syscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		err = errno
	}
	runtime.KeepAlive(filter)
	n.record("prctl", fmt.Sprintf("PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=%d, filter=…}", len(filter)), 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_SET_SECCOMP): %w", err)
	}
	return nil
}
