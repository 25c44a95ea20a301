// Command leastfork is the benchmark's measure of what the work costs
// in Go with no re-executed init: it does what bench/leastgo does (seven
// namespaces, a cgroup v1 memory and pids limit the child is born under, an
// overlay root, pivot_root, /proc, a /dev of bind mounts with /dev/shm and
// /dev/pts, and nothing else), but its child is not a second Go program. It
// is a vfork-style clone(2) of this one (CLONE_VM and CLONE_VFORK: it runs on
// this program's memory while this program waits, as the child the syscall
// package clones for every exec does), which makes raw system calls only (no
// allocation, no Go runtime, no stack growth) and then execs the command. So
// only one Go runtime starts, as in no design that narrates its init in Go
// can: it is the least we know how to make a Go program pay for the
// benchmark's work. Not a runtime and not a design for one (its child cannot
// print, narrate or recover); a floor, which bench/fullrun times beside
// workshop. amd64 only (the clone is a few lines of assembly).
//
// Usage (as root, cgroup v1 memory and pids hierarchies):
//
//	leastfork ROOT LAYERDIR COMMAND
//
// LAYERDIR must not exist; it is made for the run and removed after it.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/workshop-dev/workshop/bench/internal/floor"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "leastfork: usage: leastfork ROOT LAYERDIR COMMAND")
		os.Exit(125)
	}
	code, err := run(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "leastfork:", err)
		os.Exit(125)
	}
	os.Exit(code)
}

// call is one raw system call the child makes, with its arguments ready:
// the child may not build a string or a slice.
type call struct {
	what string // for the parent's error message
	nr   uintptr
	args [6]uintptr
}

// report is what the child leaves in the memory it shares with the parent
// when a call fails: its index in the calls (len(calls) for the execve) and
// the errno. The parent reads it once the child has exited.
type report struct{ failed, index, errno uintptr }

// cstrings keeps the child's NUL-terminated strings reachable until the
// child has exec'd: the child holds only their addresses.
var cstrings [][]byte

