package lddcopy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/stracecheck"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
)

func TestMain(m *testing.M) { testbin.Main(m) }

// step2 runs `workshop step 2 ARGS…` with its own state dir.
func step2(t *testing.T, state, stdin string, args ...string) testbin.Result {
	t.Helper()
	return testbin.Run(t, stdin, append([]string{"--state-dir", state, "step", "2"}, args...)...)
}

func TestPwdIsSlash(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := step2(t, state, "", "--", "/bin/bash", "-c", "pwd")
	if r.Code != 0 || r.Stdout != "/\n" {
		t.Fatalf("step 2 -- /bin/bash -c pwd = %d, stdout %q; want 0 and \"/\"\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	root := filepath.Join(state, "my-new-root")
	for _, w := range []string{
		`] chroot("` + root + `") = 0`,
		`] execve("/bin/bash", ["/bin/bash", "-c", "pwd"], …) = 0`,
		"libc.so.6 => ",
		"copy_file_range(",
	} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("step 2 narration lacks %q:\n%s", w, r.Stderr)
		}
	}
	// A second run has nothing to copy, and says so.
	r = step2(t, state, "", "--", "/bin/bash", "-c", "pwd")
	if r.Code != 0 || r.Stdout != "/\n" || !strings.Contains(r.Stderr, "nothing to copy") || strings.Contains(r.Stderr, "copy_file_range(") {
		t.Errorf("second step 2 = %d, stdout %q; want nothing copied, and said:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestBinLsAndCat(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := step2(t, state, "", "--bin", "ls", "--bin", "cat", "--", "/bin/ls", "/")
	if r.Code != 0 {
		t.Fatalf("step 2 --bin ls --bin cat -- /bin/ls / = %d; stderr:\n%s", r.Code, r.Stderr)
	}
	entries, err := os.ReadDir(filepath.Join(state, "my-new-root"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		want = append(want, e.Name())
	}
	got := strings.Fields(r.Stdout)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ls / in the root printed %q, want the root's entries %q", got, want)
	}
	// cat came along, and the root's PATH finds it.
	r = step2(t, state, "", "--", "/bin/bash", "-c", "echo meow | cat")
	if r.Code != 0 || r.Stdout != "meow\n" {
		t.Errorf("cat in the root = %d, %q; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// A command given by name is looked up in the root's PATH, as execvp does.
	r = step2(t, state, "", "--", "ls", "/")
	if r.Code != 0 || !strings.Contains(r.Stderr, `execve("/usr/local/sbin/ls", ["ls", "/"], …) = -1 ENOENT`) {
		t.Errorf("step 2 -- ls / = %d; want the PATH search narrated:\n%s", r.Code, r.Stderr)
	}
}

func TestStaticBusybox(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "busybox")
	r := step2(t, t.TempDir(), "", "--bin", "/bin/busybox", "--", "/bin/busybox", "echo", "static")
	if r.Code != 0 || r.Stdout != "static\n" || !strings.Contains(r.Stderr, "not a dynamic executable") {
		t.Errorf("busybox in the root = %d, %q; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestScriptRunsInTheRoot(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "greet")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"hello from $0, $1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := step2(t, t.TempDir(), "", "--", script, "student")
	if want := "hello from " + script + ", student\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("a #! script in the root = %d, %q, want %q; stderr:\n%s", r.Code, r.Stdout, want, r.Stderr)
	}
}

func TestBashReadsStdinWithoutATerminal(t *testing.T) {
	testbin.NeedRoot(t)
	r := step2(t, t.TempDir(), "echo $((6*7))\npwd\n")
	if r.Code != 0 || r.Stdout != "42\n/\n" {
		t.Errorf("step 2 with commands on stdin = %d, %q; want 42 and /\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, `] execve("/bin/bash", ["bash"], …) = 0`) {
		t.Errorf("the default command is not step 1's execve, succeeding now:\n%s", r.Stderr)
	}
}

func TestExitStatuses(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	// A script whose #! interpreter nobody has: copied in, and its execve
	// fails with ENOENT, so 127, as for a missing program.
	script := filepath.Join(t.TempDir(), "old.sh")
	if err := os.WriteFile(script, []byte("#!/nonexistent/interp\necho never\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Its interpreter's name with a terminal's escape: the sentence
	// stays one line, the escape written as one, not sent.
	escaped := filepath.Join(t.TempDir(), "esc.sh")
	if err := os.WriteFile(escaped, []byte("#!/nonexistent/\x1b[31mred\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:secret\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--", "/bin/bash", "-c", "exit 42"}, 42, ""},
		{[]string{"--", "/bin/bash", "-c", "kill -TERM $$"}, 128 + 15, ""},
		{[]string{"--", "/no/such/program"}, 127, `failed to run command "/no/such/program" inside the root: No such file or directory`},
		{[]string{"--", "no-such-program"}, 127, `failed to run command "no-such-program" inside the root: No such file or directory`},
		{[]string{"--", "/usr"}, 126, `failed to run command "/usr" inside the root: Permission denied`},
		// A directory of the host that the root lacks: said as such, not
		// as something the host lacks too; then execve finds nothing.
		{[]string{"--", "/etc"}, 127, "/etc is a directory on the host, not a program: nothing is copied for it"},
		{[]string{"--", script}, 127, `execve("` + script + `", ["` + script + `"], …) = -1 ENOENT`},
		// "No such file or directory" of a file that is there: what is
		// not there is named.
		{[]string{"--", script}, 127, `inside the root: No such file or directory (` + script + ` is there, but the interpreter its #! line names, /nonexistent/interp, is not)`},
		{[]string{"--", escaped}, 127, `is there, but the interpreter its #! line names, /nonexistent/\x1b[31mred, is not)`},
		// A file no one may execute (/etc/shadow…): no program, and never
		// copied, which would carry the host's file into the root and
		// every image made from it.
		{[]string{"--", secret}, 127, secret + " is not executable on the host (mode 0640): not a program: it is not copied"},
		{[]string{"--bin", secret, "--", "/bin/true"}, 125, "--bin " + secret + " is not executable on the host (mode 0640): not a program, and not copied"},
	} {
		r := step2(t, state, "", tc.args...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.stderr) {
			t.Errorf("step 2 %q = %d, want %d and %q; stderr:\n%s", tc.args, r.Code, tc.code, tc.stderr, r.Stderr)
		}
	}
	if _, err := os.Lstat(filepath.Join(state, "my-new-root", secret)); !os.IsNotExist(err) {
		t.Errorf("the host's non-executable %s was copied into the root (%v)", secret, err)
	}
}

func TestStep2AgainstStrace(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	for _, args := range [][]string{
		{"--bin", "ls", "--", "/bin/ls", "/"}, // copies
		{"--bin", "ls", "--", "/bin/ls", "/"}, // nothing to copy
		{"--", "no-such-command"},             // a PATH search that fails: 127
	} {
		r := stracecheck.Run(t, append([]string{"--state-dir", state, "step", "2"}, args...)...)
		if want := map[bool]int{true: 127, false: 0}[args[1] == "no-such-command"]; r.Code != want {
			t.Errorf("step 2 %q under strace = %d, want %d; stderr:\n%s", args, r.Code, want, r.Stderr)
		}
	}
}

// A program whose loader fails (a library the host lacks): the loader runs
// that happened, and Go's pidfd probe before them, are told of before the
// error, as strace sees them.
func TestLoaderFailureAgainstStrace(t *testing.T) {
	testbin.NeedRoot(t)
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("libc.so.6\x00"))
	if i < 0 {
		t.Skip("/bin/true does not name libc.so.6") // not a glibc host
	}
	copy(data[i:], "libq.so.6") // a library no host has
	bad := filepath.Join(t.TempDir(), "badtrue")
	if err := os.WriteFile(bad, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// It fails before any narrated call: only CheckNothingHidden applies.
	r, log := stracecheck.Trace(t, stracecheck.Syscalls, "", "--no-color", "--state-dir", t.TempDir(), "step", "2", "--bin", bad, "--", "/bin/true")
	if err := stracecheck.CheckNothingHidden(r.Stderr, log); err != nil {
		t.Errorf("the narration hides a call: %v\n%s", err, r.Stderr)
	}
	// The loader ran for bash (step 2's own), true, and badtrue, where it
	// failed.
	if r.Code != 125 || !strings.Contains(r.Stderr, "libq.so.6") || !strings.Contains(r.Stderr, "ldd ran the loader in 3 child processes") ||
		!strings.Contains(r.Stderr, ", "+bad+"\n") {
		t.Errorf("step 2 --bin %s = %d; want 125, the missing library named, and the three loader runs told of:\n%s", bad, r.Code, r.Stderr)
	}
}

func TestQuiet(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--quiet", "--state-dir", t.TempDir(), "step", "2", "--", "/bin/bash", "-c", "pwd")
	if r.Code != 0 || r.Stdout != "/\n" || r.Stderr != "" {
		t.Errorf("--quiet step 2 = %d, stdout %q, stderr %q; want \"/\" and no narration", r.Code, r.Stdout, r.Stderr)
	}
	// A command that is not there still gets its sentence, as chroot(1) gives it.
	r = testbin.Run(t, "", "-q", "--state-dir", t.TempDir(), "step", "2", "--", "/nope")
	if r.Code != 127 || strings.TrimSpace(r.Stderr) != `workshop: failed to run command "/nope" inside the root: No such file or directory` {
		t.Errorf("--quiet step 2 -- /nope = %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestExplain(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "", "--explain", "--state-dir", t.TempDir(), "step", "2", "--", "/bin/bash", "-c", "pwd")
	if r.Code != 0 || r.Stdout != "/\n" {
		t.Fatalf("--explain step 2 = %d, %q; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, w := range []string{
		// As a terminal shows it: headings underlined.
		"\nStep 2: ldd-copy\n================\n",
		"\nExercise\n--------\n",
		`symlinkat("usr/bin", AT_FDCWD, `, "# create a symbolic link",
		"# copy bytes between two files inside the kernel",
		`] chroot(`, "# from now on, every absolute path of this process starts in the root",
	} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("--explain stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
}

func TestBadInput(t *testing.T) {
	testbin.NeedRoot(t)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bin", "no-such-program-anywhere"}, "--bin no-such-program-anywhere: no such program on the host"},
		{[]string{"--bin", "/no/such/file"}, "--bin /no/such/file: no such program on the host"},
		{[]string{"--root", file}, "--root " + file + " is not a directory"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--bin"}, "flag needs an argument: --bin"},
	} {
		state := t.TempDir()
		r := step2(t, state, "", tc.args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("step 2 %q = %d, stderr %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(state, "my-new-root")); err == nil {
			t.Errorf("step 2 %q made the root before refusing", tc.args)
		}
	}
}

// Colour: on when stderr is a terminal, off with --no-color or NO_COLOR.
func TestColour(t *testing.T) {
	testbin.NeedRoot(t)
	for _, tc := range []struct {
		name   string
		flags  []string
		env    []string
		colour bool
	}{
		{"a terminal", nil, []string{"TERM=xterm"}, true}, // whatever TERM the tests run under
		{"--no-color", []string{"--no-color"}, nil, false},
		{"NO_COLOR", nil, []string{"NO_COLOR=1"}, false},
		{"NO_COLOR empty", nil, []string{"NO_COLOR=", "TERM=xterm"}, true}, // no-color.org: an empty one asks nothing
		{"TERM=dumb", nil, []string{"TERM=dumb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--state-dir", t.TempDir()}, tc.flags...), "step", "2", "--", "/bin/bash", "-c", "pwd")
			stderr := runWithTerminalStderr(t, tc.env, args...)
			if got := strings.Contains(stderr, "\x1b["); got != tc.colour {
				t.Errorf("with %s, colour escapes in the narration = %v, want %v:\n%q", tc.name, got, tc.colour, stderr)
			}
			if !strings.Contains(stderr, "chroot") || !strings.Contains(stderr, "execve") {
				t.Errorf("no narration on the terminal: %q", stderr)
			}
		})
	}
}

// runWithTerminalStderr runs the binary with stderr on a new pseudo-terminal
// and returns what it printed there.
func runWithTerminalStderr(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ptmx, pts := testbin.OpenPty(t)
	defer ptmx.Close()
	cmd := exec.Command(testbin.Bin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, ptmx) // ends with EIO once the last writer has gone
		close(done)
	}()
	if err := cmd.Wait(); err != nil {
		t.Errorf("workshop %q: %v", args, err)
	}
	<-done
	if stdout.String() != "/\n" {
		t.Errorf("stdout = %q, want \"/\"", stdout.String())
	}
	return out.String()
}

// With stdin on a terminal and no command, bash in the root is interactive:
// it prints its prompt, reads what is typed, and its exit status passes.
func TestInteractiveBashOnATerminal(t *testing.T) {
	testbin.NeedRoot(t)
	ptmx, pts := testbin.OpenPty(t)
	defer ptmx.Close()
	cmd := exec.Command(testbin.Bin(t), "--quiet", "--state-dir", t.TempDir(), "step", "2")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	// The terminal becomes the controlling terminal of a new session, as
	// when a student logs in.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, ptmx)
		close(done)
	}()
	if _, err := ptmx.WriteString("echo inside $((2+3))\nexit 7\n"); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	<-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("interactive step 2 ended with %v, want exit status 7 (bash's own)", err)
	}
	for _, w := range []string{"# echo inside", "inside 5\r\n", "# exit 7"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the terminal shows %q, want an interactive bash (prompt, then %q)", out.String(), w)
		}
	}
}

// SIGTERM sent to workshop reaches the command in the root, and the
// command's death by it is workshop's exit status (128+15).
func TestSignalReachesTheCommand(t *testing.T) {
	testbin.NeedRoot(t)
	cmd := exec.Command(testbin.Bin(t), "--state-dir", t.TempDir(), "step", "2", "--", "/bin/bash", "-c", "echo ready; read line")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the command did not start: %q, %v\n%s", line, err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+15 {
		t.Errorf("workshop after SIGTERM: %v, want exit status 143\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`kill\(\d+, SIGTERM\) = 0`).MatchString(stderr.String()) {
		t.Errorf("the forwarded signal is not narrated:\n%s", stderr.String())
	}
}

// A command found on the host's PATH outside the root's PATH (~/go/bin, say)
// is run by the path it has in the root.
func TestCommandOffTheRootsPath(t *testing.T) {
	testbin.NeedRoot(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello-off-path"), []byte("#!/bin/sh\necho off the path\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := testbin.RunEnv(t, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, "", "--state-dir", t.TempDir(), "step", "2", "--", "hello-off-path")
	if r.Code != 0 || r.Stdout != "off the path\n" {
		t.Errorf("step 2 -- hello-off-path = %d, %q; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// While another workshop fills the same root, step 4 (which catches the
// stop signals from its start) waits its turn, and a Ctrl-C still ends the
// wait: 130 and a sentence, nothing copied.
func TestWaitForTheRootLockIsInterruptible(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root := filepath.Join(state, "my-new-root")
	testbin.LockedDir(t, root, 0o755) // another workshop filling it
	r := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "4", "--", "/bin/true")
	r.Stderr.WaitFor(t, "trying again every")
	time.Sleep(time.Second) // a few tries (one every 20 ms), each refused, also on a slow machine
	r.Signal(syscall.SIGINT)
	res := r.Wait()
	if res.Code != 130 || !strings.Contains(res.Stderr, "interrupted by SIGINT while waiting for another workshop to fill "+root+"; nothing was copied") ||
		!strings.Contains(res.Stderr, "LOCK_EX|LOCK_NB) calls, each EWOULDBLOCK, until the wait was given up") {
		t.Errorf("Ctrl-C while waiting for the root's lock = exit %d\n%s", res.Code, res.Stderr)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("the root holds %d entries after an interrupted wait", len(entries))
	}
}

// A Ctrl-C while step 2 copies ends the copy between two chunks, the file
// half copied removed: 130 and a sentence. Killed by it, as before, step 2
// left the half copy in the root (and step 5 packed it into its image).
// What a SIGKILL leaves there, the next step 2 removes.
func TestCtrlCDuringTheCopy(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root := filepath.Join(state, "my-new-root")
	big := bigProgram(t)
	half := filepath.Join(root, big[:len(big)-len("big")]+".big.workshop-copy")
	r := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "2", "--bin", big, "--", "/bin/true")
	r.Stderr.WaitFor(t, `.big.workshop-copy", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0755) = `)
	r.Signal(syscall.SIGINT)
	res := r.Wait()
	if res.Code != 130 || !strings.Contains(res.Stderr, "interrupted by SIGINT while copying into "+root+": no file is left half copied") {
		t.Errorf("Ctrl-C during the copy = exit %d; want 130 and a sentence\n%s", res.Code, res.Stderr)
	}
	if _, err := os.Lstat(half); err == nil {
		t.Errorf("the half copy %s is left in the root", half)
	}
	if _, err := os.Lstat(filepath.Join(root, big)); err == nil {
		t.Errorf("%s is in the root, whole or not, after a Ctrl-C during its copy", big)
	}
	// A copy a SIGKILL stopped: its half copy stays, and the next step 2
	// that writes into its directory removes it, though it copies another
	// program there.
	bin, err := securejoin.SecureJoin(root, "/bin")
	if err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(bin, ".perl.workshop-copy")
	if err := os.WriteFile(killed, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := step2(t, state, "", "--", "/bin/true"); res.Code != 0 || !strings.Contains(res.Stderr, `unlinkat(AT_FDCWD, "`+killed+`", 0) = 0`) {
		t.Errorf("step 2 after a killed copy = %d; want the half copy removed\n%s", res.Code, res.Stderr)
	}
	if _, err := os.Lstat(killed); err == nil {
		t.Errorf("the killed copy's %s is still in the root", killed)
	}
}

// Step 3 fills its root with step 2's copy when the command is not there:
// a Ctrl-C during that copy is 130 too (it was 125, the copy's status
// wrapped in step 3's failure to fill the root).
func TestCtrlCDuringStep3sCopy(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	big := bigProgram(t)
	r := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "3", "--", big)
	r.Stderr.WaitFor(t, `.big.workshop-copy", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0755) = `)
	r.Signal(syscall.SIGINT)
	if res := r.Wait(); res.Code != 130 || !strings.Contains(res.Stderr, "interrupted by SIGINT while copying into ") {
		t.Errorf("Ctrl-C during step 3's copy = exit %d; want 130 and a sentence\n%s", res.Code, res.Stderr)
	}
}

// What a kill -9 in the middle of a copy leaves in a root outside the
// state dir (--root), where clean looks at no root: the half copy, recorded
// while it was made, and removed by 'workshop clean' (an image packed from
// the root carried it). A copy that ends leaves no record.
func TestCleanRemovesAKilledCopy(t *testing.T) {
	testbin.NeedRoot(t)
	state, root := t.TempDir(), filepath.Join(t.TempDir(), "root")
	big := bigProgram(t)
	if res := step2(t, state, "", "--root", root, "--", "/bin/true"); res.Code != 0 {
		t.Fatalf("step 2 --root = %d\n%s", res.Code, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "pending")); !os.IsNotExist(err) {
		t.Errorf("a step 2 that ended left its records' directory: %v", err)
	}
	half, err := securejoin.SecureJoin(root, filepath.Join(filepath.Dir(big), ".big.workshop-copy"))
	if err != nil {
		t.Fatal(err)
	}
	r := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", state, "step", "2", "--root", root, "--bin", big, "--", "/bin/true")
	r.Stderr.WaitFor(t, `.big.workshop-copy", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0755) = `)
	r.Signal(syscall.SIGKILL)
	r.Wait()
	if _, err := os.Lstat(half); err != nil {
		t.Fatalf("the killed copy left no %s to clean: %v", half, err)
	}
	res := testbin.Run(t, "", "--no-color", "--state-dir", state, "clean")
	if res.Code != 0 || !strings.Contains(res.Stdout+res.Stderr, half+" (what a copy of step 2 killed halfway left in a root)") {
		t.Errorf("clean after a killed copy = %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if _, err := os.Lstat(half); err == nil {
		t.Errorf("clean left the half copy %s", half)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "pending")); len(entries) != 0 {
		t.Errorf("clean left records in pending/: %v", entries)
	}
}

// A half copy's name is the next copy's too: clean removes one a killed
// copy left only under the root's lock, and leaves it while a copy into
// that root (holding the lock) may be writing at that very name.
func TestCleanLeavesAHalfCopyNameInUse(t *testing.T) {
	testbin.NeedRoot(t)
	state, root := t.TempDir(), filepath.Join(t.TempDir(), "root")
	release := testbin.LockedDir(t, root, 0o755) // a copy into it, under way
	half := filepath.Join(root, ".bash.workshop-copy")
	if err := os.WriteFile(half, []byte("half"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The record a killed copy left: held by no process.
	if err := os.MkdirAll(filepath.Join(state, "pending"), 0o700); err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf(`{"path":%q,"lock":%q}`, half, root)
	if err := os.WriteFile(filepath.Join(state, "pending", "0123456789ab.json"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testbin.Run(t, "", "--no-color", "--state-dir", state, "clean")
	if _, err := os.Lstat(half); err != nil || res.Code != 0 || !strings.Contains(res.Stdout, "left "+half+": a copy into "+root+" is under way, at that name") {
		t.Errorf("clean while the root is locked = %d, the half copy: %v\n%s%s", res.Code, err, res.Stdout, res.Stderr)
	}
	release()
	res = testbin.Run(t, "", "--no-color", "--state-dir", state, "clean")
	if _, err := os.Lstat(half); err == nil || res.Code != 0 || !strings.Contains(res.Stdout, "removed "+half+" (what a copy of step 2 killed halfway left in a root)") {
		t.Errorf("clean once the root's lock is free = %d, the half copy still there: %v\n%s%s", res.Code, err == nil, res.Stdout, res.Stderr)
	}
}

// bigProgram is a program large enough that its copy takes several chunks
// (a window to signal the copy in): a script, its interpreter copied too,
// of 256 MiB, sparse on the host.
func bigProgram(t *testing.T) string {
	t.Helper()
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte("#!/bin/sh\necho big\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 256<<20); err != nil {
		t.Fatal(err)
	}
	return big
}

// slowLoaderProgram is a copy of bash (dynamically linked wherever
// workshop runs: every root of steps 2 to 4 has it) whose ELF interpreter is a
// script, of a path as long as the real one's, that writes its pid to
// pidFile and sleeps: asked by step 2 what the program needs, it takes its
// time, as a loader on a slow disk may.
func slowLoaderProgram(t *testing.T) (prog, pidFile string) {
	t.Helper()
	// Not skipped in CI, where bash is dynamic (a skip there would hide
	// the test's loss).
	cannot := t.Skipf
	if testbin.InCI() {
		cannot = t.Fatalf
	}
	interp, err := elfinterp.Of("/bin/bash")
	if err != nil || interp == "" {
		cannot("/bin/bash has no ELF interpreter (%v)", err)
	}
	dir, err := os.MkdirTemp("/tmp", "w")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pad := len(interp) - len(dir) - len("/l")
	if pad < 1 {
		cannot("the loader's path %s is too short to stand in for", interp)
	}
	script := dir + "/l" + strings.Repeat("d", pad)
	pidFile = filepath.Join(dir, "pid")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("/bin/bash")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(code, []byte(interp+"\x00")) != 1 {
		cannot("/bin/bash names its loader %s other than once", interp)
	}
	prog = filepath.Join(dir, "slow")
	if err := os.WriteFile(prog, bytes.Replace(code, []byte(interp+"\x00"), []byte(script+"\x00"), 1), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, pidFile
}

// loaderPid waits for the slow loader to write its pid.
func loaderPid(t *testing.T, pidFile string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
	}
	t.Fatal("the slow loader never started")
	return 0
}

// A Ctrl-C at the terminal while the loader lists a program's libraries
// reaches the loader and workshop both: workshop ends by it (nothing is
// made yet), not with the loader's death as a failure (it said "list the
// libraries of …: signal: interrupt: " and 125, when it lost the race).
// Step 4, which catches the signal already, says it was interrupted, with
// 128+n. A signal to the loader alone is its death, 125.
func TestStopSignalWhileTheLoaderLists(t *testing.T) {
	testbin.NeedRoot(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		step []string
	}{
		{syscall.SIGINT, []string{"step", "2", "--bin", "PROG", "--", "/bin/true"}},
		{syscall.SIGHUP, []string{"step", "2", "--bin", "PROG", "--", "/bin/true"}},
		{syscall.SIGINT, []string{"step", "4", "--", "PROG"}},
	} {
		prog, pidFile := slowLoaderProgram(t)
		args := []string{"--no-color", "--state-dir", t.TempDir()}
		for _, a := range tc.step {
			args = append(args, strings.ReplaceAll(a, "PROG", prog))
		}
		r := testbin.StartWithAttr(t, &syscall.SysProcAttr{Setpgid: true}, testbin.Bin(t), args...)
		loaderPid(t, pidFile)
		// As a terminal sends it: to the whole process group.
		if err := syscall.Kill(-r.Cmd.Process.Pid, tc.sig); err != nil {
			t.Fatal(err)
		}
		res := r.Wait()
		stopped := res.Signal == tc.sig || res.Code == 128+int(tc.sig) && strings.Contains(res.Stderr, "interrupted by "+sys.SignalName(tc.sig)+" while the loader listed the libraries of "+prog)
		if !stopped || strings.Contains(res.Stderr, "the dynamic loader, run with --list") || strings.Contains(res.Stderr, "signal: ") {
			t.Errorf("%s to the group while the loader lists (%s) = exit %d, signal %v; want workshop stopped by it, said as such\n%s", tc.sig, tc.step[:2], res.Code, res.Signal, res.Stderr)
		}
	}
	prog, pidFile := slowLoaderProgram(t)
	r := testbin.Start(t, "", testbin.Bin(t), "--no-color", "--state-dir", t.TempDir(), "step", "2", "--bin", prog, "--", "/bin/true")
	if err := syscall.Kill(loaderPid(t, pidFile), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if res := r.Wait(); res.Code != 125 || !strings.Contains(res.Stderr, "list the libraries of "+prog+": the dynamic loader, run with --list to name them, was killed by SIGTERM") {
		t.Errorf("SIGTERM to the loader alone = exit %d; want 125 and a sentence\n%s", res.Code, res.Stderr)
	}
}
