package sys

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscallABI is one ABI a process may make system calls through
// (seccomp_data.arch), with the numbers the filter looks at in it: a call
// has one number per ABI, and a filter that looked at the native numbers
// alone would let a 32-bit program through.
type syscallABI struct {
	arch                          uint32
	ioctl, clone, unshare, clone3 []uint32
}

// x32 is the bit x32's numbers have, under the x86-64 arch: its ioctl is
// 514. Kernels before 5.4 built with x32 kept its calls in the native
// table: they also took the native number with the bit, and 514 without
// it (x32's ioctl, reached by a 64-bit process).
const x32 = 0x40000000

// syscallABIs are, for each architecture workshop has a filter for, the
// ABIs its processes may call through: a 64-bit x86 process also through
// the i386 ABI (int 0x80) and the x32 one, an arm64 one through 32-bit
// ARM's. The numbers are written out, from the kernel's syscall tables:
// x/sys's constants are those of the architecture it is built for.
var syscallABIs = map[string][]syscallABI{
	"amd64": {
		{arch: unix.AUDIT_ARCH_X86_64, ioctl: []uint32{16, x32 | 514, x32 | 16, 514}, clone: []uint32{56, x32 | 56}, unshare: []uint32{272, x32 | 272}, clone3: []uint32{435, x32 | 435}},
		{arch: unix.AUDIT_ARCH_I386, ioctl: []uint32{54}, clone: []uint32{120}, unshare: []uint32{310}, clone3: []uint32{435}},
	},
	"arm64": {
		{arch: unix.AUDIT_ARCH_AARCH64, ioctl: []uint32{29}, clone: []uint32{220}, unshare: []uint32{97}, clone3: []uint32{435}},
		{arch: unix.AUDIT_ARCH_ARM, ioctl: []uint32{54}, clone: []uint32{120}, unshare: []uint32{337}, clone3: []uint32{435}},
	},
}

// ErrNoFilter is InstallFilter's answer on an architecture it has no table for.
var ErrNoFilter = fmt.Errorf("no seccomp filter for %s in workshop", runtime.GOARCH)

// Filter is what InstallFilter refuses; every other call is made as before.
type Filter struct {
	// Ioctls are ioctl requests that fail with EPERM.
	Ioctls []uint32
	// NoUserNamespace makes clone and unshare with CLONE_NEWUSER fail
	// with EPERM, and clone3, whose flags sit in a struct the filter
	// cannot read, with ENOSYS: the C library then falls back to clone,
	// as it does on a kernel older than clone3 (Docker's filter does the
	// same).
	NoUserNamespace bool
}

// InstallFilter installs a seccomp filter, prctl(PR_SET_SECCOMP,
// SECCOMP_MODE_FILTER, …), on the calling thread: from then on, for it and
// every program it runs, the calls f names fail and every other one is
// made as before. The filter is a classic BPF program the kernel runs at
// each system call, on its number, its ABI and its arguments (struct
// seccomp_data: nr at 0, arch at 4, args from 16, 8 bytes each); it
// cannot be taken away. An ioctl's request is an unsigned int and clone's
// and unshare's CLONE_NEWUSER is in their flags' low half: the low 32 bits
// of an argument (this is a little-endian machine) are what it reads.
func (n *Narrator) InstallFilter(f Filter) error {
	abis, ok := syscallABIs[runtime.GOARCH]
	if !ok {
		return ErrNoFilter
	}
	if len(f.Ioctls) == 0 && !f.NoUserNamespace {
		return fmt.Errorf("a seccomp filter that refuses nothing")
	}
	filter := filterProgram(abis, f)
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// syscall.Syscall itself: a pointer turned into a uintptr is kept
	// valid only in the argument list of that call (unsafe.Pointer's rule).
	var err error
	if _, _, e := syscall.Syscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		err = e
	}
	runtime.KeepAlive(filter)
	n.record("prctl", fmt.Sprintf("PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=%d, filter=…}", len(filter)), 0, err)
	if err != nil {
		return fmt.Errorf("prctl(PR_SET_SECCOMP): %w", err)
	}
	return nil
}

// filterProgram is the BPF program of f for a process that may call
// through abis: for each ABI, the call's number is compared with those f
// looks at, which go on to the tests of their arguments or are refused
// outright; any other call, or ABI, is allowed.
func filterProgram(abis []syscallABI, f Filter) []unix.SockFilter {
	const (
		ldW    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset   = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret    = unix.BPF_RET | unix.BPF_K
		nrAt   = 0
		abiAt  = 4
		arg0At = 16       // args[0], its low half: clone's and unshare's flags
		arg1At = 16 + 8*1 // args[1], its low half: ioctl's request
		errno  = unix.SECCOMP_RET_ERRNO
	)
	// The program, with jumps to labels resolved at the end.
	type insn struct {
		code   uint16
		k      uint32
		jt, jf string // labels: "" is the next instruction
		label  string
	}
	var prog []insn
	add := func(i insn) { prog = append(prog, i) }
	// The calls looked at, and where each goes: the tests of its
	// arguments, or a refusal whatever they are.
	type rule struct {
		nrs func(syscallABI) []uint32
		to  string
	}
	var rules []rule
	if len(f.Ioctls) > 0 {
		rules = append(rules, rule{func(a syscallABI) []uint32 { return a.ioctl }, "request"})
	}
	if f.NoUserNamespace {
		rules = append(rules,
			rule{func(a syscallABI) []uint32 { return a.clone }, "flags"},
			rule{func(a syscallABI) []uint32 { return a.unshare }, "flags"},
			rule{func(a syscallABI) []uint32 { return a.clone3 }, "enosys"})
	}
	for i, abi := range abis {
		next := fmt.Sprintf("abi%d", i+1)
		if i == len(abis)-1 {
			next = "allow"
		}
		add(insn{code: ldW, k: abiAt, label: fmt.Sprintf("abi%d", i)})
		add(insn{code: jeq, k: abi.arch, jf: next})
		add(insn{code: ldW, k: nrAt})
		var tests []insn
		for _, r := range rules {
			for _, nr := range r.nrs(abi) {
				tests = append(tests, insn{code: jeq, k: nr, jt: r.to})
			}
		}
		// A call that is none of them is allowed.
		tests[len(tests)-1].jf = "allow"
		prog = append(prog, tests...)
	}
	if len(f.Ioctls) > 0 {
		add(insn{code: ldW, k: arg1At, label: "request"})
		for j, req := range f.Ioctls {
			jf := ""
			if j == len(f.Ioctls)-1 {
				jf = "allow"
			}
			add(insn{code: jeq, k: req, jt: "deny", jf: jf})
		}
	}
	if f.NoUserNamespace {
		add(insn{code: ldW, k: arg0At, label: "flags"})
		add(insn{code: jset, k: unix.CLONE_NEWUSER, jt: "deny", jf: "allow"})
		add(insn{code: ret, k: errno | uint32(unix.ENOSYS), label: "enosys"})
	}
	add(insn{code: ret, k: unix.SECCOMP_RET_ALLOW, label: "allow"})
	add(insn{code: ret, k: errno | uint32(unix.EPERM), label: "deny"})
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
		// A jump reaches at most 255 instructions ahead; these
		// programs have some forty.
		filter[i] = unix.SockFilter{Code: in.code, K: in.k, Jt: skip(in.jt), Jf: skip(in.jf)}
	}
	return filter
}
