// Command leastfork is the benchmark's measure of what the work costs
// in Go with no re-executed init: it does what bench/leastgo does (seven
// namespaces, a cgroup v1 memory and pids limit the child is born under, an
// overlay root, pivot_root, /proc, a /dev of bind mounts with /dev/shm and
// /dev/pts, and nothing else), but its child is not a second Go program. It
// is a raw fork(2) of this one, which, like the child the syscall package
// forks for every exec, makes raw system calls only (no allocation, no Go
// runtime, no stack growth) and then execs the command. So only one Go
// runtime starts, as in no design that narrates its init in Go can: it is
// the least any Go program can pay for the benchmark's work. Not a runtime
// and not a design for one (its child cannot print, narrate or recover); a
// floor, which bench/fullrun times beside workshop.
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
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
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

func write(path, s string) error { return os.WriteFile(path, []byte(s), 0) }

// call is one raw system call the child makes, with its arguments ready:
// the child may not build a string or a slice.
type call struct {
	what string // for the parent's error message
	nr   uintptr
	args [6]uintptr
}

// report is what the child writes to the parent when a call fails: its
// index in the calls (len(calls) for the execve) and the errno.
type report struct{ index, errno uintptr }

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
	upper, work, merged := filepath.Join(layer, "upper"), filepath.Join(layer, "work"), filepath.Join(layer, "rootfs")
	for _, d := range []string{layer, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return 0, err
		}
	}
	defer os.RemoveAll(layer)
	opts := "lowerdir=" + root + ",upperdir=" + upper + ",workdir=" + work + ",volatile"
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return 0, fmt.Errorf("mount overlay: %w", err)
	}
	defer syscall.Unmount(merged, syscall.MNT_DETACH)

	name := "leastfork-" + strconv.Itoa(os.Getpid())
	groups := []string{filepath.Join("/sys/fs/cgroup/memory", name), filepath.Join("/sys/fs/cgroup/pids", name)}
	for _, g := range groups {
		if err := os.Mkdir(g, 0o755); err != nil {
			return 0, err
		}
		defer syscall.Rmdir(g)
	}
	if err := write(filepath.Join(groups[0], "memory.limit_in_bytes"), "67108864"); err != nil {
		return 0, err
	}
	if err := write(filepath.Join(groups[1], "pids.max"), "64"); err != nil {
		return 0, err
	}
	if err := os.Mkdir(filepath.Join(merged, ".oldroot"), 0o700); err != nil {
		return 0, err
	}

	// The child's calls: leastgo's init, one for one. A /dev entry is
	// made with mknod (a regular file, mode 0666), where leastgo opens it
	// with O_CREAT and closes it: one call instead of two, to the floor's
	// advantage.
	m := merged
	calls := []call{
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

	// release: the child waits on it for its uid and gid maps; failed:
	// closed by the child's execve, or carries its report.
	var release, failed [2]int
	if err := syscall.Pipe2(release[:], syscall.O_CLOEXEC); err != nil {
		return 0, err
	}
	if err := syscall.Pipe2(failed[:], syscall.O_CLOEXEC); err != nil {
		return 0, err
	}
	flags := uintptr(syscall.CLONE_NEWNS|syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC|syscall.CLONE_NEWNET|
		syscall.CLONE_NEWPID|syscall.CLONE_NEWUSER|0x02000000 /* CLONE_NEWCGROUP */) | uintptr(syscall.SIGCHLD)

	// As leastgo and workshop do on v1: this thread steps into the groups,
	// forks the child there, and steps back. ForkLock: no descriptor made
	// without O_CLOEXEC elsewhere leaks into the child meanwhile.
	runtime.LockOSThread()
	for _, g := range groups {
		if err := write(filepath.Join(g, "tasks"), "0"); err != nil {
			return 0, err // the thread is left locked: the process ends
		}
	}
	var rep report
	syscall.ForkLock.Lock()
	pid, errno := forkChild(flags, release, failed[1], calls, path, &argv[0], &envp[0], &rep)
	syscall.ForkLock.Unlock()
	for _, g := range groups {
		if err := write(filepath.Join(filepath.Dir(g), "tasks"), "0"); err != nil {
			return 0, err
		}
	}
	runtime.UnlockOSThread()
	syscall.Close(release[0])
	syscall.Close(failed[1])
	if errno != 0 {
		return 0, fmt.Errorf("clone: %w", errno)
	}
	for _, f := range []string{"uid_map", "gid_map"} {
		if err := write(fmt.Sprintf("/proc/%d/%s", pid, f), "0 0 1"); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			syscall.Wait4(pid, nil, 0, nil)
			return 0, err
		}
	}
	syscall.Close(release[1])
	var got report
	buf := (*[unsafe.Sizeof(got)]byte)(unsafe.Pointer(&got))
	n, _ := syscall.Read(failed[0], buf[:])
	syscall.Close(failed[0])
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	runtime.KeepAlive(cstrings)
	switch {
	case n == len(buf) && got.index < uintptr(len(calls)):
		return 0, fmt.Errorf("%s: %w", calls[got.index].what, syscall.Errno(got.errno))
	case n == len(buf):
		return 0, fmt.Errorf("exec %s: %w", command, syscall.Errno(got.errno))
	case n != 0:
		return 0, fmt.Errorf("the child's report was cut short (%d bytes)", n)
	case ws.Signaled():
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// forkChild forks. In the parent it returns the child's pid. The child
// closes its copy of the release pipe's write end, waits for the parent to
// close its own (the maps are written), makes calls, sets every signal's
// action back to the default, restores the signal mask and execs; if a call
// fails, it writes rep to failedW and exits.
//
// The child is a copy of one thread of a Go program whose other threads are
// gone, perhaps holding the runtime's locks: it must not allocate, grow its
// stack or enter the runtime. Hence nosplit (the linker checks the stack
// this needs), raw system calls only, and every signal blocked across the
// fork so that no Go signal handler runs in the child.
//
//go:nosplit
//go:norace
func forkChild(flags uintptr, release [2]int, failedW int, calls []call, path uintptr, argv, envp *uintptr, rep *report) (int, syscall.Errno) {
	const sigBlock, sigSetmask = 0, 2
	all, old := ^uint64(0), uint64(0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if e != 0 || pid != 0 {
		syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
		return int(pid), e
	}

	// The child.
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(release[1]), 0, 0)
	var b byte
	syscall.RawSyscall(syscall.SYS_READ, uintptr(release[0]), uintptr(unsafe.Pointer(&b)), 1)
	for i := range calls {
		c := &calls[i]
		if _, _, e := syscall.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]); e != 0 {
			rep.index, rep.errno = uintptr(i), uintptr(e)
			syscall.RawSyscall(syscall.SYS_WRITE, uintptr(failedW), uintptr(unsafe.Pointer(rep)), unsafe.Sizeof(*rep))
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
		}
	}
	// Go's handlers are this copy's; the command gets the defaults (an
	// execve keeps only ignored signals ignored, but the mask as it is).
	var dfl [4]uintptr // struct sigaction: SIG_DFL, no flags, no restorer, empty mask
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig != uintptr(syscall.SIGKILL) && sig != uintptr(syscall.SIGSTOP) {
			syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl[0])), 0, 8, 0, 0)
		}
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	_, _, e = syscall.RawSyscall(syscall.SYS_EXECVE, path, uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envp)))
	rep.index, rep.errno = uintptr(len(calls)), uintptr(e)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(failedW), uintptr(unsafe.Pointer(rep)), unsafe.Sizeof(*rep))
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	return 0, 0
}
