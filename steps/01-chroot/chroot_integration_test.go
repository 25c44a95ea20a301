package chroot_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestMain(m *testing.M) { testbin.Main(m) }

func TestStep1ExecveFailsWithENOENT(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := testbin.Run(t, "", "--state-dir", state, "step", "1")
	if r.Code != 0 {
		t.Fatalf("workshop step 1 exit = %d, want 0 (it behaved as the lesson says); stderr:\n%s", r.Code, r.Stderr)
	}
	root := filepath.Join(state, "step1", "my-new-root")
	for _, want := range []string{
		`mkdirat(AT_FDCWD, "` + root + `", 0755) = 0`,
		`] chroot("` + root + `") = 0`,
		`] chdir("/") = 0`,
		`] execve("/bin/bash", ["bash"], …) = -1 ENOENT (No such file or directory)`,
		"there is no bash in an empty root",
		"`sudo workshop --state-dir " + state + " step 2`", // with the --state-dir given
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("step 1 stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if !strings.Contains(r.Stderr, root) {
		t.Errorf("step 1 does not say where the root is (%s)", root)
	}
	// The root stays, empty, for the student to look at.
	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 0 {
		t.Errorf("after step 1, ReadDir(%s) = %v, %v; want it there and empty", root, entries, err)
	}
	if r.Stdout != "" {
		t.Errorf("step 1 printed on stdout: %q (narration belongs on stderr)", r.Stdout)
	}
}

// Under --quiet the step's notes are gone with the narration: the failure
// it shows is followed by one line that says it is the lesson, not the
// step's own failure (exit 0).
func TestStep1Quiet(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "--quiet", "step", "1")
	want := "workshop: failed to run command \"bash\" inside the root: No such file or directory\n" +
		"workshop: that failure is step 1's lesson: an empty root has no bash (without --quiet, the step shows why)\n"
	if r.Code != 0 || r.Stderr != want {
		t.Errorf("workshop --quiet step 1 = %d, stderr:\n%s\nwant 0 and:\n%s", r.Code, r.Stderr, want)
	}
}

func TestStep1AgainstStrace(t *testing.T) {
	testbin.NeedRoot(t)
	r := stracecheck.Run(t, "--state-dir", t.TempDir(), "step", "1")
	if r.Code != 0 {
		t.Errorf("workshop step 1 under strace exit = %d; stderr:\n%s", r.Code, r.Stderr)
	}
}

func TestStep1WithItsOwnRoot(t *testing.T) {
	testbin.NeedRoot(t)
	root := filepath.Join(t.TempDir(), "elsewhere", "jail")
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "step", "1", "--root", root)
	if r.Code != 0 || !strings.Contains(r.Stderr, `chroot("`+root+`") = 0`) {
		t.Errorf("step 1 --root %s = %d; stderr:\n%s", root, r.Code, r.Stderr)
	}
}

// hostRoot lists the host's / as ls does (no dot files).
func hostRoot(t *testing.T) []string {
	entries, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestEscapeListsTheHostRoot(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := testbin.Run(t, "", "--state-dir", state, "step", "1", "--demo", "escape")
	if r.Code != 0 {
		t.Fatalf("step 1 --demo escape exit = %d; stderr:\n%s", r.Code, r.Stderr)
	}
	got := strings.Fields(r.Stdout)
	sort.Strings(got)
	want := hostRoot(t)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the escaped process listed\n%q\nwant the host's /\n%q", got, want)
	}
	for _, w := range []string{`] chroot("escape") = 0`, `] chdir("..") = 0`, `] chroot(".") = 0`, `] execve("/bin/ls", ["ls", "/"], …) = 0`, "pivot_root", "step 6"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("escape narration lacks %q:\n%s", w, r.Stderr)
		}
	}
	root := filepath.Join(state, "step1", "my-new-root")
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("after the escape the root holds %v (%v); want the escape dir removed", entries, err)
	}
}

func TestEscapeAgainstStrace(t *testing.T) {
	testbin.NeedRoot(t)
	r := stracecheck.Run(t, "--state-dir", t.TempDir(), "step", "1", "--demo", "escape")
	if r.Code != 0 {
		t.Errorf("step 1 --demo escape under strace exit = %d; stderr:\n%s", r.Code, r.Stderr)
	}
}

