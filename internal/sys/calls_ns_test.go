package sys

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWaitStatusString(t *testing.T) {
	for _, tc := range []struct {
		ws   unix.WaitStatus
		want string
	}{
		{0, "{WIFEXITED(s) && WEXITSTATUS(s) == 0}"},
		{3 << 8, "{WIFEXITED(s) && WEXITSTATUS(s) == 3}"},
		{unix.WaitStatus(unix.SIGTERM), "{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}"},
		{unix.WaitStatus(unix.SIGSEGV) | 0x80, "{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}"},
	} {
		if got := WaitStatusString(tc.ws); got != tc.want {
			t.Errorf("WaitStatusString(%#x) = %q, want %q", uint32(tc.ws), got, tc.want)
		}
	}
}

// ReadersGone tells a pipe whose reader lives from one whose readers are
// all closed, and narrates the ppoll as strace prints it.
func TestReadersGone(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	var out strings.Builder
	n := New(&out, Options{})
	if gone, err := n.ReadersGone(p[1]); err != nil || gone {
		t.Errorf("ReadersGone with the reader open = %v, %v; want false", gone, err)
	}
	unix.Close(p[0])
	if gone, err := n.ReadersGone(p[1]); err != nil || !gone {
		t.Errorf("ReadersGone with the reader closed = %v, %v; want true", gone, err)
	}
	want := fmt.Sprintf("ppoll([{fd=%d, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 0 (Timeout)\n"+
		"ppoll([{fd=%d, events=0}], 1, {tv_sec=0, tv_nsec=0}, NULL, 0) = 1 ([{fd=%d, revents=POLLERR}], left {tv_sec=0, tv_nsec=0})\n", p[1], p[1], p[1])
	if out.String() != want {
		t.Errorf("narration:\n%s\nwant:\n%s", out.String(), want)
	}
}

// DefaultSignals gives a signal back to SIG_DFL and keeps what was there;
// RestoreSignals puts it back. The narration names dispositions, not the
// handler's address, which moves with every build.
func TestDefaultAndRestoreSignals(t *testing.T) {
	var out strings.Builder
	n := New(&out, Options{})
	// SIGUSR1 has the Go runtime's handler, as every catchable signal does
	// in a Go program (here, the test binary).
	saved := DefaultSignals(unix.SIGUSR1)
	if err := n.ReportSet(saved); err != nil {
		t.Fatal(err)
	}
	var now kernelSigaction
	if err := rtSigaction(unix.SIGUSR1, nil, &now); err != nil || now.handler != sigDfl {
		t.Errorf("after DefaultSignals SIGUSR1's handler = %#x (%v), want SIG_DFL", now.handler, err)
	}
	if err := n.RestoreSignals(saved); err != nil {
		t.Fatal(err)
	}
	if err := rtSigaction(unix.SIGUSR1, nil, &now); err != nil || now.handler != saved[0].old.handler || now.handler <= sigIgn {
		t.Errorf("after RestoreSignals SIGUSR1's handler = %#x (%v), want the runtime's %#x", now.handler, err, saved[0].old.handler)
	}
	want := "rt_sigaction(SIGUSR1, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, {sa_handler=<the Go runtime's handler>, …}, 8) = 0\n" +
		"rt_sigaction(SIGUSR1, {sa_handler=<the Go runtime's handler>, …}, NULL, 8) = 0\n"
	if out.String() != want {
		t.Errorf("narration:\n%s\nwant:\n%s", out.String(), want)
	}
}
