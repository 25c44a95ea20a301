package reexec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The test binary is its own re-executed child: TestMain runs the init when
// it is started as "__init NAME".
func TestMain(m *testing.M) {
	Register("test-echo", func() int {
		var s struct{ Word string }
		if err := ReadSpec(&s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, ErrAbandoned) {
				return 125
			}
			return 1
		}
		fmt.Print("ran with ", s.Word)
		return 0
	})
	Register("test-args", func() int {
		if err := ReadSpec(&struct{ Unused bool }{}); err != nil {
			return 125
		}
		fmt.Print(strings.Join(Args(), ","))
		return 0
	})
	Register("test-held", func() int {
		held := HoldSignals()
		// A Ctrl-C on the child's terminal, before its execve.
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		for i := 0; i < 1000; i++ {
			if status, stopped := held.Stopped(); stopped {
				return status
			}
			time.Sleep(time.Millisecond)
		}
		return 0
	})
	Main()
	os.Exit(m.Run())
}

// A spec's strings reach the child byte for byte, those that are not
// UTF-8 too (a file name's bytes): JSON turned them into U+FFFD, and a run
// in a state dir whose path held one failed on a path that did not exist.
func TestSpecKeepsEveryByte(t *testing.T) {
	c, err := Command("test-echo")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c.Cmd.Stdout, c.Cmd.Stderr = &out, &errb
	word := "a\xffb\xfe\n\x00c"
	if err := c.Start(sys.Discard(), struct{ Word string }{word}); err != nil {
		t.Fatal(err)
	}
	c.Release()
	if status, err := c.Wait(); err != nil || status != 0 || out.String() != "ran with "+word {
		t.Errorf("child: status %d, %v, stdout %q, stderr %q; want %q", status, err, out.String(), errb.String(), "ran with "+word)
	}
}

func start(t *testing.T) (*Child, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	c, err := Command("test-echo")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c.Cmd.Stdout, c.Cmd.Stderr = &out, &errb
	if err := c.Start(sys.Discard(), struct{ Word string }{"hello\nworld"}); err != nil {
		t.Fatal(err)
	}
	return c, &out, &errb
}

func TestReleasedChildRuns(t *testing.T) {
	c, out, errb := start(t)
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Errorf("a second Release = %v, want a no-op", err)
	}
	status, err := c.Wait()
	if err != nil || status != 0 || out.String() != "ran with hello\nworld" {
		t.Errorf("released child: status %d, %v, stdout %q, stderr %q", status, err, out, errb)
	}
}

// A child whose parent never releases it (workshop died, or gave up) must
// not run: its spec is there, but the go-ahead is not.
func TestAbandonedChildDoesNotRun(t *testing.T) {
	c, out, errb := start(t)
	status, err := c.Wait()
	if err != nil || status != 125 || out.Len() != 0 || !strings.Contains(errb.String(), ErrAbandoned.Error()) {
		t.Errorf("abandoned child: status %d, %v, stdout %q, stderr %q; want 125 and nothing run", status, err, out, errb)
	}
}

// An abandoned child leaves no descriptor open in the parent: the status
// pipe's read end, closed by AwaitExec, is closed by Wait where AwaitExec
// never ran (one descriptor per aborted container, before).
func TestAbandonedChildLeavesNoDescriptor(t *testing.T) {
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := count()
	for range 3 {
		c, _, _ := start(t)
		c.Wait()
	}
	if after := count(); after != before {
		t.Errorf("%d descriptors open before three abandoned children, %d after", before, after)
	}
}

// A child that gets SIGINT before its execve stops with a sentence and 130,
// not with a Go program's silent status 2.
func TestHeldSignalStopsWithASentence(t *testing.T) {
	c, err := Command("test-held")
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	c.Cmd.Stderr = &errb
	if err := c.Start(sys.Discard(), struct{ Unused bool }{}); err != nil {
		t.Fatal(err)
	}
	c.Release()
	status, err := c.Wait()
	if err != nil || status != 130 || !strings.Contains(errb.String(), "interrupted by SIGINT before the container's command ran") {
		t.Errorf("status %d, %v, stderr %q; want 130 and the sentence", status, err, errb.String())
	}
}

// PastSetup is false while the child waits for its go-ahead, and true once
// it has gone on (here: exited), before anyone has read the status pipe.
func TestPastSetup(t *testing.T) {
	c, _, _ := start(t)
	if c.PastSetup() {
		t.Errorf("PastSetup = true for a child still waiting for its go-ahead")
	}
	c.Release()
	deadline := time.Now().Add(time.Minute)
	for !c.PastSetup() {
		if time.Now().After(deadline) {
			t.Fatalf("PastSetup still false a minute after the child was released")
		}
		time.Sleep(time.Millisecond)
	}
	if status, err := c.Wait(); err != nil || status != 0 {
		t.Errorf("released child: status %d, %v", status, err)
	}
}

