// Package testbin is what the integration tests share: the workshop binary,
// built once per test process, and the helpers that run it and decide what a
// test does when it lacks root or a tool. Only _test.go files import it.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleRoot is the repository's top, found from this file's place in it.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Bin returns the path of a freshly built workshop binary. The binary lives in
// a temp dir that stays until the test process ends (TestMain may call Cleanup).
func Bin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("WORKSHOP_BIN"); p != "" {
			// The cgroup v2 VM runs tests against a binary built beforehand.
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "workshop-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "workshop")
		// -buildvcs=false: as real root in a checkout owned by someone else,
		// go build refuses to read its git state ("error obtaining VCS status").
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, "./cmd/workshop")
		cmd.Dir = moduleRoot()
		// Static, as scripts/bench, scripts/demo and the v2 VM build it.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build workshop: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if binPath != "" && os.Getenv("WORKSHOP_BIN") == "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// Main is the TestMain of a package whose tests run the binary: it runs the
// tests, removes the binary, and exits with the tests' status.
//
//	func TestMain(m *testing.M) { testbin.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// InCI reports whether this is a CI run, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedRoot skips a test that needs root when not root, except in CI
// (CI=true), where such a test must fail instead: CI is root, and a skipped
// test there would hide a broken setup.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatalf("this test needs root, and CI runs as root: something is wrong with the CI setup")
	}
	t.Skip("needs root (run the tests with sudo)")
}

// NeedTool returns the path of a host tool a test uses (strace, busybox…).
// CI installs them (scripts/install-deps), so there a missing tool fails.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("%s is not installed, and scripts/install-deps must install it", name)
	}
	t.Skipf("needs %s", name)
	return ""
}

// Result is what one run of the binary did.
type Result struct {
	Stdout, Stderr string
	Code           int
	// Signal is what killed the program when Code is -1 (a signal it did
	// not catch), for a failing test to say.
	Signal syscall.Signal
}

// Run runs the binary with args, stdin from the given string (not a
// terminal), and returns what it did. It fails the test if the binary could
// not be run at all or ran past five minutes.
func Run(t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	return RunEnv(t, nil, stdin, args...)
}

// RunEnv is Run with extra environment variables.
func RunEnv(t testing.TB, env []string, stdin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(Bin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewBufferString(stdin)
	return RunCmd(t, cmd, 5*time.Minute)
}

// RunCmd runs cmd (its stdin, env and dir set by the caller) to its end,
// captures its output, and returns what it did. It fails the test if cmd
// could not be run at all, or ran past limit (it is then killed).
func RunCmd(t testing.TB, cmd *exec.Cmd, limit time.Duration) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("run %q: %v", cmd.Args, err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("%q ran past %v; stderr:\n%s", cmd.Args, limit, errb.String())
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: exitCode(t, cmd, err)}
}

// exitCode is the exit code of cmd, whose Wait returned err; a Wait that
// failed otherwise fails the test.
func exitCode(t testing.TB, cmd *exec.Cmd, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %q: %v", cmd.Args, err)
	}
	return 0
}

// IntoHead runs the binary with args, its standard output a pipe of which
// the test reads the first ten bytes and then closes, as `| head -c 10`
// does, and returns what it did (Stdout: those bytes). It fails the test
// if the binary ran past a minute (it is then killed, alone: what its run
// made is the test's cleanup's to sweep): a run that goes on for ever once
// its reader is gone is the bug this looks for.
func IntoHead(t testing.TB, args ...string) Result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Bin(t), args...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("run %q: %v", cmd.Args, err)
	}
	w.Close()
	// From the start: a binary that never writes must not hang the test
	// in its read either (the kill ends its writers, and the read).
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	head := make([]byte, 10)
	n, _ := io.ReadFull(r, head)
	r.Close()
	err = cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("%q ran past a minute after the reader of its output had gone; stderr ends:\n%s", cmd.Args, LastLines(errb.String(), 15))
	}
	return Result{Stdout: string(head[:n]), Stderr: errb.String(), Code: exitCode(t, cmd, err)}
}

// LastLines is the last n lines of s: of a run's stderr, for a failure's
// message, where the first are its narration's start.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// RunAsNobody runs the binary as uid and gid 65534, as a student who forgot
// sudo, from /, and returns what it did. The binary is copied where nobody
// may run it (the built one's temp dir is private to root).
func RunAsNobody(t testing.TB, args ...string) Result {
	t.Helper()
	NeedRoot(t)
	dir, err := os.MkdirTemp("", "workshop-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "workshop")
	data, err := os.ReadFile(Bin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return RunCmd(t, cmd, time.Minute)
}
