package cgroups_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
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
		{[]string{"full", "run", "--memory", "1", "--", "/bin/true"}, "--memory 1 byte (a number alone, or with B, is bytes) is too little: until it runs your command, the container's first process is workshop's init, a Go program whose memory counts against the limit; give at least 6M (docker's floor too)\n"},
		{[]string{"step", "4", "--memory", "80", "--", "/bin/true"}, "give at least 6M (docker's floor too): did you mean 80M?"},
		{[]string{"full", "run", "--memory", "5M", "--", "/bin/true"}, "give at least 6M"},
		// Not a round size: shown as typed, not rounded up to the floor.
		{[]string{"full", "run", "--memory", "6291455", "--", "/bin/true"}, "--memory 6291455 bytes is too little"},
	} {
		dir := t.TempDir()
		r := testbin.Run(t, "", append([]string{"--state-dir", dir}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("workshop %q = %d, stderr:\n%s\nwant 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
		if m := testbin.MountsUnder(t, dir); len(m) != 0 {
			t.Errorf("workshop %q left mounts: %v", tc.args, m)
		}
		// Refused with the flags, before anything was made: no root
		// filled by step 2, no base image built (the steps' lock file,
		// taken before a step reads its flags, aside).
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		left = slices.DeleteFunc(left, func(p string) bool { return filepath.Base(p) == state.StepsLockName })
		if len(left) != 0 {
			t.Errorf("workshop %q made %v before refusing its flags", tc.args, left)
		}
	}
	// The floor itself works, with a shell in it.
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "--quiet", "full", "run", "--memory", "6M", "--", "/bin/sh", "-c", "echo fits")
	if r.Code != 0 || r.Stdout != "fits\n" {
		t.Errorf("full run --memory 6M = %d, stdout %q, stderr:\n%s\nwant 0 and \"fits\"", r.Code, r.Stdout, r.Stderr)
	}
}

// A shell whose child the OOM killer ended passes on the 137 it saw, as its
// own exit status: the run's 137 is then no death by the memory limit, and
// the verdict says what happened instead.
func TestExit137ByItselfIsNotTheLimitsKill(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "step", "4", "--memory", "40M", "--", "/bin/sh", "-c",
		`/bin/bash -c 's=x; while :; do s=$s$s; done'; echo "pid1 alive"; exit 137`)
	if r.Code != 137 || !strings.Contains(r.Stdout, "pid1 alive") || strings.Contains(r.Stderr, "the container was killed by its memory limit") ||
		!strings.Contains(r.Stderr, "the command exited with status 137 by itself, not killed") {
		t.Errorf("exit 137 after a child's OOM kill = %d, stdout %q, stderr:\n%s\nwant 137, said to be the command's own", r.Code, r.Stdout, r.Stderr)
	}
}

// Under --init the first process is workshop's init, which exits 137 when
// the memory limit killed its command: that is the limit's kill.
func TestOOMKillUnderInit(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "full", "run", "--init", "--memory", "40M", "--", "/bin/bash", "-c", "s=x; while :; do s=$s$s; done")
	if r.Code != 137 || !strings.Contains(r.Stderr, "the container was killed by its memory limit (--memory 40M)") {
		t.Errorf("a memory hog under --init = %d, stderr:\n%s\nwant 137, said to be the memory limit", r.Code, r.Stderr)
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
