package namespaces_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// Every syscall line of step 3, the parent's and the container's, is in
// strace -f's record of the same run, in order, with the same path and the
// same result.
func TestNarrationMatchesStrace(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"all namespaces", []string{"--", "/bin/sh", "-c", "echo hi"}},
		{"mount namespace only, mknod", []string{"--ns", "mount", "--", "/bin/sh", "-c", "echo hi"}},
		{"host range, setresuid", []string{"--map-users", "100000:65536", "--", "/bin/sh", "-c", "echo hi"}},
		{"init", []string{"--init", "--", "/bin/sh", "-c", "echo hi"}},
		{"command not found", []string{"--", "/bin/nonexistent"}},
		// The lesson printed first holds lines of another run, framed:
		// only this run's calls are checked against strace's.
		{"explain", []string{"--explain", "--", "/bin/sh", "-c", "echo hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stracecheck.Run(t, append([]string{"--state-dir", t.TempDir(), "step", "3", "--root", root}, tc.args...)...)
			if tc.name == "explain" && !strings.Contains(r.Stderr, "==> "+sys.LessonEnds) {
				t.Errorf("no lesson, or not framed, under --explain:\n%.2000s", r.Stderr)
			}
			if tc.args[len(tc.args)-1] == "/bin/nonexistent" {
				if r.Code != 127 {
					t.Errorf("exit %d, want 127; stderr:\n%s", r.Code, r.Stderr)
				}
				return
			}
			if r.Code != 0 || r.Stdout != "hi\n" {
				t.Errorf("exit %d, stdout %q; want 0 and hi; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stderr, "[pid ") {
				t.Errorf("no line of the container in the narration:\n%s", r.Stderr)
			}
		})
	}
}

// Go's os package asks clone for a pidfd of the child only when its own
// check of pidfds passed. Here the check's pidfd_send_signal fails (strace
// makes it fail, as a kernel or a seccomp filter without it would): no
// CLONE_PIDFD was passed, and the narration must not claim one. It used to
// repeat the first call of the check itself, pidfd_open, which passed, and
// print CLONE_PIDFD regardless.
func TestNarratedCloneFlagsWhenGoFindsNoPidfds(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	strace := testbin.NeedTool(t, "strace")
	logFile := filepath.Join(t.TempDir(), "strace.log")
	trace := append([]string{"pidfd_send_signal"}, stracecheck.Syscalls...)
	args := []string{"-f", "-qq", "-s", "4096", "--pidns-translation", "-o", logFile,
		"-e", "trace=" + strings.Join(trace, ","), "-e", "inject=pidfd_send_signal:error=ENOSYS",
		testbin.Bin(t), "--no-color", "--state-dir", t.TempDir(), "step", "3", "--root", root, "--init", "--", "/bin/sh", "-c", "echo hi"}
	cmd := exec.Command(strace, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 || r.Stdout != "hi\n" {
		t.Fatalf("step 3 without pidfds = exit %d, stdout %q:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	clones := 0
	for _, line := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(line, "==>") || !strings.Contains(line, "clone(flags=") {
			continue // the note that describes Go's check names its probe's flags
		}
		clones++
		if strings.Contains(line, "CLONE_PIDFD") {
			t.Errorf("the narration claims CLONE_PIDFD, which Go did not pass: %s", line)
		}
	}
	if clones != 2 { // workshop's clone of the init, the init's of the command
		t.Errorf("the narration shows %d clones, want 2:\n%s", clones, r.Stderr)
	}
	stracecheck.Compare(t, r.Stderr, string(log), stracecheck.Syscalls)
}

// An init in a PID namespace of its own that sees the host's /proc (a
// root with the host's procfs mounted in it, and no mount namespace to
// mount another): a pidfd's fdinfo gives its child's pid as the host sees
// it, the init knows it by its own namespace's. Its narrated clone still
// shows the CLONE_PIDFD Go passed (it compared the two pids, and dropped
// it).
func TestNarratedCloneFlagsInAPIDNamespaceWithTheHostsProc(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	proc := filepath.Join(root, "proc")
	os.MkdirAll(proc, 0o555)
	if err := unix.Mount("proc", proc, "proc", 0, ""); err != nil { // this test's PID namespace: the host's
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(proc, unix.MNT_DETACH) })
	r := testbin.Run(t, "", "--no-color", "--state-dir", t.TempDir(), "step", "3", "--root", root, "--ns", "pid", "--init", "--", "/bin/sh", "-c", "echo hi")
	if r.Code != 0 || r.Stdout != "hi\n" {
		t.Fatalf("step 3 --ns pid --init = exit %d, stdout %q:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	found := false
	for _, line := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(line, "[pid 1] clone(flags=") {
			found = true
			if !strings.Contains(line, "CLONE_PIDFD") {
				t.Errorf("the init's clone lacks the CLONE_PIDFD Go passed: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no clone line of the init:\n%s", r.Stderr)
	}
}
