package sys

import (
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
