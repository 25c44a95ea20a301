package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Some of these tests run the real binary (internal/testbin builds it once,
// in a temp dir that Cleanup removes).
func TestMain(m *testing.M) { testbin.Main(m) }

// A --dir that is not a directory is a mistake in the command (125), not an
// exercise left undone (1), for the labs whose exercise is files there: 4
// and 6 look at cgroups and containers, and ignore it.
func TestCheckBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, dir := range []string{missing, file} {
		for _, n := range []int{1, 2, 3, 5} {
			r, err := Check(n, Options{Dir: dir, StateDir: t.TempDir()})
			if err == nil || exit.Status(err) != exit.ToolFailed || r != nil {
				t.Errorf("Check(%d, Dir %q) = %v, %v (status %d), want no report and status 125", n, dir, r, err, exit.Status(err))
				continue
			}
			if want := dir + " does not exist (or is not a directory)"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Check(%d, Dir %q) says %q, want it to start with %q", n, dir, err, want)
			}
		}
	}
}

func TestLabCheckBadDirCommand(t *testing.T) {
	testbin.NeedRoot(t) // the check needs root before it looks at anything
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/nonexistent", file} {
		r := testbin.Run(t, "", "lab", "2", "check", "--dir", dir)
		want := "workshop: " + dir + " does not exist (or is not a directory)"
		if r.Code != exit.ToolFailed || r.Stdout != "" || !strings.HasPrefix(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("workshop lab 2 check --dir %s = %d, stdout %q, stderr %q; want 125, nothing on stdout, one line starting %q",
				dir, r.Code, r.Stdout, r.Stderr, want)
		}
	}
}

// Lab 4 looks at a cgroup, not at files: a --dir is ignored, and its
// header names the group.
func TestLab4IgnoresDir(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "lab", "4", "check", "--dir", "/nonexistent", "--cgroup", "no-such-group-lab4")
	if r.Code != 1 || !strings.HasPrefix(r.Stdout, "Step 4's exercise, the cgroup no-such-group-lab4:") || !strings.Contains(r.Stdout, "there is no no-such-group-lab4 cgroup") {
		t.Errorf("lab 4 check --dir /nonexistent = %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// A finding may name what the student's root holds (a link's target, which
// an image chose): each is printed on one line, escaped, so that it cannot
// forge an "ok" line or recolour the terminal.
func TestReportFindingsAreOneLine(t *testing.T) {
	r := &Report{step: 1}
	r.missing("a hint", "bin/busybox is a symlink to %s", "/x\n  ok    forged: exercise complete \x1b[32m")
	var out strings.Builder
	r.Print(&out, false)
	if strings.Contains(out.String(), "\n  ok") || strings.Contains(out.String(), "\x1b") {
		t.Errorf("the report printed a forged line or an escape:\n%q", out.String())
	}
}

// A check run from a directory removed after the shell entered it says so
// in one sentence (it printed Go's "getwd: no such file or directory").
func TestLabCheckFromARemovedDirectory(t *testing.T) {
	testbin.NeedRoot(t)
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `cd "$1" && rmdir "$1" && exec "$2" lab 1 check`, "sh", gone, testbin.Bin(t))
	r := testbin.RunCmd(t, cmd, time.Minute)
	want := "workshop: the current directory cannot be found (getwd: no such file or directory): was it removed? cd into the directory you did the exercise in, or name it with --dir\n"
	if r.Code != exit.ToolFailed || r.Stderr != want {
		t.Errorf("lab 1 check from a removed directory = %d, stderr %q; want 125 and %q", r.Code, r.Stderr, want)
	}
}

// The command a report suggests repeats the flag the check looked at, and
// a check from elsewhere says its hints' paths are relative to --dir: the
// suggestion checked "sandbox", or this directory, instead.
func TestLabReportKeepsItsFlags(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "lab", "1", "check", "--dir", dir)
	if r.Code != 1 || !strings.Contains(r.Stdout, "(the paths in its hints are relative to that directory: cd "+dir+" before you paste one)") ||
		!strings.Contains(r.Stdout, "'sudo workshop --state-dir ") || !strings.Contains(r.Stdout, " lab 1 check --dir "+dir+" --solution'") {
		t.Errorf("lab 1 check --dir %s = %d, stdout:\n%s", dir, r.Code, r.Stdout)
	}
	r = testbin.Run(t, "", "lab", "4", "check", "--cgroup", "no-such-group-lab4", "--dir", dir)
	if r.Code != 1 || !strings.Contains(r.Stdout, "'sudo workshop lab 4 check --cgroup no-such-group-lab4 --solution'") || strings.Contains(r.Stdout, "relative to") {
		t.Errorf("lab 4 check --cgroup no-such-group-lab4 = %d, stdout:\n%s", r.Code, r.Stdout)
	}
	// A relative --dir is repeated whole: after the cd the header asks
	// for, the relative one would name another directory.
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(here, dir)
	if err != nil {
		t.Fatal(err)
	}
	r = testbin.Run(t, "", "lab", "1", "check", "--dir", rel)
	if !strings.Contains(r.Stdout, "cd "+rel+" before you paste one") || !strings.Contains(r.Stdout, " lab 1 check --dir "+dir+" --solution'") {
		t.Errorf("lab 1 check --dir %s = %d, stdout:\n%s", rel, r.Code, r.Stdout)
	}
	// Run from the directory itself: no word about --dir.
	r = testbin.Run(t, "", "lab", "2", "check", "--dir", ".")
	if strings.Contains(r.Stdout, "relative to") || strings.Contains(r.Stdout, "--dir") {
		t.Errorf("lab 2 check --dir . = %d, stdout:\n%s", r.Code, r.Stdout)
	}
}

// Checked from inside the root itself, the hint says to go up, not to make
// a root in the root.
func TestLabCheckedFromInsideTheRoot(t *testing.T) {
	for _, c := range []struct {
		n    int
		name string
	}{{1, "my-new-root"}, {2, "my-new-root"}, {3, "my-new-root"}, {5, "container-root"}, {5, "my-new-root"}} {
		inside := filepath.Join(t.TempDir(), c.name)
		if err := os.Mkdir(inside, 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := Check(c.n, Options{Dir: inside, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if text := findingsText(r); r.Done() || !strings.Contains(text, "this directory is "+c.name+" itself: run the check from the directory that holds it (cd ..)") {
			t.Errorf("lab %d checked from inside %s: the report\n%s", c.n, c.name, text)
		}
	}
}
