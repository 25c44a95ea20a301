package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
)

// Ctrl-\ (SIGQUIT) where no code of workshop catches it (here `workshop ps`,
// held in its read of the containers directory) quits with 131 and a
// sentence: not Go's dump of every goroutine's stack.
func TestQuitIsASentenceNotAStackDump(t *testing.T) {
	state := t.TempDir()
	if err := os.Mkdir(filepath.Join(state, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	strace, args := testbin.Holding(t, "getdents64", 2*time.Second, "--state-dir", state, "ps")
	r := testbin.Start(t, "", strace, args...)
	time.Sleep(500 * time.Millisecond) // ps is held in its first getdents64
	if err := syscall.Kill(testbin.ChildOf(t, r.Cmd.Process.Pid), syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	res := r.Wait()
	// (strace may add a line of its own about the held call.)
	if res.Code != 131 || !strings.Contains(res.Stderr, "workshop: quit (SIGQUIT)\n") || strings.Contains(res.Stderr, "goroutine") || strings.Contains(res.Stderr, "SIGQUIT: quit") {
		t.Errorf("SIGQUIT to workshop ps = exit %d; want 131 and one sentence, stderr:\n%s", res.Code, res.Stderr)
	}
}