func TestStep1BadInput(t *testing.T) {
	testbin.NeedRoot(t)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(t.TempDir(), "dang")
	if err := os.Symlink("/nonexistent-target-of-a-test", dangling); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "1", "--root", file}, "--root " + file + " is not a directory"},
		{[]string{"step", "1", "--root", dangling}, dangling + " is a symlink to /nonexistent-target-of-a-test, which does not exist"},
		{[]string{"step", "1", "--root", filepath.Join(file, "root")}, "--root " + filepath.Join(file, "root") + ": a part of that path is a file"},
		{[]string{"step", "1", "--demo", "fly"}, `--demo "fly": step 1 has one demo, 'escape'`},
		{[]string{"step", "1", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"step", "1", "extra"}, "step 1 runs no command of yours"},
	} {
		r := testbin.Run(t, "", append([]string{"--state-dir", t.TempDir()}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("workshop %q = %d, stderr %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

func TestStep1Explain(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--explain", "--state-dir", t.TempDir(), "step", "1", "--demo", "escape")
	if r.Code != 0 {
		t.Fatalf("--explain step 1 --demo escape = %d; stderr:\n%s", r.Code, r.Stderr)
	}
	for _, w := range []string{
		"\nStep 1: chroot\n==============\n", "\nExercise\n--------\n", "\nFurther reading\n---------------\n",
		`] chroot("escape") = 0  # the root moves down into escape/`,
		`] chdir("..") = 0  # climb`,
		`] execve("/bin/ls", ["ls", "/"], …) = 0  # replace this process's program`,
		`|SIGCHLD) = `, "# create a child process, in the same namespaces as its parent (no CLONE_NEW* flag)",
	} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("--explain stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
}

// A root that is not empty is refused before anything runs: it could hold a
// shell (run instead of the lesson's failure) or be the host's / itself (the
// escape demo makes and removes a directory in its root).
func TestStep1RefusesARootThatIsNotEmpty(t *testing.T) {
	testbin.NeedRoot(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "something"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"step", "1", "--root", root}, {"step", "1", "--demo", "escape", "--root", root}} {
		r := testbin.Run(t, "", append([]string{"--state-dir", t.TempDir()}, args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, "is not empty (it holds something)") {
			t.Errorf("workshop %q = %d, stderr %q; want 125 and why", args, r.Code, r.Stderr)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 1 {
			t.Errorf("workshop %q changed the root: %d entries", args, len(entries))
		}
	}
}

// Under a umask of 077 (some sudo setups) the state dir and the root were
// made 0700: step 3's --map-users root, host uid 100000, could not reach
// them. They are 0755, and the umask's change is narrated.
func TestStep1UnderAStrictUmask(t *testing.T) {
	testbin.NeedRoot(t)
	state := filepath.Join(t.TempDir(), "var", "workshop")
	cmd := exec.Command("/bin/sh", "-c", `umask 077 && exec "$@"`, "sh", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "1")
	r := testbin.RunCmd(t, cmd, time.Minute)
	if r.Code != 0 || !strings.Contains(r.Stderr, "umask(022) = 077\n") || !strings.Contains(r.Stderr, "umask(077) = 022\n") {
		t.Fatalf("step 1 under umask 077 = exit %d; want 0 and the umask set and put back, narrated\n%s", r.Code, r.Stderr)
	}
	for _, dir := range []string{filepath.Dir(state), state, filepath.Join(state, "step1", "my-new-root")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", dir, fi.Mode(), err)
		}
	}
}

// Without CAP_SYS_CHROOT (a root whose bounding set holds no capability,
// as in some containers) the chroot fails, and the child says so: step 1
// ends with 125 and that sentence alone, not "bash did not fail to start
// inside …: that root is not empty" about the empty root it just made.
func TestStep1WithoutTheRightToChroot(t *testing.T) {
	testbin.NeedRoot(t)
	setpriv := testbin.NeedTool(t, "setpriv")
	cmd := exec.Command(setpriv, "--bounding-set=-all", "--inh-caps=-all", testbin.Bin(t), "-q", "--state-dir", t.TempDir(), "step", "1")
	r := testbin.RunCmd(t, cmd, time.Minute)
	if r.Code != 125 || !strings.Contains(r.Stderr, "operation not permitted") || strings.Contains(r.Stderr, "did not fail to start") {
		t.Errorf("step 1 without CAP_SYS_CHROOT = %d, stderr %q; want 125 and the chroot's failure alone", r.Code, r.Stderr)
	}
}
