package cgroups

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
)

// Every kill call killEach makes is printed or counted, those that find
// their process already gone (ESRCH) too, and said apart: a count of the
// successful calls alone was lower than the calls made.
func TestKillEachCountsTheCallsThatFoundNoProcess(t *testing.T) {
	var live []*exec.Cmd
	for range shownKills + 2 {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		live = append(live, c)
	}
	defer func() {
		for _, c := range live {
			c.Process.Kill()
			c.Wait()
		}
	}()
	// Pids past pid_max, which no process can have: a reaped child's
	// pid could be another's by the time of the kill.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	gone := []int{pidMax + 1, pidMax + 2, pidMax + 3}
	var procs strings.Builder
	for _, c := range live {
		fmt.Fprintln(&procs, c.Process.Pid)
	}
	for _, pid := range gone {
		fmt.Fprintln(&procs, pid)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, procsFile), []byte(procs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var narration bytes.Buffer
	c := &Cgroup{n: sys.New(&narration, sys.Options{}), mode: V1, dirs: map[string]string{"pids": dir}}
	if err := c.killEach(); err != nil {
		t.Fatalf("killEach: %v\n%s", err, narration.String())
	}
	shown := regexp.MustCompile(`(?m)^kill\(\d+, SIGKILL\) = 0$`).FindAllString(narration.String(), -1)
	want := "==> … and 5 more kill(PID, SIGKILL) calls, one for each other process of the group, not shown (3 of them = -1 ESRCH: the process had already ended)"
	if len(shown) != shownKills || !strings.Contains(narration.String(), want+"\n") {
		t.Errorf("killEach of %d live processes and 3 gone printed %d kill lines and:\n%s\nwant %d lines, then %q", len(live), len(shown), narration.String(), shownKills, want)
	}
	for _, c := range live {
		if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("sleep %d: %v, want killed", c.Process.Pid, err)
		}
	}
	live = nil
}
