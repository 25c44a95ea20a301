// Package elfinterp reads the ELF interpreter a program names: the dynamic
// loader the kernel starts to load its libraries (step 2's lesson), which
// a static program has none of.
package elfinterp

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Of returns the PT_INTERP of the ELF file at path: "" for a static
// program. A file that is not ELF is an error, and so is one that is not a
// regular file: it is opened without waiting (a FIFO a root holds at the
// name would wait for a writer for ever) and checked before it is read (a
// device node would be read as a program).
func Of(path string) (string, error) {
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
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
