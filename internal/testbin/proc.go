package testbin

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ChildOf finds the child of process pid (workshop's container or command;
// strace's workshop). Go forks from any of its threads, so every thread's
// children are read.
func ChildOf(t testing.TB, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			child, _ := strconv.Atoi(fields[0])
			return child
		}
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
