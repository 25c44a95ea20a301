package sys

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"
)

// quote renders a string argument the way strace does: double quotes, C escapes.
// Go's %q is close enough for the paths and small values a lesson shows.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// Argv renders an argv array as strace prints it: ["bash", "-c", "pwd"].
// Steps that report an execve the Go runtime made for them use it too.
func Argv(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = quote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// result renders the right-hand side of a strace line: "= 0", "= 3", or
// "= -1 ENOENT (No such file or directory)".
func result(ret int, err error) string {
	if err == nil {
		return fmt.Sprintf("= %d", ret)
	}
	if errno, ok := err.(unix.Errno); ok {
		return fmt.Sprintf("= -1 %s (%s)", errnoName(errno), strerror(errno))
	}
	return "= -1 (" + err.Error() + ")"
}

func errnoName(e unix.Errno) string {
	// Go names 95 by its POSIX alias; strace by the name Linux gives it.
	if e == unix.EOPNOTSUPP {
		return "EOPNOTSUPP"
	}
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return fmt.Sprintf("E%d", int(e))
}

// strerror capitalises Go's lower-case errno text as libc's strerror does.
func strerror(e unix.Errno) string {
	msg := e.Error()
	if msg == "" {
		return msg
	}
	r := []rune(msg)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

type flagName struct {
	bit  uintptr
	name string
}

// flagString joins the names of the bits set in v, strace style; leftover bits
// are printed in hex so nothing is hidden.
func flagString(v uintptr, names []flagName) string {
	var parts []string
	for _, f := range names {
		if f.bit != 0 && v&f.bit == f.bit {
			parts = append(parts, f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

var mountFlags = []flagName{
	{unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"},
	{unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_RELATIME, "MS_RELATIME"},
}

var umountFlags = []flagName{
	{unix.MNT_FORCE, "MNT_FORCE"},
	{unix.MNT_DETACH, "MNT_DETACH"},
	{unix.MNT_EXPIRE, "MNT_EXPIRE"},
	{unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
}

var openFlags = []flagName{
	{unix.O_WRONLY, "O_WRONLY"},
	{unix.O_RDWR, "O_RDWR"},
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
}

// openFlagString names open flags; O_RDONLY is zero, so it is named by hand.
func openFlagString(v int) string {
	if v&(unix.O_WRONLY|unix.O_RDWR) == 0 {
		rest := uintptr(v)
		if rest == 0 {
			return "O_RDONLY"
		}
		return "O_RDONLY|" + flagString(rest, openFlags)
	}
	return flagString(uintptr(v), openFlags)
}

// CloneFlags are the namespace flags of clone(2), named as namespaces(7) lists them.
// cloneFlags are in the order of their bits, as strace prints them.
var cloneFlags = []flagName{
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
	{unix.CLONE_VM, "CLONE_VM"},
	{unix.CLONE_PIDFD, "CLONE_PIDFD"},
	{unix.CLONE_VFORK, "CLONE_VFORK"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
}

// CloneFlagString names clone flags as strace prints them. The low byte of
// clone's flags is not a flag but the signal sent to the parent at exit.
func CloneFlagString(flags uintptr) string {
	sig := unix.Signal(flags & 0xff)
	s := flagString(flags&^0xff, cloneFlags)
	if flags&^0xff == 0 {
		s = ""
	}
	if sig != 0 {
		if s != "" {
			s += "|"
		}
		s += unix.SignalName(sig)
	}
	return s
}

// modeString prints a file mode in octal, as strace does (0755).
func modeString(mode uint32) string { return fmt.Sprintf("%#o", mode) }

// dataString shows a written buffer as strace does: quoted, cut after 32 bytes.
func dataString(b []byte) string {
	const max = 32
	if len(b) > max {
		return quote(string(b[:max])) + "..."
	}
	return quote(string(b))
}

// SignalName names a signal as strace does: SIGTERM; and a real-time one,
// which Go's table leaves nameless, SIGRTMIN (32, the kernel's first) or
// SIGRT_2 (34: glibc's SIGRTMIN, which keeps 32 and 33 for itself).
func SignalName(sig unix.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	switch {
	case sig == 0:
		return "0" // kill(pid, 0): no signal, a look whether pid is there (strace writes 0)
	case sig == 32:
		return "SIGRTMIN" // the kernel's; glibc's SIGRTMIN is 34
	case sig > 32 && sig <= 64:
		return fmt.Sprintf("SIGRT_%d", int(sig)-32)
	}
	return fmt.Sprintf("signal %d", int(sig))
}
