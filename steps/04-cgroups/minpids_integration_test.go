package cgroups_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// Too small a --pids or --memory would kill the container's init (a Go
// program, whose threads and pages count) before the command runs, with a
// runtime stack trace; a tiny --memory could even hang workshop's own
// thread, which stands in the group while it clones, in the kernel's
// reclaim. Each is refused with one sentence, and nothing is left.
func TestTooSmallLimitsAreRefused(t *testing.T) {
	testbin.NeedRoot(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "4", "--pids", "3", "--", "/bin/true"}, "--pids 3 is too few"},
		{[]string{"full", "run", "--pids", "3", "--", "/bin/true"}, "--pids 3 is too few"},
		{[]string{"step", "4", "--memory", "4K", "--", "/bin/true"}, "--memory 4K is too little"},
		{[]string{"full", "run", "--memory", "1", "--", "/bin/true"}, "--memory 1B is too little"},
		{[]string{"full", "run", "--memory", "5M", "--", "/bin/true"}, "give at least 6M"},
	} {
		state := t.TempDir()
		r := testbin.Run(t, "", append([]string{"--state-dir", state}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("workshop %q = %d, stderr:\n%s\nwant 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
		if m := testbin.MountsUnder(t, state); len(m) != 0 {
			t.Errorf("workshop %q left mounts: %v", tc.args, m)
		}
		if left, _ := filepath.Glob(filepath.Join(state, "containers", "*")); len(left) != 0 {
			t.Errorf("workshop %q left container records: %v", tc.args, left)
		}
	}
	// The floor itself works, with a shell in it.
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "--quiet", "full", "run", "--memory", "6M", "--", "/bin/sh", "-c", "echo fits")
	if r.Code != 0 || r.Stdout != "fits\n" {
		t.Errorf("full run --memory 6M = %d, stdout %q, stderr:\n%s\nwant 0 and \"fits\"", r.Code, r.Stdout, r.Stderr)
	}
}

// A command that exits 200 by itself was not killed by a signal: no note
// about signal 72.
func TestExitCodeAbove128IsNotASignal(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "step", "4", "--memory", "64M", "--", "/bin/bash", "-c", "exit 200")
	if r.Code != 200 || strings.Contains(r.Stderr, "killed by signal") {
		t.Errorf("exit 200 = %d, stderr:\n%s\nwant 200 and no word of a signal", r.Code, r.Stderr)
	}
}
