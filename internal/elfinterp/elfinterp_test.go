package elfinterp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
