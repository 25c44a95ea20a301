// Package elfinterp reads the ELF interpreter a program names: the dynamic
// loader the kernel starts to load its libraries (step 2's lesson), which
// a static program has none of.
package elfinterp

import (
	"debug/elf"
	"fmt"
	"io"
	"strings"

	"github.com/workshop-dev/workshop/internal/regfile"
)

// ErrNotRegular is Of's error for a path that is not a regular file.
var ErrNotRegular = regfile.ErrNotRegular

// Of returns the PT_INTERP of the ELF file at path: "" for a static
// program. A file that is not ELF is an error, and so is one that is not a
// regular file (ErrNotRegular), which is never opened (regfile.Open).
func Of(path string) (string, error) {
	file, err := regfile.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
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
