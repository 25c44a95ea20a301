// Package elfinterp reads the ELF interpreter a program names: the dynamic
// loader the kernel starts to load its libraries (step 2's lesson), which
// a static program has none of.
package elfinterp

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// ErrNotRegular is Of's error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Of returns the PT_INTERP of the ELF file at path: "" for a static
// program. A file that is not ELF is an error, and so is one that is not a
// regular file (ErrNotRegular), which is never opened: a device node's
// open has effects of its own (a watchdog starts, a tape rewinds), a
// FIFO's waits for a writer for ever. The open does not wait either, and
// what it opened is checked again, in case the name changed in between.
func Of(path string) (string, error) {
	if fi, err := os.Stat(path); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", notRegular(path, fi)
	}
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", notRegular(path, fi)
	}
	f, err := elf.NewFile(file)
	if err != nil {
		return "", err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return "", fmt.Errorf("read the ELF interpreter of %s: %w", path, err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

func notRegular(path string, fi os.FileInfo) error {
	return fmt.Errorf("%s is %w (%s)", path, ErrNotRegular, fi.Mode().Type())
}
