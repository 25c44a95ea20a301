package container

import (
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/exit"
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

// A kill whose container's record went since kill read it (its workshop
// took it down meanwhile) says the container has ended, and sends nothing:
// it said it could not mark the record, then tried the signal.
func TestMarkKillOfARecordGone(t *testing.T) {
	dir := t.TempDir()
	r := &state.Run{ID: "0123456789ab", Name: "gone", Step: 6}
	if err := state.New(dir, r); err != nil {
		t.Fatal(err)
	}
	loaded, err := state.Load(dir, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(); err != nil {
		t.Fatal(err)
	}
	var narration strings.Builder
	err = markKill(sys.New(&narration, sys.Options{}), loaded, unix.SIGTERM)
	if exit.Status(err) != exit.ToolFailed || err.Error() != "container 0123456789ab has ended" || narration.Len() != 0 {
		t.Errorf("markKill of a forgotten record = %v (status %d), narration %q; want 125, \"has ended\", nothing said", err, exit.Status(err), narration.String())
	}
}
