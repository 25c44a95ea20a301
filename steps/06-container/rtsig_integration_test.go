package container_test

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Signals 32 and 34, which the Go runtime leaves deadly and os/signal
// cannot catch, killed a run's workshop as kill -9 does, its mount, cgroup
// and record left behind. Ignored now, they change nothing (33 is the
// runtime's own, caught); and the container's command gets them at their
// default action, not ignored.
func TestReservedSignalsLeaveNothingBehind(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--", "/bin/sh", "-c", "grep SigIgn /proc/self/status; sleep 2; echo $((6*7))")
	r.Stderr.WaitFor(t, `execve("/bin/sh"`)
	for _, s := range []syscall.Signal{32, 33, 34} {
		r.Signal(s)
	}
	res := r.Wait()
	if res.Code != 0 || !strings.HasSuffix(res.Stdout, "\n42\n") {
		t.Fatalf("the run after signals 32, 33 and 34 = exit %d, stdout %q\n%s", res.Code, res.Stdout, res.Stderr)
	}
	line, _, _ := strings.Cut(res.Stdout, "\n")
	mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "SigIgn:")), 16, 64)
	if err != nil {
		t.Fatalf("no SigIgn line: %q", res.Stdout)
	}
	const reserved = 1<<31 | 1<<33 // bit n-1 is signal n
	if mask&reserved != 0 {
		t.Errorf("the container's command has SigIgn %#x: signals 32 and 34 ignored, inherited from workshop", mask)
	}
	h.noContainers()
}
