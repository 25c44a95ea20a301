package cgroups_test

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// Too small a --pids would kill the container's init (a Go program, whose
// threads count) before the command runs, with a runtime stack trace: it is
// refused with one sentence before anything is made.
func TestTooFewPidsIsRefused(t *testing.T) {
	testbin.NeedRoot(t)
	for _, args := range [][]string{
		{"step", "4", "--pids", "3", "--", "/bin/true"},
		{"full", "run", "--pids", "3", "--", "/bin/true"},
	} {
		state := t.TempDir()
		r := testbin.Run(t, "", append([]string{"--state-dir", state}, args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, "--pids 3 is too few") || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("workshop %q = %d, stderr:\n%s\nwant 125 and one sentence", args, r.Code, r.Stderr)
		}
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
