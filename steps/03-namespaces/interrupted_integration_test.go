package namespaces_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A Ctrl-C to workshop before the container's command runs stops the
// container with a sentence and 130, not with a Go program's silent status
// 2 or a tool failure, and the command never runs: whether it comes before
// workshop released the init (strace holds workshop's getuid, on its way to
// the uid map, for a second) or after (strace holds the init in its
// sethostname). The line waited for is the last one before the held call.
func TestInterruptedBeforeTheCommandRuns(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, tc := range []struct{ name, held, last string }{
		{"before the release", "getuid", "the child is pid"},
		{"after the release", "sethostname", "[pid 1] unshare(CLONE_NEWCGROUP) = 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			strace, args := testbin.Holding(t, tc.held, 2*time.Second, step3Args(t, root, "--", "/bin/sh", "-c", "echo the command ran")...)
			r := testbin.Start(t, "", strace, args...)
			r.Stderr.WaitFor(t, tc.last)
			if err := syscall.Kill(testbin.ChildOf(t, r.Cmd.Process.Pid), syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			res := r.Wait()
			if res.Code != 128+int(syscall.SIGINT) {
				t.Errorf("exit %d, want 130\n%s", res.Code, res.Stderr)
			}
			if strings.Contains(res.Stdout, "the command ran") {
				t.Errorf("the command ran after the Ctrl-C:\n%s", res.Stdout)
			}
			if !strings.Contains(res.Stderr, "workshop: interrupted by SIGINT before the container's command ran; it never ran") {
				t.Errorf("no sentence about the interruption:\n%s", res.Stderr)
			}
		})
	}
}
