package sys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A filter with Ioctls refuses the requests it is given and lets every
// other call through. It is installed on a thread of this test that
// ends with it (a filter cannot be taken away), beside a thread without
// it, which shows that the call would work: root may TIOCSTI into any
// terminal.
func TestFilterRefusesIoctls(t *testing.T) {
	if unix.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, and this test needs it")
		}
		t.Skip("TIOCSTI on a terminal that is not one's own needs root")
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	ptn, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := unix.Open("/dev/pts/"+strconv.Itoa(int(ptn)), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(slave)
	sti := func() error {
		c := byte('x')
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(slave), unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			return errno
		}
		return nil
	}
	if err := sti(); err != nil {
		t.Fatalf("TIOCSTI without the filter = %v: the test cannot show the filter's work", err)
	}
	type result struct {
		narration   string
		install, st error
		winsize     error
	}
	done := make(chan result)
	go func() {
		// Not unlocked: the thread ends with the goroutine, and its
		// filter with it.
		runtime.LockOSThread()
		var b strings.Builder
		r := result{install: New(&b, Options{}).InstallFilter(Filter{Ioctls: []uint32{unix.TIOCSTI, unix.TIOCLINUX}})}
		r.narration = b.String()
		r.st = sti()
		_, r.winsize = unix.IoctlGetWinsize(slave, unix.TIOCGWINSZ)
		done <- r
	}()
	r := <-done
	if r.install != nil {
		t.Fatalf("InstallFilter = %v", r.install)
	}
	if !errors.Is(r.st, unix.EPERM) {
		t.Errorf("TIOCSTI under the filter = %v, want EPERM", r.st)
	}
	if r.winsize != nil {
		t.Errorf("TIOCGWINSZ under the filter = %v, want it let through", r.winsize)
	}
	if !strings.Contains(r.narration, "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=") {
		t.Errorf("the filter's prctl is not narrated: %q", r.narration)
	}
}

// A filter with NoUserNamespace refuses clone and unshare with
// CLONE_NEWUSER, and clone3, and lets clone without it through. Each is
// tried first on a thread without the filter, which shows that it would
// work (clone3 with no arguments fails there with EINVAL, the kernel's
// answer, not ENOSYS, the filter's).
func TestFilterRefusesUserNamespaces(t *testing.T) {
	if unix.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, and this test needs it")
		}
		t.Skip("namespaces other than a user one need root")
	}
	attempts := []struct {
		name string
		try  func() error
		want error // under the filter; nil: let through
	}{
		{"clone(CLONE_NEWUSER)", func() error { return run(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}) }, unix.EPERM},
		{"unshare(CLONE_NEWUSER)", func() error { return run(&syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWUSER}) }, unix.EPERM},
		{"clone(CLONE_NEWUTS|CLONE_NEWNET)", func() error { return run(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUTS | unix.CLONE_NEWNET}) }, nil},
		{"clone3(NULL, 0)", func() error {
			if _, _, errno := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0); errno != 0 {
				return errno
			}
			return nil
		}, unix.ENOSYS},
	}
	for _, a := range attempts {
		err := a.try()
		if a.name == "clone3(NULL, 0)" {
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("%s without the filter = %v, want EINVAL", a.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s without the filter = %v: the test cannot show the filter's work", a.name, err)
		}
	}
	done := make(chan []error)
	var narration strings.Builder
	go func() {
		// Not unlocked: the thread ends with the goroutine, and its
		// filter with it. Go's clone is made on the calling thread.
		runtime.LockOSThread()
		errs := []error{New(&narration, Options{}).InstallFilter(Filter{NoUserNamespace: true})}
		if errs[0] == nil {
			for _, a := range attempts {
				errs = append(errs, a.try())
			}
		}
		done <- errs
	}()
	errs := <-done
	if errs[0] != nil {
		t.Fatalf("InstallFilter = %v", errs[0])
	}
	for i, a := range attempts {
		if got := errs[i+1]; a.want == nil && got != nil || a.want != nil && !errors.Is(got, a.want) {
			t.Errorf("%s under the filter = %v, want %v", a.name, got, a.want)
		}
	}
	if !strings.Contains(narration.String(), "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=") {
		t.Errorf("the filter's prctl is not narrated: %q", narration.String())
	}
}

// run runs /bin/true with attr and waits for it.
func run(attr *syscall.SysProcAttr) error {
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Sys: attr})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if ws.ExitStatus() != 0 {
		return fmt.Errorf("/bin/true: %v", ws)
	}
	return nil
}

// An empty filter is a mistake of the caller, not a prctl.
func TestEmptyFilterIsRefused(t *testing.T) {
	var b strings.Builder
	if err := New(&b, Options{}).InstallFilter(Filter{}); err == nil || b.Len() != 0 {
		t.Errorf("InstallFilter(Filter{}) = %v, narrated %q", err, b.String())
	}
}

