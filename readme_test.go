package workshop

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// README's set-up block gives a newcomer exactly two commands: the demo,
// which builds workshop and runs the main job on the built-in image, and
// the tests (which CI runs: running them here would run this test again).
// The demo is run for real, in a state dir of its own.
func TestReadmeSetUp(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	set := regexp.MustCompile("(?s)## Set up\n.*?```\n(.*?)```").FindSubmatch(b)
	if set == nil {
		t.Fatal("README.md has no set-up block")
	}
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(string(set[1])), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	if len(cmds) != 2 || cmds[0] != "scripts/demo" || cmds[1] != "scripts/test" {
		t.Fatalf("README's set-up commands = %q, want scripts/demo and scripts/test", cmds)
	}

	testbin.NeedRoot(t)
	state := t.TempDir()
	// The demo's arguments go to `full run`: a state dir of the test's own,
	// and a shell reading its commands from stdin, as the demo's does
	// without a terminal.
	cmd := exec.Command(filepath.Join("scripts", "demo"), "--state-dir", state, "--quiet")
	cmd.Stdin = strings.NewReader("echo hi from the container; echo $$\n")
	r := testbin.RunCmd(t, cmd, 10*time.Minute)
	if r.Code != 0 || r.Stdout != "hi from the container\n1\n" {
		t.Errorf("scripts/demo = %d, stdout %q; want 0 and the shell's lines, as PID 1\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if m := testbin.MountsUnder(t, state); len(m) != 0 {
		t.Errorf("the demo left mounts: %v", m)
	}
	if left, _ := filepath.Glob(filepath.Join(state, "containers", "*")); len(left) != 0 {
		t.Errorf("the demo left container records: %v", left)
	}
}
