package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// Ctrl-\ (SIGQUIT) where no code of workshop catches it (here `workshop ps`,
// held in its read of the containers directory) quits with 131 and a
// sentence: not Go's dump of every goroutine's stack.
func TestQuitIsASentenceNotAStackDump(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		say  string
	}{
		{syscall.SIGQUIT, 131, "workshop: quit (SIGQUIT)\n"},
		// The fault signals kill(1) can send: Go answers them with the
		// same dump.
		{syscall.SIGABRT, 134, "workshop: stopped by SIGABRT, sent by another process\n"},
		{syscall.SIGSEGV, 139, "workshop: stopped by SIGSEGV, sent by another process\n"},
		{syscall.SIGTRAP, 133, "workshop: stopped by SIGTRAP, sent by another process\n"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) { quitByAnotherProcess(t, tc.sig, tc.code, tc.say) })
	}
}

func quitByAnotherProcess(t *testing.T, sig syscall.Signal, code int, say string) {
	state := t.TempDir()
	if err := os.Mkdir(filepath.Join(state, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	strace, args := testbin.Holding(t, "getdents64", 2*time.Second, "--state-dir", state, "ps")
	r := testbin.Start(t, "", strace, args...)
	time.Sleep(500 * time.Millisecond) // ps is held in its first getdents64
	if err := syscall.Kill(testbin.ChildOf(t, r.Cmd.Process.Pid), sig); err != nil {
		t.Fatal(err)
	}
	res := r.Wait()
	// (strace may add a line of its own about the held call.)
	if res.Code != code || !strings.Contains(res.Stderr, say) || strings.Contains(res.Stderr, "goroutine") || strings.Contains(res.Stderr, "PC=") {
		t.Errorf("%s to workshop ps = exit %d; want %d and one sentence, stderr:\n%s", sig, res.Code, code, res.Stderr)
	}
}

// A stop signal an image command caught after its work's last look at it
// (the image committed as Ctrl-C came) is said, with 128+n: it ended 0,
// silently, and the Ctrl-C was lost.
func TestImageOutcomeOfASignalAtTheEnd(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signalCause{syscall.SIGINT})
	err := imageOutcome(ctx, nil, "")
	if exit.Status(err) != 130 || err == nil || !strings.Contains(err.Error(), "interrupted by SIGINT: it came as the command ended, and what it did is done, and stays") {
		t.Errorf("imageOutcome(a SIGINT, no error) = %v (status %d), want 130 and a sentence", err, exit.Status(err))
	}
	if err := imageOutcome(context.Background(), nil, ""); err != nil {
		t.Errorf("imageOutcome(no signal, no error) = %v, want nil", err)
	}
}

// A Ctrl-C that comes as a lab check prints its report (held here in its
// first write) is said, with 130: the check's signal catching lasts to its
// end, and the signal was swallowed (exit 1, not done, nothing said).
func TestLabCheckSaysALateCtrlC(t *testing.T) {
	testbin.NeedRoot(t)
	// The check is done once its report's first write (to fd 1) is held.
	r, pid := testbin.StartHeldIn(t, "write", syscall.SYS_WRITE, time.Second, []uintptr{1}, "--state-dir", t.TempDir(), "lab", "1", "check", "--dir", t.TempDir())
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if res := r.Wait(); res.Code != 130 || !strings.Contains(res.Stderr, "interrupted by SIGINT: it came as the check ended: its report above is whole") {
		t.Errorf("a Ctrl-C as lab 1 check printed its report = exit %d; want 130 and its sentence\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
