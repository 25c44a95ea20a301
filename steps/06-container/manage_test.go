package container

import (
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The note that a PID 1 drops a signal is for signals whose default
// action would end it, not for those ignored by default or that resume.
func TestKillsByDefault(t *testing.T) {
	for sig, want := range map[unix.Signal]bool{
		unix.SIGTERM: true, unix.SIGINT: true, unix.SIGALRM: true, unix.SIGUSR1: true,
		unix.SIGKILL: false, unix.SIGSTOP: false, unix.SIGCONT: false, unix.SIGCHLD: false, unix.SIGWINCH: false, unix.SIGURG: false,
	} {
		if got := killsByDefault(sig); got != want {
			t.Errorf("killsByDefault(%s) = %v, want %v", sys.SignalName(sig), got, want)
		}
	}
}

// The STATUS of ps -a for a container whose workshop is gone says what its
// run managed to tear down (teardown.finish clears the pid, the mounts and
// the cgroups it removed): only a killed run left them all.
func TestStatusOfEndedRuns(t *testing.T) {
	gone := 1 << 22 // no such pid
	for _, tc := range []struct {
		name string
		run  state.Run
		want string
	}{
		{"killed", state.Run{WorkshopPid: gone, Pid: 42, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, "left by a killed workshop"},
		{"killed, --keep", state.Run{WorkshopPid: gone, Keep: true, Pid: 42, Mounts: []string{"/m"}, Cgroups: []string{"/c"}}, "left by a killed workshop"},
		{"ended, --keep", state.Run{WorkshopPid: gone, Keep: true}, "ended, layer kept"},
		{"ended, cgroup left", state.Run{WorkshopPid: gone, Cgroups: []string{"/c"}}, "ended, its cgroup not removed ('workshop clean' removes it)"},
		{"ended, --keep, cgroup left", state.Run{WorkshopPid: gone, Keep: true, Cgroups: []string{"/c"}}, "ended, its cgroup not removed ('workshop clean' removes it)"},
		{"ended, processes left", state.Run{WorkshopPid: gone, ProcessesLeft: true, Mounts: []string{"/m"}, Dirs: []string{"/d"}, Cgroups: []string{"/c"}}, "ended, processes left in its cgroup ('workshop clean' kills them, then removes the rest)"},
	} {
		if got, running := Status(&tc.run); got != tc.want || running {
			t.Errorf("%s: Status = %q, %v; want %q, not running", tc.name, got, running, tc.want)
		}
	}
}
