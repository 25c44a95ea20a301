package stracecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// Syscalls are the calls strace records by default: every call a narrator
// method makes, and the clone family, which Check needs to tell processes
// from threads. A narrated call missing here makes Check fail, so add to it
// when the narrator learns a new call.
var Syscalls = []string{
	"capget", "capset", "chdir", "chroot", "close", "close_range", "copy_file_range", "execve", "fchdir", "fchmod",
	"fchown", "flock", "fsetxattr", "getdents64", "ioctl", "keyctl", "kill", "mkdirat", "mknodat", "mount",
	"newfstatat", "openat", "pidfd_open", "pidfd_send_signal", "pivot_root", "ppoll", "prctl", "read", "renameat", "rt_sigaction",
	"setgroups", "sethostname", "setns", "setresgid", "setresuid", "symlinkat", "syncfs",
	"umask", "umount2", "unlinkat", "unshare", "utimensat", "wait4", "write",
	"clone", "clone3", "fork", "vfork",
}

// Run runs the workshop binary with args under strace -f (stdin empty, not a
// terminal), checks its narration against strace's record with Compare, and
// returns what the run did. The narration is uncoloured (--no-color is put
// before args). It needs root for most steps, and strace (testbin.NeedTool).
func Run(t testing.TB, args ...string) testbin.Result {
	t.Helper()
	return RunInput(t, "", args...)
}

// RunInput is Run with stdin.
func RunInput(t testing.TB, stdin string, args ...string) testbin.Result {
	t.Helper()
	r, log := Trace(t, Syscalls, stdin, args...)
	Compare(t, r.Stderr, log, Syscalls)
	return r
}

// Trace runs the binary under strace -f recording the given syscalls and
// returns what the run did and strace's log, without comparing them.
func Trace(t testing.TB, syscalls []string, stdin string, args ...string) (testbin.Result, string) {
	t.Helper()
	strace := testbin.NeedTool(t, "strace")
	bin := testbin.Bin(t)
	logFile := filepath.Join(t.TempDir(), "strace.log")
	trace := append([]string(nil), syscalls...)
	trace = append(trace, "clone", "clone3", "fork", "vfork")
	sargs := []string{"-f", "-qq", "-s", "4096", "--pidns-translation", "-o", logFile,
		"-e", "trace=" + strings.Join(trace, ","), bin, "--no-color"}
	sargs = append(sargs, args...)
	cmd := exec.Command(strace, sargs...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("read strace's log: %v", err)
	}
	return r, string(log)
}

// Compare fails t unless Check passes, showing the narration on failure.
func Compare(t testing.TB, narration, straceLog string, traced []string) {
	t.Helper()
	if err := Check(narration, straceLog, traced); err != nil {
		t.Errorf("the narration does not match strace's record: %v\nnarration:\n%s", err, narration)
	}
	if err := CheckNothingHidden(narration, straceLog); err != nil {
		t.Errorf("the narration hides a call: %v\nnarration:\n%s", err, narration)
	}
}
