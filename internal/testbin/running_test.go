package testbin

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorder keeps what a Running reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// A program that leaves a process holding its stdout ends; Wait says so
// instead of waiting for that process (it used to wait for ever).
func TestWaitSaysWhenAProcessOutlivedTheProgram(t *testing.T) {
	defer func(g time.Duration) { outlivedGrace = g }(outlivedGrace)
	outlivedGrace = 300 * time.Millisecond
	rec := &recorder{TB: t}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	r := Start(rec, "", sh, "-c", "sleep 30 & echo $!")
	start := time.Now()
	res := r.Wait()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "a process it left running still holds its stdout or stderr") {
		t.Errorf("Wait reported %q; want one error about the process left running", rec.errs)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		t.Fatalf("no pid of sleep in %q", res.Stdout)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if res.Code != 0 || time.Since(start) > 10*time.Second {
		t.Errorf("Wait = %+v after %v; want 0, and no wait for sleep", res, time.Since(start))
	}
}
