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

// The fork bomb's end, under strace: the freezer's writes, the first kill
// calls printed and the rest counted (on v1: the count must be what strace
// saw, results and all), or cgroup.kill (v2). The bomb's own subshells,
// which the container's bash forks, are not workshop's to narrate.
func TestForkBombNarrationMatchesStrace(t *testing.T) {
	testbin.NeedRoot(t)
	r := stracecheck.Run(t, "--state-dir", stateDir, "step", "4", "--demo", "forkbomb", "--timeout", "5s")
	if r.Code != 0 && r.Code != 137 || !strings.Contains(r.Stderr, "--timeout 5s expired") {
		t.Errorf("step 4 --demo forkbomb --timeout 5s under strace = exit %d, want 0 (contained) or 137 (no fork refused yet), ended by its timeout\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "/cgroup.kill\", O_WRONLY") && strings.Count(r.Stderr, "\nkill(") >= 10 &&
		!strings.Contains(r.Stderr, "more kill(PID, SIGKILL) call") {
		t.Errorf("the bomb's group was killed one process at a time, and the kills past the tenth are not counted:\n%s", r.Stderr)
	}
	noGroupLeft(t, r.Stderr)
}
