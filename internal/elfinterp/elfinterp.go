// Package elfinterp reads the ELF interpreter a program names: the dynamic
// loader the kernel starts to load its libraries (step 2's lesson), which
// a static program has none of.
package elfinterp

import (
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// Of returns the PT_INTERP of the ELF file at path: "" for a static
// program. A file that is not ELF is an error.
func Of(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
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