// A 32-bit program calls unshare through the i386 ABI (int 0x80, number
// 310), which a filter that knew the native numbers only would let
// through. The program is written here, a whole ELF file of 104 bytes:
// unshare(CLONE_NEWUSER), then exit with the error's number (0: it
// worked, 1: EPERM).
func TestFilterRefusesUserNamespacesTo32BitPrograms(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the program is i386 code, which an amd64 kernel runs")
	}
	if unix.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, and this test needs it")
		}
		t.Skip("unshare(CLONE_NEWUSER) as root, in a test that makes other namespaces")
	}
	code := []byte{
		0xb8, 0x36, 0x01, 0x00, 0x00, // mov eax, 310 (unshare)
		0xbb, 0x00, 0x00, 0x00, 0x10, // mov ebx, CLONE_NEWUSER
		0xcd, 0x80, // int 0x80
		0x89, 0xc3, // mov ebx, eax
		0xf7, 0xdb, // neg ebx
		0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (exit)
		0xcd, 0x80, // int 0x80
	}
	const base = 0x08048000
	le := func(b []byte, v ...uint32) []byte {
		for _, x := range v {
			b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		return b
	}
	size := uint32(52 + 32 + len(code))
	elf := []byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	elf = append(elf, 2, 0, 3, 0) // ET_EXEC, EM_386
	elf = le(elf, 1, base+52+32, 52, 0, 0)
	elf = append(elf, 52, 0, 32, 0, 1, 0, 0, 0, 0, 0, 0, 0) // ehsize, phentsize, phnum 1, no sections
	elf = le(elf, 1, 0, base, base, size, size, 5, 0x1000)  // PT_LOAD of the whole file, r-x
	elf = append(elf, code...)
	prog := t.TempDir() + "/unshare32"
	if err := os.WriteFile(prog, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	exit := func() (int, error) {
		pid, err := syscall.ForkExec(prog, []string{prog}, &syscall.ProcAttr{})
		if err != nil {
			return 0, err
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return 0, err
		}
		return ws.ExitStatus(), nil
	}
	status, err := exit()
	if errors.Is(err, unix.ENOEXEC) && os.Getenv("CI") != "true" {
		// CI's kernels have it; a student's may not.
		t.Skip("this kernel runs no i386 program (no IA32 emulation): nothing can call through that ABI here")
	}
	if err != nil || status != 0 {
		t.Fatalf("the i386 program without the filter = exit %d, %v: want 0, its unshare working", status, err)
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		if err := New(io.Discard, Options{}).InstallFilter(Filter{NoUserNamespace: true}); err != nil {
			done <- result{err: err}
			return
		}
		code, err := exit()
		done <- result{code, err}
	}()
	r := <-done
	if r.err != nil || r.code != int(unix.EPERM) {
		t.Errorf("the i386 program under the filter = exit %d, %v: want %d (EPERM)", r.code, r.err, unix.EPERM)
	}
}

// runFilter runs prog on one call the way the kernel's seccomp does, for
// the instructions filterProgram uses (a load of 32 bits of struct
// seccomp_data, two kinds of conditional jump, return), and checks what
// the kernel checks before it takes a program: every jump lands inside
// it, and it ends in a return.
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		if in.Code&0x07 == unix.BPF_JMP && pc+1+int(max(in.Jt, in.Jf)) >= len(prog) {
			t.Fatalf("instruction %d jumps past the program's end", pc)
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: code %#x", pc, in.Code)
		}
	}
	t.Fatalf("the program ends without a return")
	return 0
}

