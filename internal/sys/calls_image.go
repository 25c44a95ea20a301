package sys

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The calls of step 5 (image tar): opening the archive, creating it, and
// moving a finished root into place. The thousands of per-entry calls an
// unpack makes are summarised by the step, not printed one by one.

// Open opens an existing file for reading: openat(AT_FDCWD, path, O_RDONLY|O_CLOEXEC).
func (n *Narrator) Open(path string) (*os.File, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, 0)
	n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags), fd, err)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Syncfs writes to disk everything the filesystem holding path has not
// written yet, as the three calls it is: openat, syncfs, close.
func (n *Narrator) Syncfs(path string) error {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, 0)
	n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags), fd, err)
	if err != nil {
		return wrap("open", path, err)
	}
	_, _, errno := unix.Syscall(unix.SYS_SYNCFS, uintptr(fd), 0, 0)
	if errno != 0 {
		err = errno
	}
	n.record("syncfs", fmt.Sprint(fd), 0, err)
	cerr := unix.Close(fd)
	n.record("close", fmt.Sprint(fd), 0, cerr)
	if err != nil {
		return wrap("syncfs", path, err)
	}
	return nil
}

// Create creates or truncates a file for writing:
// openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, mode).
func (n *Narrator) Create(path string, mode uint32) (*os.File, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, mode)
	n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags)+", "+modeString(mode), fd, err)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// CreateNew creates a file that must not exist yet and opens it for writing:
// openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, mode). What
// fails can then only ever remove what this call made.
func (n *Narrator) CreateNew(path string, mode uint32) (*os.File, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC
	fd, err := unix.Openat(unix.AT_FDCWD, path, flags, mode)
	n.record("openat", "AT_FDCWD, "+quote(path)+", "+openFlagString(flags)+", "+modeString(mode), fd, err)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Close closes a file the narrator opened: close(fd).
func (n *Narrator) Close(f *os.File) error {
	fd := int(f.Fd())
	err := f.Close()
	if errors.Is(err, os.ErrClosed) {
		return err // closed before: no close(2) was made now
	}
	var errno error
	if pe, ok := err.(*os.PathError); ok {
		errno = pe.Err
	} else if err != nil {
		errno = err
	}
	n.record("close", fmt.Sprint(fd), 0, errno)
	return err
}

// Rename calls renameat(AT_FDCWD, oldpath, AT_FDCWD, newpath): how a root
// unpacked beside its destination appears there all at once.
func (n *Narrator) Rename(oldpath, newpath string) error {
	err := unix.Renameat(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath)
	n.record("renameat", "AT_FDCWD, "+quote(oldpath)+", AT_FDCWD, "+quote(newpath), 0, err)
	return wrap("rename", newpath, err)
}

func init() {
	glosses["renameat"] = "move a file or directory to a new name, in one step"
}

// Fsetxattr calls fsetxattr(2): an extended attribute named name, with
// value, on the open file fd.
func (n *Narrator) Fsetxattr(fd int, name, value string, flags int) error {
	err := unix.Fsetxattr(fd, name, []byte(value), flags)
	n.record("fsetxattr", fmt.Sprintf("%d, %s, %s, %d, %d", fd, quote(name), quote(value), len(value), flags), 0, err)
	if err != nil {
		return fmt.Errorf("fsetxattr %s: %w", name, err)
	}
	return nil
}

func init() {
	glosses["fsetxattr"] = "attach a named value to an open file, beside its contents (an extended attribute)"
}
