package sys

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Each method below makes exactly the syscall its name says (the *at forms
// where that is what the kernel is really asked), then prints it.

// Chroot calls chroot(2).
func (n *Narrator) Chroot(path string) error {
	err := unix.Chroot(path)
	n.record("chroot", quote(path), 0, err)
	return wrap("chroot", path, err)
}

// Chdir calls chdir(2).
func (n *Narrator) Chdir(path string) error {
	err := unix.Chdir(path)
	n.record("chdir", quote(path), 0, err)
	return wrap("chdir", path, err)
}

// Mkdir calls mkdirat(AT_FDCWD, path, mode).
func (n *Narrator) Mkdir(path string, mode uint32) error {
	err := unix.Mkdirat(unix.AT_FDCWD, path, mode)
	n.record("mkdirat", "AT_FDCWD, "+quote(path)+", "+modeString(mode), 0, err)
	return wrap("mkdir", path, err)
}

// Rmdir calls unlinkat(AT_FDCWD, path, AT_REMOVEDIR): how rmdir(1) removes a
// cgroup or an empty directory.
func (n *Narrator) Rmdir(path string) error {
	err := unix.Unlinkat(unix.AT_FDCWD, path, unix.AT_REMOVEDIR)
	n.record("unlinkat", "AT_FDCWD, "+quote(path)+", AT_REMOVEDIR", 0, err)
	return wrap("rmdir", path, err)
}

// Unlink calls unlinkat(AT_FDCWD, path, 0).
func (n *Narrator) Unlink(path string) error {
	err := unix.Unlinkat(unix.AT_FDCWD, path, 0)
	n.record("unlinkat", "AT_FDCWD, "+quote(path)+", 0", 0, err)
	return wrap("unlink", path, err)
}

// Symlink calls symlinkat(target, AT_FDCWD, link).
func (n *Narrator) Symlink(target, link string) error {
	err := unix.Symlinkat(target, unix.AT_FDCWD, link)
	n.record("symlinkat", quote(target)+", AT_FDCWD, "+quote(link), 0, err)
	return wrap("symlink", link, err)
}

// Mknod calls mknodat(AT_FDCWD, path, mode, dev) for a character device.
func (n *Narrator) Mknod(path string, mode uint32, major, minor uint32) error {
	dev := unix.Mkdev(major, minor)
	err := unix.Mknodat(unix.AT_FDCWD, path, mode, int(dev))
	n.record("mknodat", fmt.Sprintf("AT_FDCWD, %s, S_IFCHR|%s, makedev(%#x, %#x)", quote(path), modeString(mode&0o7777), major, minor), 0, err)
	return wrap("mknod", path, err)
}

// Mount calls mount(2). An empty string argument is shown as NULL, as strace does.
func (n *Narrator) Mount(source, target, fstype string, flags uintptr, data string) error {
	err := unix.Mount(source, target, fstype, flags, data)
	// x/sys passes source and fstype as strings even when empty, and data
	// as NULL when empty: show each as it was really passed.
	n.record("mount", quote(source)+", "+quote(target)+", "+quote(fstype)+", "+flagString(flags, mountFlags)+", "+nullable(data), 0, err)
	return wrap("mount", target, err)
}

// Unmount calls umount2(2).
func (n *Narrator) Unmount(target string, flags int) error {
	err := unix.Unmount(target, flags)
	fs := "0"
	if flags != 0 {
		fs = flagString(uintptr(flags), umountFlags)
	}
	n.record("umount2", quote(target)+", "+fs, 0, err)
	return wrap("umount2", target, err)
}

// PivotRoot calls pivot_root(2).
func (n *Narrator) PivotRoot(newRoot, putOld string) error {
	err := unix.PivotRoot(newRoot, putOld)
	n.record("pivot_root", quote(newRoot)+", "+quote(putOld), 0, err)
	return wrap("pivot_root", newRoot, err)
}

// Sethostname calls sethostname(2).
func (n *Narrator) Sethostname(name string) error {
	err := unix.Sethostname([]byte(name))
	n.record("sethostname", fmt.Sprintf("%s, %d", quote(name), len(name)), 0, err)
	return wrap("sethostname", name, err)
}

// Kill calls kill(2).
func (n *Narrator) Kill(pid int, sig unix.Signal) error {
	err := unix.Kill(pid, sig)
	n.record("kill", fmt.Sprintf("%d, %s", pid, SignalName(sig)), 0, err)
	if err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	return nil
}

// StopSelf sends sig, a stop signal under the kernel's default, to the
// calling thread itself with tgkill(2), and returns once the process has
// been continued. A kill(2) of its own pid lets another thread take the
// signal: this one returned at once, and could put back a handler before
// the signal was taken (Go's, which swallowed it, and workshop never
// stopped). Sent to this thread, the signal is taken as the call returns:
// the whole process stops there.
func (n *Narrator) StopSelf(sig unix.Signal) error {
	runtime.LockOSThread()
	pid, tid := unix.Getpid(), unix.Gettid()
	err := unix.Tgkill(pid, tid, sig)
	runtime.UnlockOSThread()
	n.record("tgkill", fmt.Sprintf("%d, %d, %s", pid, tid, SignalName(sig)), 0, err)
	if err != nil {
		return fmt.Errorf("tgkill %d: %w", pid, err)
	}
	return nil
}

// PidfdOpen calls pidfd_open(2): a descriptor that stands for the process
// pid is now, and for no other, even once it has ended and its pid is
// another's.
func (n *Narrator) PidfdOpen(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	n.record("pidfd_open", fmt.Sprintf("%d, 0", pid), fd, err)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return fd, nil
}

// PidfdSendSignal calls pidfd_send_signal(2): kill(2) through a pidfd. It
// fails with ESRCH if that process has ended, whoever has its pid now.
func (n *Narrator) PidfdSendSignal(fd int, sig unix.Signal) error {
	err := unix.PidfdSendSignal(fd, sig, nil, 0)
	n.record("pidfd_send_signal", fmt.Sprintf("%d, %s, NULL, 0", fd, SignalName(sig)), 0, err)
	if err != nil {
		return fmt.Errorf("pidfd_send_signal: %w", err)
	}
	return nil
}

// WriteFile writes data to an existing file the way echo > file does, as the
// three syscalls it is: openat, write, close. This is how every cgroup limit
// and every /proc map is set, so each shows.
func (n *Narrator) WriteFile(path string, data []byte) error {
	const flags = unix.O_WRONLY | unix.O_CLOEXEC
	// A gloss given with Because is the write's, the point of the three
	// calls; the open and the close get their own.
	plain := n.Because("")
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, 0)
	if err != nil {
		n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags), fd, err)
		return wrap("open", path, err)
	}
	plain.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags), fd, err)
	w, werr := unix.Write(fd, data)
	n.record("write", fmt.Sprintf("%d, %s, %d", fd, dataString(data), len(data)), w, werr)
	cerr := unix.Close(fd)
	plain.record("close", fmt.Sprint(fd), 0, cerr)
	if werr != nil {
		return wrap("write", path, werr)
	}
	return wrap("close", path, cerr)
}

// Execve calls execve(2). It returns only on failure, after printing it.
// On success the process is gone, so report (if not nil) receives the line
// first and the parent prints it with "= 0" once the exec has happened; see
// ExecReporter.
func (n *Narrator) Execve(path string, argv []string, env []string, report *ExecReporter) error {
	args := quote(path) + ", " + Argv(argv) + ", …"
	report.pending(n.prefix, args)
	err := unix.Exec(path, argv, env)
	report.failed()
	n.record("execve", args, 0, err)
	return wrap("execve", path, err)
}

// Reported prints a syscall that the Go runtime made for us, after it happened.
func (n *Narrator) Reported(name, args string, ret int, err error) {
	n.record(name, args, ret, err)
}

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return quote(s)
}

// wrap names the operation and the path in an error, keeping the errno
// reachable through errors.Is.
func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}
