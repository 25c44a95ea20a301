package namespaces_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// A Ctrl-C that comes after the container's init was released but before
// its command's execve stops the container with a sentence and 130, not
// with a Go program's silent status 2, and the command never runs. strace
// holds the init in its sethostname for two seconds: the window, made wide.
func TestInterruptedBeforeTheCommandRuns(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	strace, args := holding(t, "sethostname", 2*time.Second, step3Args(t, root, "--", "/bin/sh", "-c", "echo the command ran")...)
	r := testbin.Start(t, "", strace, args...)
	r.Stderr.WaitFor(t, "the child is pid")
	// workshop passes SIGINT on to the init, which is inside sethostname.
	if err := syscall.Kill(childOf(t, r.Cmd.Process.Pid), syscall.SIGINT); err != nil {
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
}