// The filter's program, run here on calls through every ABI of both
// architectures workshop has tables for, x32 and 32-bit ARM included,
// which this machine cannot all make for real: what it refuses, with
// which error, and what it lets through.
func TestFilterProgramForEachABI(t *testing.T) {
	const (
		allow = unix.SECCOMP_RET_ALLOW
		eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosy = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	)
	both := Filter{Ioctls: []uint32{unix.TIOCSTI, unix.TIOCLINUX}, NoUserNamespace: true}
	for goarch, abis := range syscallABIs {
		prog := filterProgram(abis, both)
		ioctlsOnly := filterProgram(abis, Filter{Ioctls: both.Ioctls})
		for _, abi := range abis {
			name := fmt.Sprintf("%s arch %#x", goarch, abi.arch)
			for _, nr := range abi.ioctl {
				for _, c := range []struct {
					req  uint64
					want uint32
				}{{unix.TIOCSTI, eperm}, {unix.TIOCLINUX, eperm}, {1<<32 | unix.TIOCSTI, eperm}, {unix.TCGETS, allow}, {unix.TIOCGWINSZ, allow}} {
					if got := runFilter(t, prog, abi.arch, nr, 0, c.req); got != c.want {
						t.Errorf("%s: ioctl (%#x) with request %#x = %#x, want %#x", name, nr, c.req, got, c.want)
					}
				}
			}
			for _, nr := range append(append([]uint32{}, abi.clone...), abi.unshare...) {
				for _, c := range []struct {
					flags uint64
					want  uint32
				}{
					{unix.CLONE_NEWUSER, eperm},
					{unix.CLONE_NEWUSER | unix.CLONE_NEWNS | uint64(unix.SIGCHLD), eperm},
					{unix.CLONE_NEWNS | unix.CLONE_NEWPID, allow},
					{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD, allow},
				} {
					if got := runFilter(t, prog, abi.arch, nr, c.flags); got != c.want {
						t.Errorf("%s: clone or unshare (%#x) with flags %#x = %#x, want %#x", name, nr, c.flags, got, c.want)
					}
					if got := runFilter(t, ioctlsOnly, abi.arch, nr, c.flags); got != allow {
						t.Errorf("%s: a filter of ioctls alone refuses clone or unshare (%#x) with flags %#x: %#x", name, nr, c.flags, got)
					}
				}
			}
			for _, nr := range abi.clone3 {
				if got := runFilter(t, prog, abi.arch, nr, 0, 88); got != enosy {
					t.Errorf("%s: clone3 (%#x) = %#x, want ENOSYS", name, nr, got)
				}
			}
			// read, write, open, close in one ABI or another: none looked at.
			for _, nr := range []uint32{0, 1, 2, 3, 4, 5, 6, 63, 64} {
				if slices.Contains(abi.ioctl, nr) || slices.Contains(abi.clone, nr) || slices.Contains(abi.unshare, nr) {
					continue
				}
				if got := runFilter(t, prog, abi.arch, nr, unix.CLONE_NEWUSER, unix.TIOCSTI); got != allow {
					t.Errorf("%s: call %d = %#x, want it allowed", name, nr, got)
				}
			}
		}
		// An ABI the table does not name is let through, whatever the call.
		if got := runFilter(t, prog, unix.AUDIT_ARCH_PPC64LE, abis[0].unshare[0], unix.CLONE_NEWUSER); got != allow {
			t.Errorf("%s: a call through another ABI = %#x, want it allowed", goarch, got)
		}
	}
}

// The filter's numbers are the kernel's, written here again from its
// syscall tables (arch/x86/entry/syscalls/syscall_64.tbl and
// syscall_32.tbl, arch/arm/tools/syscall.tbl,
// include/uapi/asm-generic/unistd.h for arm64), and, for this machine's
// own ABI, x/sys's: a wrong number in the table the filter is built from
// would let a call through under the program test above.
func TestFilterNumbersAreTheKernels(t *testing.T) {
	const bit = 0x40000000 // x32's
	want := map[uint32]syscallABI{
		unix.AUDIT_ARCH_X86_64:  {ioctl: []uint32{16, bit | 514, bit | 16, 514}, clone: []uint32{56, bit | 56}, unshare: []uint32{272, bit | 272}, clone3: []uint32{435, bit | 435}},
		unix.AUDIT_ARCH_I386:    {ioctl: []uint32{54}, clone: []uint32{120}, unshare: []uint32{310}, clone3: []uint32{435}},
		unix.AUDIT_ARCH_AARCH64: {ioctl: []uint32{29}, clone: []uint32{220}, unshare: []uint32{97}, clone3: []uint32{435}},
		unix.AUDIT_ARCH_ARM:     {ioctl: []uint32{54}, clone: []uint32{120}, unshare: []uint32{337}, clone3: []uint32{435}},
	}
	seen := 0
	for goarch, abis := range syscallABIs {
		for _, abi := range abis {
			w, ok := want[abi.arch]
			if !ok {
				t.Errorf("%s: arch %#x has no numbers in this test", goarch, abi.arch)
				continue
			}
			seen++
			for _, c := range []struct {
				name      string
				got, want []uint32
			}{{"ioctl", abi.ioctl, w.ioctl}, {"clone", abi.clone, w.clone}, {"unshare", abi.unshare, w.unshare}, {"clone3", abi.clone3, w.clone3}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s arch %#x: %s is %v, the kernel's %v", goarch, abi.arch, c.name, c.got, c.want)
				}
			}
		}
	}
	if seen != len(want) {
		t.Errorf("the filter's tables have %d ABIs, want %d", seen, len(want))
	}
	if native, ok := syscallABIs[runtime.GOARCH]; ok {
		if n := native[0]; n.ioctl[0] != unix.SYS_IOCTL || n.clone[0] != unix.SYS_CLONE || n.unshare[0] != unix.SYS_UNSHARE || n.clone3[0] != unix.SYS_CLONE3 {
			t.Errorf("%s's native numbers %d, %d, %d, %d are not x/sys's", runtime.GOARCH, n.ioctl[0], n.clone[0], n.unshare[0], n.clone3[0])
		}
	}
}
