package namespaces_test

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// If workshop dies after it released the container's init but before the
// init set its parent-death signal, that signal never comes. The init sees
// it on the status pipe (workshop's end is closed) and stops with a
// sentence, instead of running the command with nobody to wait for it or
// undo what it made. strace holds every getuid for a second: workshop's,
// just before it writes the uid map (so the map's lines come a second
// later), and the init's, in becomeRoot just before its prctl: workshop is
// killed inside that second.
func TestParentDiesBeforeTheDeathSignal(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	strace, args := testbin.Holding(t, "getuid", time.Second, step3Args(t, root, "--", "/bin/sh", "-c", "echo the command ran; exec sleep 600")...)
	r := testbin.Start(t, "", strace, args...)
	m := regexp.MustCompile(`the child is pid (\d+) on the host`).FindStringSubmatch(r.Stderr.WaitFor(t, "the child is pid"))
	if m == nil {
		t.Fatal("no pid in the narration")
	}
	initPid, _ := strconv.Atoi(m[1])
	// If the init does run the command, it must not outlive the test.
	t.Cleanup(func() { syscall.Kill(initPid, syscall.SIGKILL) })
	r.Stderr.WaitFor(t, "/gid_map")
	// workshop released the init a few microseconds after that line; the
	// init is now in its held getuid, for most of a second.
	time.Sleep(200 * time.Millisecond)
	if err := syscall.Kill(testbin.ChildOf(t, r.Cmd.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.Stderr.WaitFor(t, "workshop: workshop died while the container was being set up: the command never ran")
	res := r.Wait()
	if strings.Contains(res.Stdout, "the command ran") {
		t.Errorf("the command ran after workshop died:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stderr, "[pid 1] ppoll([{fd=4, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 1 ([{fd=4, revents=POLLERR}], left {tv_sec=0, tv_nsec=0})") {
		t.Errorf("the init's check of the status pipe is not narrated as it happened:\n%s", res.Stderr)
	}
}
