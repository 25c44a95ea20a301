package sys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The file calls below are what cp(1) makes when it copies a file, and what
// mkdir -p makes for the directories on the way. Step 2 uses them to fill a
// root, so that the student sees the copy as the syscalls it is.

// Openat calls openat(AT_FDCWD, path, flags, mode) with any flags and
// returns the raw descriptor (Open and Create in calls_image.go are the
// read-only and create-or-truncate cases, as *os.File). The mode is shown
// only with O_CREAT, as strace shows it.
func (n *Narrator) Openat(path string, flags int, mode uint32) (int, error) {
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, mode)
	args := "AT_FDCWD, " + quote(path) + ", " + openFlagString(flags)
	if flags&unix.O_CREAT != 0 {
		args += ", " + modeString(mode)
	}
	n.record("openat", args, fd, err)
	return fd, wrap("open", path, err)
}

// CloseFd calls close(2) on a raw descriptor from Openat.
func (n *Narrator) CloseFd(fd int) error {
	err := unix.Close(fd)
	n.record("close", fmt.Sprint(fd), 0, err)
	if err != nil {
		return fmt.Errorf("close fd %d: %w", fd, err)
	}
	return nil
}

// CopyFileRange calls copy_file_range(in, NULL, out, NULL, length, 0): the
// kernel copies up to length bytes from in to out, at their file offsets,
// without the bytes passing through this process.
func (n *Narrator) CopyFileRange(in, out, length int) (int, error) {
	c, err := unix.CopyFileRange(in, nil, out, nil, length, 0)
	n.record("copy_file_range", fmt.Sprintf("%d, NULL, %d, NULL, %d, 0", in, out, length), c, err)
	if err != nil {
		return c, fmt.Errorf("copy_file_range: %w", err)
	}
	return c, nil
}

// Read calls read(2). Like strace, it shows the start of what was read.
func (n *Narrator) Read(fd int, buf []byte) (int, error) {
	r, err := unix.Read(fd, buf)
	data := "NULL"
	if r > 0 {
		data = dataString(buf[:r])
	} else if err == nil {
		data = `""`
	} else {
		data = fmt.Sprintf("%p", buf) // strace shows the buffer's address when nothing was read
	}
	n.record("read", fmt.Sprintf("%d, %s, %d", fd, data, len(buf)), r, err)
	if err != nil {
		return r, fmt.Errorf("read: %w", err)
	}
	return r, nil
}

// Write calls write(2) once; it may write less than asked, as the kernel may.
func (n *Narrator) Write(fd int, data []byte) (int, error) {
	w, err := unix.Write(fd, data)
	n.record("write", fmt.Sprintf("%d, %s, %d", fd, dataString(data), len(data)), w, err)
	if err != nil {
		return w, fmt.Errorf("write: %w", err)
	}
	return w, nil
}

// Fchmod calls fchmod(2). A new file's mode is first cut by the umask;
// fchmod sets the bits exactly.
func (n *Narrator) Fchmod(fd int, mode uint32) error {
	err := unix.Fchmod(fd, mode)
	n.record("fchmod", fmt.Sprintf("%d, %s", fd, modeString(mode)), 0, err)
	if err != nil {
		return fmt.Errorf("fchmod: %w", err)
	}
	return nil
}

// Chmod calls fchmodat(AT_FDCWD, path, mode, 0), as chmod(1) does.
func (n *Narrator) Chmod(path string, mode uint32) error {
	err := unix.Fchmodat(unix.AT_FDCWD, path, mode, 0)
	n.record("fchmodat", "AT_FDCWD, "+quote(path)+", "+modeString(mode), 0, err)
	return wrap("chmod", path, err)
}

// Futimens sets an open file's access and modification times, as `cp -p`
// does: utimensat(fd, NULL, times, 0).
func (n *Narrator) Futimens(fd int, atime, mtime unix.Timespec) error {
	ts := [2]unix.Timespec{atime, mtime}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	var err error
	if e != 0 {
		err = e
	}
	n.record("utimensat", fmt.Sprintf("%d, NULL, [%s, %s], 0", fd, timespecString(atime), timespecString(mtime)), 0, err)
	if err != nil {
		return fmt.Errorf("utimensat: %w", err)
	}
	return nil
}

