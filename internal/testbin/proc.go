package testbin

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/state"
)

// ChildOf finds the child of process pid (workshop's container or command;
// strace's workshop). Go forks from any of its threads, so every thread's
// children are read.
func ChildOf(t testing.TB, pid int) int {
	t.Helper()
	if kids := state.Children(pid); len(kids) > 0 {
		return kids[0]
	}
	t.Fatalf("process %d has no child", pid)
	return 0
}

// Holding is the command line of workshop ARGS… under strace -f, which
// holds every call of that name for delay on its way in: a window, made
// wide, for a test to act in while workshop or its child sets up. It
// returns strace's path and arguments; workshop is strace's child.
func Holding(t *testing.T, call string, delay time.Duration, args ...string) (string, []string) {
	t.Helper()
	strace := NeedTool(t, "strace")
	return strace, append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=" + call,
		"-e", fmt.Sprintf("inject=%s:delay_enter=%d", call, delay.Microseconds()), Bin(t)}, args...)
}

// StartHeldIn starts workshop ARGS… under strace, holding every call of
// that name for delay (Holding), and waits until workshop is held in one
// whose system call number is nr and whose first arguments are args. It
// returns strace running and workshop's pid, to signal it there.
func StartHeldIn(t *testing.T, call string, nr uintptr, delay time.Duration, args []uintptr, workshopArgs ...string) (*Running, int) {
	t.Helper()
	r, pid, ok := TryStartHeldIn(t, call, nr, delay, args, workshopArgs...)
	if !ok {
		t.Fatalf("workshop %s ended, never seen held in %s\n%s", strings.Join(workshopArgs, " "), call, r.Wait().Stderr)
	}
	return r, pid
}

// TryStartHeldIn is StartHeldIn, which reports false, with strace
// running or ended, where workshop ended before it was seen held: on a
// machine that stalls longer than the hold, a window missed.
func TryStartHeldIn(t *testing.T, call string, nr uintptr, delay time.Duration, args []uintptr, workshopArgs ...string) (*Running, int, bool) {
	t.Helper()
	strace, sargs := Holding(t, call, delay, workshopArgs...)
	r := Start(t, "", strace, sargs...)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if kids := state.Children(r.Cmd.Process.Pid); len(kids) > 0 && InSyscall(kids[0], nr, args...) {
			return r, kids[0], true // workshop, strace's child
		}
		if Ended(r.Cmd.Process.Pid) {
			return r, 0, false
		}
	}
	t.Fatalf("workshop %s was never held in %s", strings.Join(workshopArgs, " "), call)
	return nil, 0, false
}

// AwaitHeld waits until a thread of process pid is in system call nr
// (InSyscall), held there by Holding, and reports true; false where past
// says first that the process went by it unseen (ended, or narrated a
// later call): on a machine that stalls longer than the hold, a window
// missed. A minute of neither fails the test.
func AwaitHeld(t testing.TB, pid int, nr uintptr, past func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !InSyscall(pid, nr); time.Sleep(5 * time.Millisecond) {
		if past() {
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d was never held in system call %d", pid, nr)
		}
	}
	return true
}

// Ended reports whether process pid has ended: gone, or a zombie its
// parent has not waited for yet.
func Ended(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || deadState.Match(st)
}

// InSyscall reports whether a thread of process pid is in system call nr
// now, its first arguments args (/proc/PID/task/*/syscall): any thread, as
// a goroutine runs on any.
func InSyscall(pid int, nr uintptr, args ...uintptr) bool {
	want := fmt.Sprintf("%d ", nr)
	for _, a := range args {
		want += fmt.Sprintf("%#x ", a)
	}
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, p := range threads {
		if b, _ := os.ReadFile(p); strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// ClosedPipe runs workshop ARGS… with its stdout and stderr on one pipe,
// reads lines lines of it, then closes the pipe, as `workshop … 2>&1 |
// head -N` does, and returns how workshop ended: the test of a narration
// whose reader goes away while it is still written.
func ClosedPipe(t *testing.T, lines int, args ...string) *os.ProcessState {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Bin(t), args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	br := bufio.NewReader(r)
	for i := 0; i < lines; i++ {
		if _, err := br.ReadString('\n'); err != nil {
			break
		}
	}
	r.Close()
	cmd.Wait()
	return cmd.ProcessState
}

// ExecedPid waits for the narration line of prog's execve and returns the
// pid it names ([pid N] execve("PROG", …) = 0), killed at the test's end.
func ExecedPid(t testing.TB, r *Running, prog, line string) int {
	t.Helper()
	got := r.Stderr.WaitFor(t, line)
	m := regexp.MustCompile(`\[pid (\d+)\] execve\("` + regexp.QuoteMeta(prog) + `"`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no pid in %q", got)
	}
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// GoneWithin fails the test unless process pid, running a command whose
// name holds name, ends (or is a zombie nobody reaped yet) within d.
func GoneWithin(t testing.TB, pid int, name string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(b), name) {
			return // gone (or the pid is another process's by now)
		}
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(st), ") Z ") {
			return // dead, not yet reaped
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still ran %v after workshop was killed", name, pid, d)
		}
	}
}

// DescendantNamed waits up to d for a descendant of process pid whose
// command name (/proc/PID/comm) is comm, and returns it; at the test's end
// it is sent SIGKILL if it still runs comm (its pid may be another
// process's by then).
func DescendantNamed(t testing.TB, pid int, comm string, d time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if found := descendantNamed(pid, comm); found > 0 {
			t.Cleanup(func() {
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", found)); err == nil && strings.TrimSpace(string(b)) == comm {
					syscall.Kill(found, syscall.SIGKILL)
				}
			})
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("no descendant of process %d runs %s after %v", pid, comm, d)
		}
	}
}

func descendantNamed(pid int, comm string) int {
	for _, child := range state.Children(pid) {
		if c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); err == nil && strings.TrimSpace(string(c)) == comm {
			return child
		}
		if found := descendantNamed(child, comm); found > 0 {
			return found
		}
	}
	return 0
}

// Chmod sets mode on each path: a t.TempDir and its parent, private to
// root, opened to the unprivileged users a test runs something as.
func Chmod(t testing.TB, mode os.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

var deadState = regexp.MustCompile(`\) [ZX] `)

// Living lists the processes, not zombies, whose command line
// (/proc/PID/cmdline, its words each ended by a NUL) is cmdline: what a
// test left running, or a container's command seen from the host.
func Living(cmdline string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		st, err2 := os.ReadFile(d + "/stat")
		if err != nil || err2 != nil || string(b) != cmdline || deadState.Match(st) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
