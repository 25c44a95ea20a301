package cgroups_test

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Every line step 4 narrates (the cgroup's mkdirat, each limit's openat,
// write and close, cgroup.procs, the kill and the rmdir) is in strace's
// record of the same run, with the same path and result.
func TestStep4NarrationMatchesStrace(t *testing.T) {
	testbin.NeedRoot(t)
	r := stracecheck.Run(t, "--state-dir", stateDir, "step", "4", "--memory", "80M", "--pids", "32", "--cpus", "0.5",
		"--timeout", "2s", "--", "sleep", "600")
	if r.Code != 137 {
		t.Errorf("step 4 --timeout 2s -- sleep 600 under strace = exit %d, want 137\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"cgroup.procs", "pids.max", "/workshop/"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the narration checked against strace lacks %q", want)
		}
	}
	noGroupLeft(t, r.Stderr)
}