// Stat calls stat(2) (newfstatat(AT_FDCWD, path, …, 0) on Linux) and shows
// the device and inode: the identity of a directory, which is all the
// escape demo of step 1 needs to know where it is.
func (n *Narrator) Stat(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(unix.AT_FDCWD, path, &st, 0)
	shown := "0x0"
	if err == nil {
		shown = fmt.Sprintf("{st_dev=makedev(%#x, %#x), st_ino=%d, …}", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	}
	n.record("newfstatat", "AT_FDCWD, "+quote(path)+", "+shown+", 0", 0, err)
	return st, wrap("stat", path, err)
}

// MkdirAll makes path and its missing parents, as mkdir -p does. It looks
// first (stat, which changes nothing and is not narrated) and narrates each
// mkdirat it then makes, so the student sees only the directories that were
// really created.
func (n *Narrator) MkdirAll(path string, mode uint32) error {
	path = filepath.Clean(path)
	var missing []string
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return &os.PathError{Op: "mkdir", Path: p, Err: unix.ENOTDIR}
			}
			break
		}
		if !os.IsNotExist(err) {
			return err
		}
		missing = append(missing, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := n.Mkdir(missing[i], mode); err != nil {
			// Made meanwhile by another workshop (two steps filling
			// one root at once): a directory is what was wanted.
			if fi, serr := os.Lstat(missing[i]); errors.Is(err, unix.EEXIST) && serr == nil && fi.IsDir() {
				continue
			}
			return err
		}
	}
	return nil
}

func timespecString(t unix.Timespec) string {
	return fmt.Sprintf("{tv_sec=%d, tv_nsec=%d}", t.Sec, t.Nsec)
}

func init() {
	for name, gloss := range map[string]string{
		"read":       "read bytes from an open file",
		"utimensat":  "set a file's times (cp -p keeps them: that is how the next run knows it is up to date)",
		"newfstatat": "look at a file: its type, device and inode number",
		"fchmodat":   "set the permission bits of the file at a path",
	} {
		if _, ok := glosses[name]; !ok {
			glosses[name] = gloss
		}
	}
}

// CloseOnExecFrom marks every descriptor from fd up close-on-exec, with
// close_range(fd, ~0U, CLOSE_RANGE_CLOEXEC) (Linux 5.11): whatever the
// process that started workshop left open (a shell's exec 7</etc) then
// never reaches the program an execve runs. Where the kernel lacks it,
// each open descriptor (read from /proc/self/fd) gets FD_CLOEXEC, and the
// calls are counted in one note.
func (n *Narrator) CloseOnExecFrom(fd int) error {
	err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// strace prints ~0U as the number it is.
	n.record("close_range", fmt.Sprintf("%d, %d, CLOSE_RANGE_CLOEXEC", fd, uint32(^uint32(0))), 0, err)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("mark the inherited descriptors close-on-exec: %w", rerr)
	}
	marked := 0
	for _, e := range entries {
		d, err := strconv.Atoi(e.Name())
		if err != nil || d < fd {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(d), unix.F_SETFD, unix.FD_CLOEXEC); err == nil {
			marked++
		}
	}
	n.Note("this kernel has no close_range(…, CLOSE_RANGE_CLOEXEC) (Linux 5.11): %d fcntl(FD, F_SETFD, FD_CLOEXEC) calls instead, one per open descriptor from %d", marked, fd)
	return nil
}

func init() {
	if _, ok := glosses["close_range"]; !ok {
		glosses["close_range"] = "mark every descriptor from this one up close-on-exec: what the caller left open never reaches the command"
	}
}

// Pipe calls pipe2(2) with O_CLOEXEC, as os.Pipe does: the read end, r,
// stays with this process; the write end, w, is for a child's output.
func (n *Narrator) Pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		n.record("pipe2", "…, O_CLOEXEC", -1, err)
		return nil, nil, fmt.Errorf("pipe2: %w", err)
	}
	n.record("pipe2", fmt.Sprintf("[%d, %d], O_CLOEXEC", RawFd(r), RawFd(w)), 0, nil)
	return r, w, nil
}

// ClosePipeEnd closes an end of a pipe made by Pipe, narrated, without
// f.Fd() (see RawFd): a read of it blocked in another goroutine returns.
func (n *Narrator) ClosePipeEnd(f *os.File) error {
	fd := RawFd(f)
	err := f.Close()
	n.record("close", fmt.Sprint(fd), 0, err)
	return err
}

// RawFd is f's descriptor, read without f.Fd(), which would make it
// blocking (and a read of it no longer one that Close can interrupt).
func RawFd(f *os.File) int {
	fd := -1
	if c, err := f.SyscallConn(); err == nil {
		c.Control(func(d uintptr) { fd = int(d) })
	}
	return fd
}
