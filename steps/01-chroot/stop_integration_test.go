package chroot_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

// A Ctrl-C to workshop before bash's execve stops step 1 (and its escape
// demo) with the child's sentence and 130: it used to end with 125 and
// blame a root that was not empty.
func TestStep1InterruptedBeforeBash(t *testing.T) {
	testbin.NeedRoot(t)
	for _, demo := range [][]string{nil, {"--demo", "escape"}} {
		testbin.InWindow(t, []time.Duration{time.Second, 10 * time.Second}, func(hold time.Duration) ([]string, bool) {
			strace, args := testbin.Holding(t, "chroot", hold, append([]string{"--state-dir", t.TempDir(), "step", "1"}, demo...)...)
			r := testbin.Start(t, "", strace, args...)
			r.Stderr.WaitFor(t, `execve("/proc/self/exe"`)
			// Gone already (a stall past the hold), they are a window
			// missed.
			missed := func(what string) ([]string, bool) {
				res := r.Wait()
				return []string{fmt.Sprintf("step 1 %q: %s (exit %d)\n%s", demo, what, res.Code, res.Stderr)}, true
			}
			kids := state.Children(r.Cmd.Process.Pid)
			if len(kids) == 0 {
				return missed("workshop ended before its child was seen")
			}
			workshop := kids[0]
			if kids = state.Children(workshop); len(kids) == 0 {
				return missed("workshop's child ended before it was seen")
			}
			child := kids[0]
			if !testbin.AwaitHeld(t, child, unix.SYS_CHROOT, func() bool { return testbin.Ended(child) }) {
				return missed(fmt.Sprintf("its child (pid %d) ended, never seen held in its chroot", child))
			}
			if err := syscall.Kill(workshop, syscall.SIGINT); err != nil {
				return missed(fmt.Sprintf("SIGINT to workshop: %v", err))
			}
			res := r.Wait()
			if res.Code != 130 || !strings.Contains(res.Stderr, "interrupted by SIGINT before the container's command ran") ||
				strings.Contains(res.Stderr, "not empty") || strings.Contains(res.Stderr, "did not work") {
				// Passed on after the hold, the signal came after the exec.
				return []string{fmt.Sprintf("step 1 %q, SIGINT before the exec = %d; want 130 and the child's sentence only:\n%s", demo, res.Code, res.Stderr)},
					strings.Contains(res.Stderr, `] execve("/bin/`)
			}
			return nil, false
		})
	}
}

