package namespaces_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
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
	testbin.InWindow(t, []time.Duration{time.Second, 10 * time.Second}, func(hold time.Duration) (faults []string, missed bool) {
		strace, args := testbin.Holding(t, "getuid", hold, step3Args(t, root, "--", "/bin/sh", "-c", "echo the command ran; exec sleep 600")...)
		r := testbin.Start(t, "", strace, args...)
		initPid := childPid(t, r.Stderr.WaitFor(t, "the child is pid"))
		// If the init does run the command, it must not outlive the test.
		t.Cleanup(func() { syscall.Kill(initPid, syscall.SIGKILL) })
		r.Stderr.WaitFor(t, "/gid_map")
		// workshop released the init a few microseconds after that
		// line; the init comes to its held getuid.
		pastIt := func() bool { return strings.Contains(r.Stderr.String(), "[pid 1] prctl(PR_SET_PDEATHSIG") }
		if !testbin.AwaitHeld(t, initPid, unix.SYS_GETUID, pastIt) {
			syscall.Kill(initPid, syscall.SIGKILL)
			res := r.Wait()
			return []string{"the init was never seen held in its getuid:\n" + res.Stderr}, true
		}
		if err := syscall.Kill(testbin.ChildOf(t, r.Cmd.Process.Pid), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The init ends with its sentence; one that ran the command (a
		// fault) would sleep on: it is not waited for past a minute.
		for deadline := time.Now().Add(time.Minute); !testbin.Ended(initPid) && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
		syscall.Kill(initPid, syscall.SIGKILL)
		res := r.Wait()
		if !strings.Contains(res.Stderr, "workshop: workshop died while the container was being set up: the command never ran") {
			faults = append(faults, "the init does not say that workshop died while it set up:\n"+res.Stderr)
		}
		if strings.Contains(res.Stdout, "the command ran") {
			faults = append(faults, "the command ran after workshop died:\n"+res.Stdout)
		}
		if !strings.Contains(res.Stderr, "[pid 1] ppoll([{fd=4, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 1 ([{fd=4, revents=POLLERR}], left {tv_sec=0, tv_nsec=0})") {
			faults = append(faults, "the init's check of the status pipe is not narrated as it happened:\n"+res.Stderr)
		}
		// The kill was late, after the hold, where the init looked at the
		// pipe while workshop lived (and then died with it, by its death
		// signal).
		return faults, strings.Contains(res.Stderr, "[pid 1] ppoll(") && !strings.Contains(res.Stderr, "revents=POLLERR")
	})
}
