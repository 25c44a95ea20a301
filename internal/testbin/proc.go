package testbin

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
