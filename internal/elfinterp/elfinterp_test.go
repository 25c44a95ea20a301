package elfinterp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestOf(t *testing.T) {
	if interp, err := Of("/bin/sh"); err != nil || !strings.Contains(interp, "ld-linux") {
		t.Errorf("Of(/bin/sh) = %q, %v; want the dynamic loader", interp, err)
	}
	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if _, err := Of(script); err == nil {
		t.Errorf("Of(a script) gave no error")
	}
	if exe, err := os.Executable(); err == nil {
		// The test binary is static (CGO_ENABLED=0) or dynamic: either
		// way Of reads it without an error.
		if _, err := Of(exe); err != nil {
			t.Errorf("Of(test binary) = %v", err)
		}
	}
}

// What a root may hold at a program's name is read only if it is a regular
// file: a FIFO (which an open for reading would wait on for ever, hanging
// lab 2's check) and a device node are errors at once.
func TestOfRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	stop := testbin.MakeFIFO(t, fifo)
	_, err := Of(fifo)
	if stop() {
		t.Errorf("Of(a FIFO) waited for a writer")
	}
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Of(a FIFO) = %v, want an error", err)
	}
	if _, err := Of("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Of(/dev/zero) = %v, want an error", err)
	}
}
