package sys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNotation(t *testing.T) {
	var buf bytes.Buffer
	n := New(&buf, Options{})
	dir := t.TempDir()
	if err := n.Mkdir(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := n.Mkdir(filepath.Join(dir, "no", "such"), 0o755)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("Mkdir in a missing dir = %v, want ENOENT", err)
	}
	n.WithPid(1).Reported("clone", "flags="+CloneFlagString(unix.CLONE_NEWPID|unix.CLONE_NEWNS|uintptr(unix.SIGCHLD)), 42, nil)
	want := []string{
		`mkdirat(AT_FDCWD, "` + dir + `/a", 0755) = 0`,
		`mkdirat(AT_FDCWD, "` + dir + `/no/such", 0755) = -1 ENOENT (No such file or directory)`,
		`[pid 1] clone(flags=CLONE_NEWNS|CLONE_NEWPID|SIGCHLD) = 42`,
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("narration =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWriteFileShowsEachCall(t *testing.T) {
	var buf bytes.Buffer
	n := New(&buf, Options{})
	f := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFile(f, []byte("83886080")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, w := range []string{`openat(AT_FDCWD, "` + f + `", O_WRONLY|O_CLOEXEC) = `, `, "83886080", 8) = 8`, "close("} {
		if !strings.Contains(out, w) {
			t.Errorf("narration %q lacks %q", out, w)
		}
	}
	if b, _ := os.ReadFile(f); string(b) != "83886080" {
		t.Errorf("file holds %q, want the bytes written", b)
	}
}

func TestQuietAndExplain(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Options{Quiet: true}).Chdir("/")
	if buf.Len() != 0 {
		t.Errorf("quiet narrator printed %q", buf.String())
	}
	New(&buf, Options{Explain: true}).Because("go home").Chdir("/")
	if !strings.Contains(buf.String(), `chdir("/") = 0  # go home`) {
		t.Errorf("explain line = %q, want the gloss after the result", buf.String())
	}
	buf.Reset()
	New(&buf, Options{Explain: true}).Chdir("/")
	if !strings.Contains(buf.String(), "# move the working directory") {
		t.Errorf("explain line = %q, want the default gloss", buf.String())
	}
}

// A failed execve, the line step 1 teaches, is not glossed as a program
// replaced.
func TestExplainFailedExecve(t *testing.T) {
	var buf bytes.Buffer
	if err := New(&buf, Options{Explain: true}).Execve("/nonexistent-program-for-test", []string{"x"}, nil, nil); err == nil {
		t.Fatal("execve of a program that is not there succeeded")
	}
	line := buf.String()
	if !strings.Contains(line, "= -1 ENOENT") || !strings.Contains(line, "# the kernel could not load the program") || strings.Contains(line, "replace this process's program") {
		t.Errorf("explain line of a failed execve = %q, want the failure's gloss", line)
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	var plain, colored bytes.Buffer
	New(&plain, Options{}).Chdir("/nonexistent-dir-for-test")
	New(&colored, Options{Color: true}).Chdir("/nonexistent-dir-for-test")
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("uncoloured narration has escapes: %q", plain.String())
	}
	if !strings.Contains(colored.String(), "\x1b[") {
		t.Errorf("coloured narration has no escapes: %q", colored.String())
	}
}

func TestExecReporter(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rep := NewExecReporter(w)
	rep.pending("[pid 1] ", `"/bin/true", ["true"], …`)
	w.Close()
	var buf bytes.Buffer
	if !New(&buf, Options{}).AwaitExec(r, 0) {
		t.Fatalf("AwaitExec = false for an exec that was not reported as failed")
	}
	if got := strings.TrimSpace(buf.String()); got != `[pid 1] execve("/bin/true", ["true"], …) = 0` {
		t.Errorf("AwaitExec printed %q", got)
	}

	r, w, _ = os.Pipe()
	rep = NewExecReporter(w)
	rep.pending("", `"/bin/nope", ["nope"], …`)
	rep.failed()
	w.Close()
	buf.Reset()
	if New(&buf, Options{}).AwaitExec(r, 0) || buf.Len() != 0 {
		t.Errorf("a failed exec was reported as done: %q", buf.String())
	}

	// Handed over (an init that runs the command as its child), and, for
	// a child killed while it set up, neither that nor an exec.
	for _, handOver := range []bool{true, false} {
		r, w, _ = os.Pipe()
		rep = NewExecReporter(w)
		if handOver {
			rep.Done()
		} else {
			w.Close()
		}
		buf.Reset()
		if execed, handedOver := New(&buf, Options{}).AwaitSetup(r, 0); execed || handedOver != handOver || buf.Len() != 0 {
			t.Errorf("Done called: %v; AwaitSetup = %v, %v, printed %q; want false, %v, nothing", handOver, execed, handedOver, buf.String(), handOver)
		}
	}

	// A child killed after it wrote the call, before the kernel ran it: the
	// pipe closes as for a successful exec, but the child still bears the
	// name of a re-executed workshop, "exe". A program named exe stands in
	// for it here (a copy of sleep); a sleep stands for a child that did
	// exec (its program, or one that program exec'd at once).
	exe := filepath.Join(t.TempDir(), "exe")
	data, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	notYet := exec.Command(exe, "30")
	sleep := exec.Command("/bin/sleep", "30")
	for _, c := range []*exec.Cmd{notYet, sleep} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(c)
	}
	for _, tc := range []struct {
		pid  int
		path string
		want bool
	}{
		{notYet.Process.Pid, "/bin/true", false},   // still "exe": no execve of /bin/true
		{sleep.Process.Pid, "/bin/sleep", true},    // named after the program
		{sleep.Process.Pid, "/usr/bin/env", true},  // env exec'd sleep at once: env's execve happened
		{notYet.Process.Pid, "/opt/bin/exe", true}, // a program named exe: told apart from none
	} {
		r, w, _ = os.Pipe()
		NewExecReporter(w).pending("", strconv.Quote(tc.path)+`, ["x"], …`)
		w.Close()
		buf.Reset()
		if got := New(&buf, Options{}).AwaitExec(r, tc.pid); got != tc.want || (buf.Len() > 0) != tc.want {
			t.Errorf("AwaitExec of a pending execve(%q) by pid %d = %v, printed %q; want %v", tc.path, tc.pid, got, buf.String(), tc.want)
		}
	}
}

// syncBuffer is a buffer two goroutines may write and read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines printed together come together: another goroutine that has a note
// to say as soon as the first line is out (the cgroup's watch, woken by a
// second signal sent on reading the note of the first) says it after the
// last. Without Together, its note came between the forwarder's note and
// its kill.
func TestTogether(t *testing.T) {
	var out syncBuffer
	n := New(&out, Options{})
	firstOut := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-firstOut
		n.Note("the other goroutine's")
	}()
	n.Together(func(h *Narrator) {
		h.Note("first")
		close(firstOut)
		time.Sleep(50 * time.Millisecond) // the other goroutine is ready to print by now
		h.Kill(os.Getpid(), 0)
	})
	<-done
	want := fmt.Sprintf("==> first\nkill(%d, 0) = 0\n==> the other goroutine's\n", os.Getpid())
	if got := out.String(); got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
}