func cstr(s string) uintptr {
	b := append([]byte(s), 0)
	cstrings = append(cstrings, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// atCWD is AT_FDCWD as a system call argument.
const atCWD = ^uintptr(99) // -100

func run(root, layer, command string) (int, error) {
	setup, err := floor.Prepare("leastfork", root, layer)
	if err != nil {
		return 0, err
	}
	defer setup.Undo()

	// The child's calls: leastgo's init, one for one. A /dev entry is
	// made with mknod (a regular file, mode 0666), where leastgo opens it
	// with O_CREAT and closes it: one call instead of two, to the floor's
	// advantage.
	m := setup.Merged
	calls := []call{
		// The child writes its own maps, as `unshare --map-root-user`
		// does: its parent sleeps until its execve. Root maps to root, as
		// in leastgo and workshop; setgroups is denied first, which a
		// process mapping its own group needs.
		{"write setgroups", sysWriteFile, [6]uintptr{cstr("/proc/self/setgroups"), cstr("deny"), 4}},
		{"write uid_map", sysWriteFile, [6]uintptr{cstr("/proc/self/uid_map"), cstr("0 0 1"), 5}},
		{"write gid_map", sysWriteFile, [6]uintptr{cstr("/proc/self/gid_map"), cstr("0 0 1"), 5}},
		{"sethostname", syscall.SYS_SETHOSTNAME, [6]uintptr{cstr("box"), 3}},
		{"make / private", syscall.SYS_MOUNT, [6]uintptr{cstr("none"), cstr("/"), 0, syscall.MS_REC | syscall.MS_PRIVATE}},
		{"bind the root", syscall.SYS_MOUNT, [6]uintptr{cstr(m), cstr(m), 0, syscall.MS_BIND | syscall.MS_REC}},
		{"mount /proc", syscall.SYS_MOUNT, [6]uintptr{cstr("proc"), cstr(m + "/proc"), cstr("proc"), syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC}},
		{"mount /dev", syscall.SYS_MOUNT, [6]uintptr{cstr("tmpfs"), cstr(m + "/dev"), cstr("tmpfs"), syscall.MS_NOSUID | syscall.MS_STRICTATIME, cstr("mode=755,size=65536k")}},
	}
	// No tty: the benchmark's runs have no terminal, and workshop's
	// container then gets none.
	for _, d := range []string{"null", "zero", "full", "random", "urandom"} {
		calls = append(calls,
			call{"make /dev/" + d, syscall.SYS_MKNODAT, [6]uintptr{atCWD, cstr(m + "/dev/" + d), syscall.S_IFREG | 0o666}},
			call{"bind /dev/" + d, syscall.SYS_MOUNT, [6]uintptr{cstr("/dev/" + d), cstr(m + "/dev/" + d), 0, syscall.MS_BIND}})
	}
	calls = append(calls,
		call{"mkdir /dev/shm", syscall.SYS_MKDIRAT, [6]uintptr{atCWD, cstr(m + "/dev/shm"), 0o1777}},
		call{"mount /dev/shm", syscall.SYS_MOUNT, [6]uintptr{cstr("shm"), cstr(m + "/dev/shm"), cstr("tmpfs"), syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC, cstr("mode=1777,size=65536k")}},
		call{"mkdir /dev/pts", syscall.SYS_MKDIRAT, [6]uintptr{atCWD, cstr(m + "/dev/pts"), 0o755}},
		call{"mount /dev/pts", syscall.SYS_MOUNT, [6]uintptr{cstr("devpts"), cstr(m + "/dev/pts"), cstr("devpts"), syscall.MS_NOSUID | syscall.MS_NOEXEC, cstr("newinstance,ptmxmode=0666,mode=0620")}},
		call{"link /dev/ptmx", syscall.SYS_SYMLINKAT, [6]uintptr{cstr("pts/ptmx"), atCWD, cstr(m + "/dev/ptmx")}},
		call{"pivot_root", syscall.SYS_PIVOT_ROOT, [6]uintptr{cstr(m), cstr(m + "/.oldroot")}},
		call{"chdir", syscall.SYS_CHDIR, [6]uintptr{cstr("/")}},
		call{"detach the old root", syscall.SYS_UMOUNT2, [6]uintptr{cstr("/.oldroot"), syscall.MNT_DETACH}},
		call{"rmdir the old root", syscall.SYS_UNLINKAT, [6]uintptr{atCWD, cstr("/.oldroot"), 0x200 /* AT_REMOVEDIR */}},
	)
	path := cstr(command)
	argv := []uintptr{path, 0}
	envp := make([]uintptr, 0, len(os.Environ())+1)
	for _, e := range os.Environ() {
		envp = append(envp, cstr(e))
	}
	envp = append(envp, 0)

	// The signals the command gets back at their default action: those
	// Go handles. Those this program was started with ignored stay
	// ignored, as an execve leaves them.
	var handled []uintptr
	for sig := 1; sig <= 64; sig++ {
		if sig != int(syscall.SIGKILL) && sig != int(syscall.SIGSTOP) && !signal.Ignored(syscall.Signal(sig)) {
			handled = append(handled, uintptr(sig))
		}
	}
	flags := uintptr(syscall.CLONE_VM|syscall.CLONE_VFORK|
		syscall.CLONE_NEWNS|syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC|syscall.CLONE_NEWNET|
		syscall.CLONE_NEWPID|syscall.CLONE_NEWUSER|0x02000000 /* CLONE_NEWCGROUP */) | uintptr(syscall.SIGCHLD)

	// As leastgo and workshop do on v1: this thread steps into the groups,
	// clones the child there, and steps back. ForkLock: no descriptor made
	// without O_CLOEXEC elsewhere leaks into the child meanwhile.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setup.Enter(); err != nil {
		return 0, err
	}
	var rep report
	syscall.ForkLock.Lock()
	pid, errno := forkChild(flags, calls, handled, path, &argv[0], &envp[0], &rep)
	syscall.ForkLock.Unlock()
	setup.Leave()
	runtime.KeepAlive(cstrings)
	if errno != 0 {
		return 0, fmt.Errorf("clone: %w", errno)
	}
	// The child has exec'd or exited: CLONE_VFORK.
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	switch {
	case rep.failed != 0 && rep.index < uintptr(len(calls)):
		return 0, fmt.Errorf("%s: %w", calls[rep.index].what, syscall.Errno(rep.errno))
	case rep.failed != 0:
		return 0, fmt.Errorf("exec %s: %w", command, syscall.Errno(rep.errno))
	case ws.Signaled():
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// sysWriteFile, as a call's number, is not a system call: the child opens
// args[0], writes args[2] bytes of args[1], and closes it.
const sysWriteFile = ^uintptr(0)

// forkChild clones the child and returns its pid once the child has exec'd
// or exited. The child makes calls, sets the handled signals' actions back
// to the default, restores the signal mask and execs; if a call fails, it
// fills rep and exits.
//
// The child runs on this thread's stack and this program's memory, whose
// other threads may hold the runtime's locks: it must not allocate, grow
// its stack or enter the runtime. Hence nosplit (the linker checks the
// stack this needs), raw system calls only, and every signal blocked across
// the clone so that no Go signal handler runs in the child. It writes only
// its own locals, which the parent no longer reads, and rep.
//
//go:nosplit
//go:norace
func forkChild(flags uintptr, calls []call, handled []uintptr, path uintptr, argv, envp *uintptr, rep *report) (int, syscall.Errno) {
	const sigBlock, sigSetmask = 0, 2
	all, old := ^uint64(0), uint64(0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	pid, e := vforkClone(flags)
	if e != 0 || pid != 0 {
		syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
		return int(pid), e
	}

	// The child.
	for i := range calls {
		c := &calls[i]
		var e syscall.Errno
		if c.nr == sysWriteFile {
			fd, _, oe := syscall.RawSyscall6(syscall.SYS_OPENAT, atCWD, c.args[0], syscall.O_WRONLY|syscall.O_CLOEXEC, 0, 0, 0)
			e = oe
			if e == 0 {
				_, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, c.args[1], c.args[2])
				syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
			}
		} else {
			_, _, e = syscall.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
		}
		if e != 0 {
			rep.failed, rep.index, rep.errno = 1, uintptr(i), uintptr(e)
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
		}
	}
	var dfl [4]uintptr // struct sigaction: SIG_DFL, no flags, no restorer, empty mask
	for _, sig := range handled {
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl[0])), 0, 8, 0, 0)
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	_, _, e = syscall.RawSyscall(syscall.SYS_EXECVE, path, uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envp)))
	rep.failed, rep.index, rep.errno = 1, uintptr(len(calls)), uintptr(e)
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	return 0, 0
}