// A kill -9 of workshop does not leave step 2's command running with nobody
// to wait for it: the child dies with workshop (PR_SET_PDEATHSIG).
func TestStep2CommandDiesWithWorkshop(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Start(t, "", testbin.Bin(t), "--state-dir", t.TempDir(), "step", "2", "--", "/bin/sleep", "600")
	pid := testbin.ExecedPid(t, r, "/bin/sleep", `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	if !strings.Contains(r.Stderr.String(), "prctl(PR_SET_PDEATHSIG, SIGKILL), getppid()") {
		t.Errorf("the child's parent-death signal is not narrated:\n%s", r.Stderr)
	}
	r.Signal(syscall.SIGKILL)
	// Not r.Wait() first: a sleep that outlived workshop would hold its
	// stderr open, and the wait for its end with it.
	testbin.GoneWithin(t, pid, "sleep", 5*time.Second)
	r.Wait()
}

// An escape demo killed before it removed its stepping stone leaves an
// empty escape/ in the root: the next step 1 takes it away instead of
// refusing the root as not empty.
// A symlink named escape (to an empty directory elsewhere) is no leftover
// of the demo: the root is not empty, said so, and the link stays. It was
// called the demo's leftover, then rmdir failed with "not a directory".
func TestStep1LeavesAnEscapeSymlink(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "my-new-root")
	elsewhere := t.TempDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "step", "1", "--root", root)
	if r.Code != 125 || !strings.Contains(r.Stderr, "is not empty (it holds escape)") || strings.Contains(r.Stderr, "interrupted --demo escape left") {
		t.Errorf("step 1 with a symlink named escape = %d:\n%s", r.Code, r.Stderr)
	}
	if fi, err := os.Lstat(filepath.Join(root, "escape")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink is gone or changed: %v %v", fi, err)
	}
}

func TestStep1TakesAwayALeftEscapeDir(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "my-new-root")
	if err := os.MkdirAll(filepath.Join(root, "escape"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"step", "1", "--root", root}, {"step", "1", "--demo", "escape", "--root", root}} {
		r := testbin.Run(t, "", append([]string{"--state-dir", t.TempDir()}, args...)...)
		if r.Code != 0 || !strings.Contains(r.Stderr, "holds only the empty escape/ that an interrupted --demo escape left: removing it") {
			t.Errorf("workshop %q with a left escape/ = %d; want 0 and the note:\n%s", args, r.Code, r.Stderr)
		}
		os.Mkdir(filepath.Join(root, "escape"), 0o755) // again, for the next
	}
	// Anything else in the root is still refused.
	if err := os.WriteFile(filepath.Join(root, "escape", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := testbin.Run(t, "", "--state-dir", t.TempDir(), "step", "1", "--root", root); r.Code != 125 || !strings.Contains(r.Stderr, "is not empty") {
		t.Errorf("step 1 in a root whose escape/ holds a file = %d; want 125, not empty:\n%s", r.Code, r.Stderr)
	}
}

// A stop signal that workshop gets just before step 2's child makes its
// execve is not lost: it used to be passed on to the child, which could
// exec the command before Go handed it the signal, and the command ran as
// if nothing had come. The signal is sent 1 to 10 ms after the start,
// around the end of the child's setup; a run that passed the signal on
// and whose command then ran to success is the bug.
func TestStep2SignalBeforeTheExecIsNotLost(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	if r := testbin.Run(t, "", "--quiet", "--state-dir", state, "step", "2", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("step 2 -- /bin/true = exit %d\n%s", r.Code, r.Stderr)
	}
	passedOn := regexp.MustCompile(`(?m)^kill\(\d+, SIGINT\) = 0$`)
	for i := 0; i < 50; i++ {
		cmd := exec.Command(testbin.Bin(t), "--state-dir", state, "step", "2", "--", "/bin/bash", "-c", "echo ran >&2")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(1+i%10) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		// The narration's order is not the calls' order (the execve line
		// is printed once the parent has read of it), but the command's
		// own output is: a command that wrote after the signal was passed
		// on, and succeeded, never got it.
		out := stderr.String()
		kill := passedOn.FindStringIndex(out)
		ran := strings.Index(out, "\nran\n")
		if cmd.ProcessState.ExitCode() == 0 && kill != nil && ran > kill[0] {
			t.Errorf("SIGINT %d ms after the start was passed on, and the command ran after it as if nothing had come:\n%s", 1+i%10, out)
		}
	}
}

// `workshop step 2 … 2>&1 | head -1`: the narration's pipe closes while the
// chroot child still narrates. It must not die of it (Go ends a program
// whose write to fd 2 finds its pipe closed): the command runs, and its
// status is the run's.
func TestStep2SurvivesAClosedNarrationPipe(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	if r := testbin.Run(t, "", "--quiet", "--state-dir", state, "step", "2", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("step 2 -- /bin/true = exit %d\n%s", r.Code, r.Stderr)
	}
	for _, lines := range []int{1, 4, 9} {
		ran := filepath.Join(state, "my-new-root", "ran")
		os.Remove(ran)
		ps := testbin.ClosedPipe(t, lines, "--state-dir", state, "step", "2", "--", "/bin/bash", "-c", "sleep 0.2; echo ran > /ran; exit 3")
		if ws := ps.Sys().(syscall.WaitStatus); ws.Signaled() || ws.ExitStatus() != 3 {
			t.Errorf("the pipe closed after %d lines: workshop ended with %v, want the command's exit status 3", lines, ps)
		}
		if _, err := os.Stat(ran); err != nil {
			t.Errorf("the pipe closed after %d lines: the command never ran (%v)", lines, err)
		}
	}
}