// Every call the project narrates has a gloss for --explain: the v2
// machine's clone3, the line its cgroup lesson is about, had none. The
// names are read from the sources: record and Reported calls with a
// literal name, and the names reexec's cloneCall returns.
// packageDir is where go test starts the test binary, read before any test
// runs: some tests here chdir("/") for real.
var packageDir, _ = os.Getwd()

func TestEveryNarratedCallHasAGloss(t *testing.T) {
	named := regexp.MustCompile(`(?:\brecord|\.Reported)\("([a-z_0-9]+)"|return "(clone3?)", `)
	seen := 0
	// The trees that hold workshop's code.
	walk := func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range named.FindAllStringSubmatch(string(src), -1) {
			name := m[1] + m[2]
			seen++
			if glosses[name] == "" {
				t.Errorf("%s narrates %s, which has no gloss for --explain", path, name)
			}
		}
		return nil
	}
	module := filepath.Join(packageDir, "..", "..")
	for _, tree := range []string{"cmd", "internal", "steps"} {
		if err := filepath.WalkDir(filepath.Join(module, tree), walk); err != nil {
			t.Fatal(err)
		}
	}
	if seen < 30 {
		t.Errorf("found %d narrated calls in the sources, want the project's (30 and more): the pattern no longer matches them", seen)
	}
}

// ChildInfo reads the pid, code and status waitid gives of a child that
// exited, wherever this machine's siginfo puts them.
func TestChildInfo(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 7")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED, nil); err != nil {
		t.Fatal(err)
	}
	if pid, code, status := ChildInfo(&info); pid != cmd.Process.Pid || code != CLDExited || status != 7 {
		t.Errorf("ChildInfo = pid %d, code %d, status %d; want %d, %d, 7", pid, code, status, cmd.Process.Pid, CLDExited)
	}
}