// What the parent gives Command after the init's name, the child gets
// from Args.
func TestArgsReachTheChild(t *testing.T) {
	c, err := Command("test-args", "terminal", "x")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c.Cmd.Stdout, c.Cmd.Stderr = &out, &errb
	if err := c.Start(sys.Discard(), struct{ Unused bool }{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if status, err := c.Wait(); err != nil || status != 0 || out.String() != "terminal,x" {
		t.Errorf("child: status %d, %v, Args %q, stderr %q; want \"terminal,x\"", status, err, out.String(), errb.String())
	}
}

// clone's gloss speaks of namespaces only when the clone makes some.
func TestCloneGloss(t *testing.T) {
	if g := cloneGloss(&syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}); !strings.Contains(g, "in the same namespaces as its parent") {
		t.Errorf("cloneGloss(no CLONE_NEW*) = %q, want the child in its parent's namespaces", g)
	}
	if g := cloneGloss(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}); g != "" {
		t.Errorf("cloneGloss(CLONE_NEWNS|CLONE_NEWPID) = %q, want the narrator's own gloss", g)
	}
}

// The calls Go's child makes between clone and execve are named in the
// order syscall/exec_linux.go makes them.
func TestRuntimeStepsInGosOrder(t *testing.T) {
	got := RuntimeSteps(&syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, AmbientCaps: []uintptr{0, 1}})
	want := "prctl(PR_SET_KEEPCAPS, 1), setpgid(0, 0), rt_sigaction(…, SIG_DFL) for each signal it handles, rt_sigprocmask(SIG_SETMASK, []), capget(…), capset(…), " +
		"2 × prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_…) (its capabilities, kept through the execve of /proc/self/exe), prctl(PR_SET_PDEATHSIG, SIGKILL), getppid(), " +
		"fcntl(F_SETFD) and dup3 of the descriptors it hands on"
	if got != want {
		t.Errorf("RuntimeSteps =\n%s\nwant\n%s", got, want)
	}
}

// Go raises the soft limit of open files to one below the hard one at its
// start (where it was lower), and its children put it back: the note says
// so only then.
func TestGoRaisedNofile(t *testing.T) {
	for _, tc := range []struct {
		cur, max uint64
		want     bool
	}{
		{524287, 524288, true}, // Debian's 1024 / 524288, raised by Go
		{20000, 20000, false},  // soft = hard: nothing to raise
		{1024, 524288, false},  // not raised (not a Go process's limit)
		{0, 0, false},
	} {
		if got := goRaisedNofile(unix.Rlimit{Cur: tc.cur, Max: tc.max}); got != tc.want {
			t.Errorf("goRaisedNofile(%d/%d) = %v, want %v", tc.cur, tc.max, got, tc.want)
		}
	}
}

// A clone the kernel refuses with EAGAIN is a limit on processes reached:
// said so, with the errno alone (not Go's "fork/exec /proc/self/exe").
func TestStartErrorSaysWhatEAGAINMeans(t *testing.T) {
	err := &StartError{Err: errnoOf(&os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: syscall.EAGAIN})}
	if msg := err.Error(); msg != "start the child process: resource temporarily unavailable (the kernel would make no more processes: a limit is reached, 'ulimit -u' or the pids.max of the cgroup workshop runs in)" {
		t.Errorf("StartError(EAGAIN) = %q", msg)
	}
	if !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("StartError(EAGAIN) does not wrap EAGAIN")
	}
}

// A child killed from outside before its go-ahead (kill -9 of the init
// as a container starts) is said as such, 128+n: not "write the go-ahead
// into the child's pipe: broken pipe", a failure of the tool's (125).
func TestChildKilledBeforeItsGoAhead(t *testing.T) {
	c, _, _ := start(t)
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Its end of the pipe closed: it is ending.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, killed := c.killedBy(); killed || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	err := c.Release()
	if exit.Status(err) != 137 || !strings.Contains(fmt.Sprint(err), "the container's first process was killed by SIGKILL before its command ran") {
		t.Errorf("Release of a child killed by SIGKILL = %v (status %d), want 137 and a sentence", err, exit.Status(err))
	}
	if status, _ := c.Wait(); status != 137 {
		t.Errorf("its status = %d, want 137", status)
	}
}
