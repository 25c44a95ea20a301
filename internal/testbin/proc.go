package testbin

import (
	"fmt"
	"os"
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
