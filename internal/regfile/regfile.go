// Package regfile opens a file that must be a regular one, by a name
// someone else chose (a student's directory, a root an image filled),
// without the effects opening anything else has.
package regfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotRegular is Open's error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if it is a regular file, and otherwise
// never opens it (ErrNotRegular): a device node's open has effects of its
// own (a watchdog starts, a tape rewinds), a FIFO's waits for a writer
// for ever. The open does not wait either, and what it opened is checked
// again, in case the name changed in between. (O_NONBLOCK means nothing
// to a regular file's reads; under a lease its open would fail at once
// with EWOULDBLOCK instead of waiting for the lease's holder.)
func Open(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		f.Close()
		return nil, err
	} else if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi)
	}
	return f, nil
}

func notRegular(path string, fi os.FileInfo) error {
	return fmt.Errorf("%s is %w: it is %s", path, ErrNotRegular, Kind(fi.Mode()))
}

// Kind names a file's type in words (ls -l's letter, d---------, says
// little to a student).
func Kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (a FIFO)"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "a file of another kind (" + m.Type().String() + ")"
}
